"""Typed records every corpus reader returns.

Readers know the corpus formats; every later stage knows only these records, so a third corpus
needs a reader and nothing else. All times are seconds from the start of the *recording* (the
IEMOCAP dialog or the full MOSEI video), never from the start of an utterance file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Corpus = Literal["iemocap", "mosei"]
#: How a recording's picture maps to speakers: IEMOCAP shows both actors side by side.
VideoLayout = Literal["side_by_side", "single"]
#: Which part of the frame shows a speaker: left/right half of a side-by-side video, or all of it.
VideoRegion = Literal["left", "right", "full"]
#: Where word times came from: a forced alignment / CSD, or the utterance span as a fallback.
WordTiming = Literal["aligned", "utterance"]


@dataclass(frozen=True)
class Word:
    text: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class SourceLabels:
    """What the corpus itself says about an utterance; used for pre-annotations and reports."""

    #: IEMOCAP consensus code (`neu hap sad ang exc fru sur fea dis oth xxx`); None for MOSEI.
    category: str | None = None
    #: IEMOCAP valence/activation/dominance averages (1.0-5.5).
    vad: tuple[float, float, float] | None = None
    #: IEMOCAP categorical evaluator labels (`C-E*` lines), flattened, full words.
    evaluator_labels: tuple[str, ...] = ()
    #: MOSEI's 7 columns: sentiment, happy, sad, anger, surprise, disgust, fear.
    mosei: dict[str, float] | None = None


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
