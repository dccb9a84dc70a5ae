"""Feature extractors by name: the built-ins, the `edu_affect_data.features` entry points, and registrations.

A new feature is one module with a `FeatureExtractor` subclass and one registration: an entry
point in the plugin package's `pyproject.toml`,

    [project.entry-points."edu_affect_data.features"]
    rms = "my_package.rms:RmsExtractor"

or `register_extractor(RmsExtractor())` (tests, notebooks). It is then selected by name in
`features.extractors` with its options as the value (`features.extractors.<name>`, validated by its `options`). Built-ins are named
here as `module:attribute` strings, like the entry points, and imported only when used: the config
schema asks which names exist without importing every extractor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from edu_affect_data.core.registry import Registry
from edu_affect_data.stages.features.extractor import ExtractorError, FeatureExtractor

ENTRY_POINT_GROUP = "edu_affect_data.features"
#: The built-in extractors, `module:attribute` of their classes.
BUILTINS: dict[str, str] = {
    "mfcc": "edu_affect_data.stages.features.mfcc:MfccExtractor",
    "frames": "edu_affect_data.stages.features.frames:FramesExtractor",
    "text": "edu_affect_data.stages.features.text:TextExtractor",
    "egemaps": "edu_affect_data.stages.features.egemaps:EgemapsExtractor",
}
#: What a pipeline runs unless `features.extractors` says otherwise (the paper's three streams).
DEFAULT_EXTRACTORS: tuple[str, ...] = ("mfcc", "frames", "text")
#: Columns every dataset row has besides the features (`features.schema.metadata_features`).
METADATA_COLUMNS: tuple[str, ...] = (
    "session_id",
    "corpus",
    "speaker_id",
    "source_id",
    "video_region",
    "label_method",
    "start_s",
    "end_s",
    "label",
    "votes",
)

def _check(name: str, target: Any) -> FeatureExtractor:
    """A registered class is instantiated; the extractor must name itself `name` and own its columns."""
    extractor = target() if isinstance(target, type) else target
    if not isinstance(extractor, FeatureExtractor):
        raise ExtractorError(f"feature extractor {name!r} is not a FeatureExtractor: {extractor!r}")
    if extractor.name != name or not name:
        raise ExtractorError(f"feature extractor registered as {name!r} calls itself {extractor.name!r}")
    if not extractor.columns:
        raise ExtractorError(f"feature extractor {name!r} declares no columns")
    clash = set(extractor.columns) & set(METADATA_COLUMNS)
    if clash:
        raise ExtractorError(f"feature extractor {name!r} declares session metadata column(s) {sorted(clash)}")
    for columns in extractor.column_sets():
        if not columns or [c for c in extractor.columns if c in columns] != list(columns):
            raise ExtractorError(
                f"feature extractor {name!r}: column set {list(columns)} is not a non-empty subsequence "
                f"of its columns {list(extractor.columns)}"
            )
    return extractor


EXTRACTORS: Registry[FeatureExtractor] = Registry(
    "feature extractor", ENTRY_POINT_GROUP, _check, builtins=BUILTINS, error=ExtractorError, unknown=ExtractorError
)


def register_extractor(extractor: FeatureExtractor, *, replace: bool = False) -> FeatureExtractor:
    """Make `extractor` selectable by its name (programmatic registration, e.g. from a test)."""
    return EXTRACTORS.register(str(getattr(extractor, "name", "")), extractor, replace=replace)


def unregister_extractor(name: str) -> None:
    """Forget a programmatic registration (built-ins and entry points stay)."""
    EXTRACTORS.unregister(name)


def known_names() -> tuple[str, ...]:
    """Every selectable name (nothing is imported): built-ins, entry points, registrations."""
    return EXTRACTORS.names()


def is_builtin(name: str) -> bool:
    return name in BUILTINS and not EXTRACTORS.is_registered(name)


def get_extractor(name: str) -> FeatureExtractor:
    """The extractor registered as `name` (imported on first use)."""
    return EXTRACTORS.get(name)


def selected_extractors(names: Sequence[str]) -> list[FeatureExtractor]:
    """The extractors of `features.extractors`, in order, after checking no column is declared twice."""
    extractors = [get_extractor(name) for name in names]
    owner: dict[str, str] = {}
    for extractor in extractors:
        for column in extractor.columns:
            if column in owner:
                raise ExtractorError(
                    f"column {column!r} is declared by both {owner[column]!r} and {extractor.name!r}"
                )
            owner[column] = extractor.name
    return extractors


def all_extractors() -> list[FeatureExtractor]:
    """Every known extractor, loaded (for `validate`, which may meet any of them in a dataset)."""
    return [get_extractor(name) for name in known_names()]


def column_owner(column: str, names: Sequence[str]) -> FeatureExtractor:
    """The extractor among `names` that writes `column` (the model asks whose frames it reads)."""
    for extractor in selected_extractors(names):
        if column in extractor.columns:
            return extractor
    raise ExtractorError(f"no extractor of {', '.join(names) or 'none'} writes a column {column!r}")
