"""What a corpus is to the pipeline: a reader with one signature, its options, and a few hooks.

A `CorpusPlugin` is everything corpus-specific the generic stages may need, in one object that the
reader module defines next to its reader and registers under a name (`corpora.registry`: the
entry-point group `edu_affect_data.corpora`, or `register_corpus`). Ingest, sessions, the manifest,
the annotation tasks and the dataset card then ask the plugin instead of knowing IEMOCAP or MOSEI:

* `read(root, *, executor=None, **options) -> CorpusManifest`, the options validated first by the
  plugin's `options` model (a strict pydantic model: an unknown option is a config error);
* `summarize_labels(units)`: a session's `SourceLabels` from its units' (manifest `source_labels`);
* `preannotate(labels, mapping)`: the class a session's source labels suggest to annotators;
* `session_custom(recording, units)`: the session's corpus-specific fields (manifest `custom`);
* `title`, `description`, `source_labels`, `citation`, `licence`: what the dataset card says;
* `synthetic(root)`: whether the corpus at `root` was generated (`edu-data synth`) rather than
  recorded, which the dataset card and the model report state first;
* `check_layout(root)`: raises `CorpusLayoutError` when `root` is not a folder of the corpus, from
  the folder's layout alone (no file parsed): the ingest reads the corpora one after the other, and
  asks every one before it reads the first, so a wrong folder fails the build at once;
* `video_layout_of(path)`: the layout of a video file named like one of the corpus's recordings
  (IEMOCAP's `Ses01F_impro01.avi` shows two actors side by side), None for any other name: how
  `edu-data predict` knows a raw recording needs a speaker's half (`--region`).

The defaults suit a corpus whose labels are a category code plus named scores.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from edu_affect_data.core.strict_config import NoOptions, parse_options
from edu_affect_data.core.vocabulary import SYNTH_TRUTH_FILE
from edu_affect_data.corpora.records import (
    CorpusManifest,
    Recording,
    SourceLabels,
    Utterance,
    VideoLayout,
)

#: A corpus name is a config key, a CLI `NAME=PATH` and the first part of session ids.
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
#: Keys of a `corpora.NAME` entry that are not reader options.
RESERVED_OPTIONS = frozenset({"root", "executor"})


#: The one reader signature, `read(root: Path, *, executor=None, **options) -> CorpusManifest`
#: (spelled loosely: each reader names its own keyword options).
Reader = Callable[..., CorpusManifest]


def most_frequent_category(units: Sequence[Utterance]) -> str | None:
    """Most frequent category code of the units; ties go to the code seen first in time."""
    codes = [u.labels.category for u in units if u.labels is not None and u.labels.category]
    return Counter(codes).most_common(1)[0][0] if codes else None


def mean_scores(units: Sequence[Utterance]) -> dict[str, float]:
    """Mean of each named score over the units that have it, names in order of first appearance."""
    values: dict[str, list[float]] = {}
    for unit in units:
        if unit.labels is not None:
            for name, value in unit.labels.scores.items():
                values.setdefault(name, []).append(float(value))
    return {name: sum(vs) / len(vs) for name, vs in values.items()}


def summarize_source_labels(units: Sequence[Utterance]) -> SourceLabels | None:
    """Default session summary: the most frequent category and the mean of each score.

    Unit `custom` labels are not summarised (they have no generic mean); None when no unit of the
    session carries labels.
    """
    summary = SourceLabels(category=most_frequent_category(units), scores=mean_scores(units))
    return None if summary.is_empty() else summary


def synthetic_truth(folder: Path) -> Path | None:
    """The `synth_truth.json` in `folder` or the nearest folder above it, if any: what `edu-data synth`
    writes beside the corpora it generates (one level above each corpus root)."""
    for candidate in (folder, *folder.parents):
        if (candidate / SYNTH_TRUTH_FILE).is_file():
            return candidate / SYNTH_TRUTH_FILE
    return None


def beside_synthetic_truth(root: Path) -> bool:
    """Default `CorpusPlugin.synthetic`: a `synth_truth.json` in the corpus folder or a folder above."""
    return synthetic_truth(Path(root)) is not None


def preannotate_category(labels: SourceLabels, mapping: Mapping[str, str]) -> str | None:
    """Default pre-annotation: the configured class of the session's category code, if any."""
    return mapping.get(labels.category) if labels.category else None


