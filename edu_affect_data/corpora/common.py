"""Pieces the corpus readers share: line errors, fallback word timing, one manifest assembly.

Kept apart from the readers so IEMOCAP and MOSEI make the same choices in the same code: the same
fallback timing for unaligned text and the same accounting of problems and counts. Per-recording
work fans out with `edu_affect_data.core.parallel.map_all` (results in job order, so the output does not
depend on scheduling).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from edu_affect_data.corpora.records import (
    Corpus,
    CorpusManifest,
    Problem,
    Recording,
    Utterance,
    Word,
)

#: Bracketed non-speech tags in IEMOCAP transcriptions: `[LAUGHTER]`, `[BREATHING]`, `[GARBAGE]`.
_TAG = re.compile(r"\[[A-Za-z_ ]+\]")


class CorpusLayoutError(ValueError):
    """The folder given as a corpus root does not hold that corpus at all (nothing to report on)."""


class UnusableFile(ValueError):
    """A source file a reader cannot use at all: missing, empty, unreadable or undecodable.

    One exception for all four so every reader applies one rule to them: the file becomes a
    recording-level `Problem` naming it and the cause, and the recording's candidates become
    `error` rows (never a recording that vanishes from the manifest).
    """

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind} file" + (f": {detail}" if detail else ""))
        self.kind = kind  # missing | empty | unreadable | undecodable
        self.detail = detail

    def describe(self, what: str, consequence: str) -> str:
        """`'<kind> <what>: [<detail>; ]<consequence>'`, the reason text of the Problem."""
        return f"{self.kind} {what}: " + (f"{self.detail}; " if self.detail else "") + consequence


class LineError(ValueError):
    """One line of a source file that does not parse; the caller turns it into a `Problem`."""

    def __init__(self, line: int | None, reason: str) -> None:
        super().__init__(reason if line is None else f"line {line}: {reason}")
        self.line = line
        self.reason = reason


@dataclass
class RecordingResult:
    """What reading one recording (dialog or video) gives; merged in job order by the reader."""

    recording: Recording
    utterances: list[Utterance] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)


def read_source_text(path: Path) -> str:
    """The UTF-8 text of a source file, or `UnusableFile` saying why it cannot be used.

    A decode error names the byte offset and the 1-based line it falls on, so a user can find a
    single stray byte in a long transcript.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        if path.is_symlink():
            raise UnusableFile("missing", f"dangling symlink to {os.readlink(path)}") from None
        raise UnusableFile("missing") from None
    except OSError as exc:
        raise UnusableFile("unreadable", str(exc.strerror or exc)) from None
    if not data.strip():
        raise UnusableFile("empty", "" if not data else "only whitespace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UnusableFile(
            "undecodable",
            f"not UTF-8, byte 0x{data[exc.start]:02x} at offset {exc.start} (line {line})",
        ) from None


def strip_tags(text: str) -> str:
    """Transcript text without bracketed non-speech tags, whitespace collapsed."""
    return " ".join(_TAG.sub(" ", text).split())


def spread_words(text: str, start_s: float, end_s: float) -> tuple[Word, ...]:
    """Words of unaligned text laid evenly and contiguously over the utterance span.

    The fallback when no alignment exists (`word_timing="utterance"`): every word gets an equal
    share of the span, so their union is exactly the span (a transcript-coverage check sees the
    utterance as speech throughout) and token times stay monotonic. Positions inside the span are
    a guess; consumers must not treat them as aligned.
    """
    tokens = text.split()
    if not tokens:
        return ()
    step = (end_s - start_s) / len(tokens)
    return tuple(
        Word(
            token,
            round(start_s + i * step, 6),
            end_s if i == len(tokens) - 1 else round(start_s + (i + 1) * step, 6),
        )
        for i, token in enumerate(tokens)
    )


def is_hidden(path: Path) -> bool:
    """Dot-files such as macOS `._Ses01F_impro01.txt` resource forks shipped in some copies."""
    return path.name.startswith(".")


def merge_results(
    results: Iterable[RecordingResult],
) -> tuple[dict[str, Recording], list[Utterance], list[Problem], dict[str, int]]:
    """Recordings by id, utterances sorted by (recording, start, id), problems, skipped counts."""
    recordings: dict[str, Recording] = {}
    utterances: list[Utterance] = []
    problems: list[Problem] = []
    skipped: Counter[str] = Counter()
    for result in results:
        recordings[result.recording.recording_id] = result.recording
        utterances.extend(result.utterances)
        problems.extend(result.problems)
        skipped.update(result.skipped)
    utterances.sort(key=lambda u: (u.recording_id, u.start_s, u.utterance_id))
    return recordings, utterances, problems, {k: n for k, n in sorted(skipped.items()) if n}


def assemble_manifest(
    corpus: Corpus,
    root: Path,
    results: Iterable[RecordingResult],
    problems: list[Problem],
    skipped: Counter[str],
) -> CorpusManifest:
    """The reader's answer: per-recording results merged with the corpus-level problems and counts."""
    recordings, utterances, recording_problems, recording_skipped = merge_results(results)
    skipped = skipped + Counter(recording_skipped)
    return CorpusManifest(
        corpus=corpus,
        root=root,
        recordings=recordings,
        utterances=utterances,
        problems=problems + recording_problems,
        skipped={reason: n for reason, n in sorted(skipped.items()) if n},
    )
