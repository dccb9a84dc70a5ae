"""Which corpora a build reads: `corpora: {NAME: {root: PATH or null, ...reader options}}`.

Each entry names a registered `CorpusPlugin` (`corpora.registry`) and carries that plugin's reader
options, validated by the plugin's own strict options model, so a misspelled option is an error
naming `corpora.NAME.KEY`. The old shorthands (`NAME: PATH`, `mosei_speaker_map: PATH`) are
spelled out before validation.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from edu_affect_data.core.strict_config import ConfigError
from edu_affect_data.corpora.registry import CorpusRegistryError, get_corpus

#: Keys of the old flat `corpora:` section that are still read: `mosei_speaker_map: PATH` means
#: `mosei: {speaker_map: PATH}` (and `NAME: PATH` means `NAME: {root: PATH}`).
LEGACY_CORPUS_OPTIONS: dict[str, tuple[str, str]] = {"mosei_speaker_map": ("mosei", "speaker_map")}


class CorpusConfig(BaseModel):
    """One corpus to read: its folder and its reader's options, checked by the corpus's plugin.

    Extra keys are allowed here only because each corpus has its own options; `PipelineConfig`
    validates them against the plugin's strict options model, so a misspelled option is an error.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    root: Path | None = Field(..., description="The corpus folder; null skips the corpus.")

    @property
    def options(self) -> dict[str, Any]:
        """The reader options (validated and completed with their defaults)."""
        return dict(self.model_extra or {})


def normalise_corpora(raw: Any) -> Any:
    """The `corpora:` mapping with the old shorthands spelled out as `NAME: {root: ..., ...}`."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        return raw  # pydantic reports the type
    entries: dict[str, Any] = {}
    legacy: list[tuple[str, Any]] = []
    for key, value in raw.items():
        if key in LEGACY_CORPUS_OPTIONS:
            if value is not None:
                legacy.append((key, value))
        elif value is None or isinstance(value, (str, Path)):
            entries[key] = {"root": value}
        else:
            entries[key] = value
    for key, value in legacy:
        name, option = LEGACY_CORPUS_OPTIONS[key]
        entry = entries.setdefault(name, {"root": None})
        if isinstance(entry, Mapping):
            if option in entry:
                raise ValueError(f"corpora.{key} and corpora.{name}.{option} are both set; keep one")
            entries[name] = {**entry, option: value}
    return entries


def check_corpora(corpora: dict[str, CorpusConfig]) -> dict[str, CorpusConfig]:
    """Each entry names a registered corpus and carries valid reader options (defaults filled in)."""
    checked: dict[str, CorpusConfig] = {}
    for name, entry in corpora.items():
        try:
            plugin = get_corpus(name)
        except CorpusRegistryError as exc:
            raise ValueError(f"corpora.{name}: {exc}") from None
        options = plugin.parse_options(entry.options, f"corpora.{name}")
        values = {key: getattr(options, key) for key in type(options).model_fields}
        checked[name] = CorpusConfig(root=entry.root, **values)
    return checked


def corpus_roots(corpora: Mapping[str, CorpusConfig]) -> dict[str, Path]:
    """The corpora to read (root set), by name in sorted order: the order ingest reads them in."""
    return {name: Path(entry.root) for name, entry in sorted(corpora.items()) if entry.root is not None}


def check_out_outside_corpora(corpora: Mapping[str, CorpusConfig], out: Path) -> None:
    """Refuse a build folder inside (or equal to) a corpus folder, with a one-line `ConfigError`.

    Ingest fingerprints the corpus folders: the build's own files there would change that
    fingerprint on every run (ingest redone each time), and a reader could pick them up as corpus
    files. Symlinks are resolved on both sides.
    """
    target = Path(out).resolve()
    for name, root in corpus_roots(corpora).items():
        folder = root.resolve()
        if target == folder or folder in target.parents:
            raise ConfigError(
                f"--out {out} is inside corpora.{name}.root {root}: the build would change the corpus it reads; "
                "choose a build folder outside it"
            )