def session_custom(recording: Recording, units: Sequence[Utterance]) -> dict[str, Any]:
    """Default session `custom`: the recording's fields and each unit's, only where there are any."""
    custom: dict[str, Any] = {}
    if recording.custom:
        custom["recording"] = dict(recording.custom)
    per_unit = {u.utterance_id: dict(u.custom) for u in units if u.custom}
    if per_unit:
        custom["units"] = per_unit
    return custom


def no_layout_check(root: Path) -> None:
    """Default `CorpusPlugin.check_layout`: nothing to check before reading; the reader reports."""


def no_layout_from_name(path: Path) -> VideoLayout | None:
    """Default `CorpusPlugin.video_layout_of`: a file name says nothing of its layout."""
    return None


@dataclass(frozen=True)
class CorpusPlugin:
    """One corpus: its reader, the reader's options model and the corpus-specific hooks."""

    #: Registered name (config key `corpora.NAME`, `--corpus NAME=PATH`, `Recording.corpus`).
    name: str
    read: Reader
    #: Human name for the dataset card, e.g. "CMU-MOSEI".
    title: str
    #: One sentence for the card: what the corpus is.
    description: str
    #: One sentence for the card: what its `SourceLabels` (category, scores, custom) hold.
    source_labels: str
    #: The reader's options besides `root` (a `StrictModel`: unknown keys are errors).
    options: type[BaseModel] = NoOptions
    #: BibTeX entries the dataset card cites; "" when there is nothing to cite.
    citation: str = ""
    #: Terms of use the dataset card repeats; "" when there are none.
    licence: str = ""
    summarize_labels: Callable[[Sequence[Utterance]], SourceLabels | None] = summarize_source_labels
    preannotate: Callable[[SourceLabels, Mapping[str, str]], str | None] = preannotate_category
    session_custom: Callable[[Recording, Sequence[Utterance]], dict[str, Any]] = session_custom
    synthetic: Callable[[Path], bool] = beside_synthetic_truth
    check_layout: Callable[[Path], object] = no_layout_check
    video_layout_of: Callable[[Path], VideoLayout | None] = no_layout_from_name

    def __post_init__(self) -> None:
        if not NAME_PATTERN.match(self.name):
            raise ValueError(f"corpus name {self.name!r} must match {NAME_PATTERN.pattern}")
        clash = RESERVED_OPTIONS & set(self.options.model_fields)
        if clash:
            raise ValueError(f"corpus {self.name}: options may not be called {sorted(clash)}")

    def parse_options(self, options: Mapping[str, Any], where: str | None = None) -> BaseModel:
        """The reader options validated by `options`; errors name `where.KEY` (default `corpora.NAME`)."""
        return parse_options(self.options, options, where or f"corpora.{self.name}", f"corpus {self.name}")

    def read_corpus(
        self, root: Path, *, executor: Executor | None = None, **options: Any
    ) -> CorpusManifest:
        """Validate `options`, read the corpus at `root`, check the reader named it correctly."""
        parsed = self.parse_options(options)
        values = {name: getattr(parsed, name) for name in type(parsed).model_fields}
        manifest = self.read(Path(root), executor=executor, **values)
        wrong = {r.corpus for r in manifest.recordings.values()} | {u.corpus for u in manifest.utterances}
        wrong |= {manifest.corpus}
        wrong.discard(self.name)
        if wrong:
            raise ValueError(f"corpus {self.name}: its reader labelled records as {sorted(wrong)}")
        return manifest
