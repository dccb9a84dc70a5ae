"""The one interface every feature of the dataset implements: built-ins (MFCC, frames, text) and plugins.

A feature extractor declares what it adds (`columns`, and their `datasets` types from
`features(settings)`, from which the Arrow types follow) and computes them for a session. The
features stage runs every selected extractor: a per-session one (`batched = False`) in a worker
process, one part file per session, so the extractor object and its settings must pickle and keep
no shared state; a batched one (`batched = True`, a GPU model such as the text encoder) in the
parent, over fixed chunks of sessions, so a resumed run batches exactly like an uninterrupted one.

Options: each extractor carries its own strict `options` model, validated from
`features.extractors.<name>` (built-ins and plugins alike), so a misspelled option is a config
error. `settings(config)` is what its values depend on, hashed into its part names: by default its
options; an extractor that also depends on another section says so there (`frames` adds `gaps`).

The same object serves the rest of the pipeline: `validate` runs its `check` on every published
row; the model reads `period_s` (how far apart a per-frame column's rows are) to time its inputs;
and `predict` (`edu_emotionnet.media_input`) runs `extract_causal` on a raw recording, the causal
form of `extract` (what falls into step t depends on the media up to the end of step t only), and
`missing` where the recording lacks the extractor's modality. The batch form serves offline
training and evaluation (a session-level normalisation may look ahead); the causal form is what a
stream can know, and an extractor without one cannot feed `predict`.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast

import numpy as np
import pyarrow as pa
from pydantic import BaseModel

from edu_affect_data.core.registry import RegistryError
from edu_affect_data.core.strict_config import NoOptions

if TYPE_CHECKING:
    import datasets

#: An extractor's settings: its config section (a pydantic model, hashed into part names).
S = TypeVar("S", bound=BaseModel)
#: A streaming model's step grid: session times (seconds, float32) -> the step index holding each.
StepOf = Callable[[np.ndarray], np.ndarray]


class ExtractorError(RegistryError):
    """An extractor that breaks the interface (unknown name, clashing columns, wrong values)."""


@dataclass(frozen=True)
class SessionInput:
    """What an extractor may read of a session: its media, window and words (recording seconds).

    Everything here is hashed into the session's part names, so a change of window or media file
    recomputes the parts and nothing else does (labels and splits are not inputs of features).
    """

    session_id: str
    corpus: str
    source_id: str
    start_s: float
    end_s: float
    audio_path: str | None
    video_path: str | None
    #: The speaker's part of the picture: left | right | full.
    video_region: str
    text: str
    #: (word, start_s, end_s) in recording seconds, as the manifest lists them.
    words: tuple[tuple[str, float, float], ...]
    #: The ingest's video pass (`media.store`): the region's proxy, where its clock starts, and the
    #: recording's frame classification. None for sessions whose video could not be decoded.
    proxy_path: str | None = None
    proxy_start_s: float | None = None
    frames_path: str | None = None
    #: The build folder the proxy and frame table lie in (absolute; None outside a build). Not
    #: hashed itself: those two paths are hashed relative to it, so a build folder moved with `mv`
    #: keeps its part names and reuses every part.
    build_dir: str | None = None

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def fingerprint_data(self) -> dict[str, Any]:
        """A JSON-able form of every field (the part-name hash input), build paths relative to `build_dir`."""
        data = asdict(self)
        build_dir = data.pop("build_dir")
        if build_dir is not None:
            for key in ("proxy_path", "frames_path"):
                if data[key] is not None:
                    data[key] = os.path.relpath(data[key], build_dir)
        return data


class FeatureExtractor(ABC, Generic[S]):
    """A feature of the dataset: its columns and types, how to compute them, how to check them.

    Subclasses set the class attributes and implement `features` and `extract` (per-session) or
    `extract_batch` (batched). Instances are stateless definitions: the registry holds one per name.
    """

    #: Registry name, also the selector in `features.extractors` and the part folder name.
    name: ClassVar[str]
    #: Dataset columns it adds, in order; never a session metadata column or another extractor's.
    #: An extractor whose columns follow its settings lists every column it may add here, and
    #: `column_sets` the sets `features(settings)` may declare (the built-in `frames`).
    columns: ClassVar[tuple[str, ...]]
    #: The session stream it serves (`vocabulary.MODALITIES`), or None for a derived feature.
    modality: ClassVar[str | None] = None
    #: True: `extract_batch` runs in the parent on chunks (GPU models); False: `extract` in workers.
    batched: ClassVar[bool] = False
    #: Its options model, validated from `features.extractors.<name>` (a strict pydantic model).
    options: ClassVar[type[BaseModel]] = NoOptions
    #: Numbers `extract` may return besides the columns; summed into the stage's stats.
    stats: ClassVar[tuple[str, ...]] = ()
    #: One sentence for the dataset card: what the columns hold and in which units.
    description: ClassVar[str] = ""

    def settings(self, config: Any) -> S:
        """What this extractor's values depend on, from a `PipelineConfig` (or the build's slice of it).

        The default is its validated options, `config.features.extractors[name]`.
        """
        return cast(S, config.features.extractors[self.name])

    @abstractmethod
    def features(self, settings: S, *, width: int | None = None) -> datasets.Features:
        """The `datasets` types of `columns`, in order.

        `width`: the embedding width of a model-dependent column when the caller already knows it
        (a trained run's); extractors without such a column ignore it.
        """

    def column_sets(self) -> tuple[tuple[str, ...], ...]:
        """Every column set `features(settings)` may declare, each a subsequence of `columns` (default: all)."""
        return (self.columns,)

    def runs_batched(self, settings: S) -> bool:
        """Whether these settings run `extract_batch` in the parent (default: the `batched` attribute)."""
        return self.batched

    def extract(self, session: SessionInput, settings: S) -> dict[str, Any]:
        """Column values of one session (runs in a worker process): numpy arrays, lists, scalars.

        Image columns take `{"bytes": jpeg, "path": None}` items. Keys besides `columns` must be
        declared in `stats`.
        """
        raise NotImplementedError(f"extractor {self.name!r} is batched: call extract_batch")

    def extract_batch(self, sessions: Sequence[SessionInput], settings: S) -> list[dict[str, Any]]:
        """Column values of each session, in order; per-session extractors map `extract`."""
        return [self.extract(session, settings) for session in sessions]

    def chunk_size(self, settings: S) -> int:
        """Sessions per part of a batched extractor (fixed, so resumed runs batch identically)."""
        return 32

    def close(self) -> None:
        """Free what `extract_batch` keeps loaded (a model); the stage calls it when done."""

    def period_s(self, settings: S, column: str) -> float | None:
        """Seconds between consecutive rows of `column` when it is a stream of frames at a fixed rate
        (row n covers [n, n + 1) periods from the session start); None: its elements carry their own
        times (frame_times, token times) or it is no stream. A column the model reads as its audio
        input must have one."""
        return None

    def extract_causal(self, session: SessionInput, settings: S, *, step_of: StepOf) -> dict[str, Any]:
        """The columns of one recording in causal form, for streaming prediction on raw media: a row
        timed in step t depends on the media up to the end of step t only. `step_of` is the model's
        grid: session times (seconds) -> the step that holds them.

        The default refuses: a batch value (normalised over the session, embedded from the whole
        transcript) could let the prediction at step t depend on what comes after it.
        """
        raise ExtractorError(
            f"feature extractor {self.name!r} ({self.modality}) declares no causal form: its values for step t could "
            "depend on the media after t, so it cannot feed a streamed prediction"
        )

    def missing(self, settings: S, features: datasets.Features) -> dict[str, Any]:
        """Values for a recording without this extractor's modality (the model masks them)."""
        raise ExtractorError(f"extractor {self.name!r} has no value for a recording without {self.modality}")

    def check(self, row: Mapping[str, pa.Scalar], duration_s: float) -> Iterator[tuple[str, str]]:
        """(check, message) for each broken promise of one published row (default: finite numbers)."""
        yield from finite_check(row, self.columns)


def finite_check(row: Mapping[str, pa.Scalar], columns: Sequence[str]) -> Iterator[tuple[str, str]]:
    """A `finite` violation for every column holding NaN or infinity (non-float columns pass)."""
    for column in columns:
        values = numbers_of(row[column])
        if values.size and not np.isfinite(values).all():
            yield "finite", f"{column} has {int((~np.isfinite(values)).sum())} non-finite values"


def numbers_of(value: pa.Scalar) -> np.ndarray:
    """Every floating-point number of a (nested) Arrow value, flattened; empty for other types."""
    storage = value.value if isinstance(value, pa.ExtensionScalar) else value
    if storage is None or not storage.is_valid:
        return np.zeros(0)
    array: pa.Array = pa.array([storage.as_py()], type=storage.type)
    while pa.types.is_list(array.type) or pa.types.is_large_list(array.type) or pa.types.is_fixed_size_list(array.type):
        array = array.flatten()
    if not pa.types.is_floating(array.type):
        return np.zeros(0)
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.float64)


def matrix_of(value: pa.Scalar) -> np.ndarray:
    """A row's `Array2D` value as a 2-D numpy array."""
    storage = value.value if isinstance(value, pa.ExtensionScalar) else value
    rows = storage.values
    if len(rows) == 0:
        return np.zeros((0, 0), np.float32)
    flat = rows.flatten().to_numpy(zero_copy_only=False)
    return flat.reshape(len(rows), -1)
