"""Typed records every corpus reader returns.

Readers know the corpus formats; every later stage knows only these records, so a third corpus
needs a reader (and its `CorpusPlugin`) and nothing else. All times are seconds from the start of
the *recording* (the IEMOCAP dialog or the full MOSEI video), never from the start of an utterance
file. What only one corpus has travels in the `custom` mappings (lhotse's convention): generic
stages carry them through to the manifest without reading them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

#: A corpus's registered name (`iemocap`, `mosei`, or a plugin's): the key of its `CorpusPlugin`.
Corpus = str
#: How a recording's picture maps to speakers: IEMOCAP shows both actors side by side.
VideoLayout = Literal["side_by_side", "single"]
#: Which part of the frame shows a speaker: left/right half of a side-by-side video, or all of it.
VideoRegion = Literal["left", "right", "full"]
#: Where word times came from: a forced alignment / CSD, or the utterance span as a fallback.
WordTiming = Literal["aligned", "utterance"]


@dataclass(frozen=True, slots=True)
class Word:
    """A word and its times. Slotted: a corpus holds a hundred thousand of them (no dict per word)."""

    text: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class SourceLabels:
    """What the corpus itself says about an utterance (or, summarised, a session), in its own terms.

    One shape for every corpus so sessions, the manifest and the pre-annotation hooks need no
    per-corpus fields: IEMOCAP gives a consensus `category` and `valence`/`activation`/`dominance`
    scores, MOSEI seven named scores, a plugin whatever it has. The corpus's `CorpusPlugin` says
    what its names mean (dataset card) and how they suggest a class (pre-annotation).
    """

    #: A categorical code in the corpus's vocabulary (IEMOCAP `neu hap sad ang exc fru ...`).
    category: str | None = None
    #: Named numeric ratings (IEMOCAP `valence`, ...; MOSEI `sentiment`, `happy`, ...).
    scores: Mapping[str, float] = field(default_factory=dict)
    #: Anything else, JSON-serialisable (IEMOCAP: the evaluators' `evaluator_labels`).
    custom: Mapping[str, Any] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return self.category is None and not self.scores and not self.custom

    def to_json(self) -> str:
        """The manifest's `source_labels` cell: a JSON object with keys sorted (stable bytes)."""
        document: dict[str, Any] = {}
        if self.category is not None:
            document["category"] = self.category
        if self.scores:
            document["scores"] = {name: float(value) for name, value in self.scores.items()}
        if self.custom:
            document["custom"] = dict(self.custom)
        return json.dumps(document, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> SourceLabels | None:
        """The inverse of `to_json`; None for a null cell. A cell of another shape is an error."""
        if text is None:
            return None
        document = json.loads(text)
        unknown = set(document) - {"category", "scores", "custom"} if isinstance(document, dict) else None
        if not isinstance(document, dict) or unknown:
            raise ValueError(f"source_labels {text[:80]!r} is not a {{category, scores, custom}} object")
        return cls(
            category=document.get("category"),
            scores={str(k): float(v) for k, v in (document.get("scores") or {}).items()},
            custom=dict(document.get("custom") or {}),
        )


@dataclass(frozen=True)
class Recording:
    """One continuous media recording: an IEMOCAP dialog or a MOSEI full video."""

    corpus: Corpus
    recording_id: str
    audio_path: Path | None
    video_path: Path | None
    video_layout: VideoLayout
    #: The transcript file the utterances came from (reported when it is broken).
    transcript_path: Path | None = None
    #: Other files a session of this recording depends on (EmoEvaluation, CSD, ...).
    label_paths: tuple[Path, ...] = ()
    #: Corpus-specific fields of the recording, JSON-serialisable; copied into its sessions' `custom`.
    custom: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Utterance:
    """One speaker turn (IEMOCAP utterance) or one MOSEI segment."""

    corpus: Corpus
    utterance_id: str
    recording_id: str
    speaker_id: str
    start_s: float
    end_s: float
    text: str
    words: tuple[Word, ...] = ()
    word_timing: WordTiming = "utterance"
    #: Part of the frame that shows this speaker.
    video_region: VideoRegion = "full"
    labels: SourceLabels | None = None
    #: False for IEMOCAP `X` fragments: speech that counts as present but is never labelled.
    annotated: bool = True
    #: Corpus-specific fields of the unit, JSON-serialisable; listed per unit in the session's `custom`.
    custom: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Problem:
    """An unreadable file or line, reported instead of being skipped silently."""

    path: str
    line: int | None
    reason: str
    recording_id: str | None = None
    #: Set when the problem concerns one utterance only (e.g. a malformed EmoEvaluation line).
    utterance_id: str | None = None

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.reason}"


@dataclass
class CorpusManifest:
    """What a reader returns: recordings, utterances sorted by (recording, start), problems."""

    corpus: Corpus
    root: Path
    recordings: dict[str, Recording] = field(default_factory=dict)
    utterances: list[Utterance] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    #: Counts of things skipped on purpose (e.g. non-utterance transcript lines), by reason.
    skipped: dict[str, int] = field(default_factory=dict)
