"""Pieces the corpus readers share: line errors, fallback word timing, unit placement, one manifest assembly.

Kept apart from the readers so IEMOCAP and MOSEI make the same choices in the same code: the same
fallback timing for unaligned text, the same rule for where the unit of an unreadable transcript
line goes (`locate_bad_line`), and the same accounting of problems and counts. Per-recording work
fans out with `edu_affect_data.core.parallel.map_all` (results in job order, so the output does not
depend on scheduling).
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
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


def readable_times(start_s: float, end_s: float) -> str | None:
    """Why a unit's `[start, end]` cannot be used as recording time (None: it can).

    One rule for transcripts and label files alike: finite, not before the recording starts,
    and forward.
    """
    if not (math.isfinite(start_s) and math.isfinite(end_s)):
        return f"time {start_s}-{end_s} is not a finite number"
    if start_s < 0:
        return f"start {start_s} is before the start of the recording"
    if end_s <= start_s:
        return f"end {end_s} is not after start {start_s}"
    return None


def same_unit(a: tuple[float, float], b: tuple[float, float]) -> float:
    """How much two intervals overlap, when they describe one unit, else 0.

    They do when the overlap covers at least half of the shorter one: the rule that also matches
    MOSEI label rows to transcript segments, whose times differ slightly between the two files.
    """
    overlap = min(a[1], b[1]) - max(a[0], b[0])
    return overlap if overlap > 0 and overlap >= 0.5 * min(a[1] - a[0], b[1] - b[0]) else 0.0


@dataclass(frozen=True)
class Span:
    """Where a unit lies in its recording, and its id when known."""

    unit_id: str | None
    start_s: float
    end_s: float


@dataclass(frozen=True)
class BadLine:
    """A transcript line that stands for a unit but does not parse, with whatever of it is readable."""

    line: int
    reason: str
    #: The unit id as the line writes it (None when there is none to read).
    written_id: str | None
    #: The unit id, when it is a well-formed id of this recording that no readable line has taken.
    unit_id: str | None
    #: The line's times, when both parse and `readable_times` accepts them.
    times: tuple[float, float] | None
    #: The line's text (tags removed), "" when it cannot be told apart.
    text: str


def locate_bad_line(bad: BadLine, readable: Sequence[tuple[int, Span]], free: Sequence[Span]) -> Span | None:
    """Where the unit of an unreadable transcript line is, so it keeps its place in its session.

    A unit never vanishes because its line is damaged: a missing unit would re-cut its speaker's
    sessions (a kept session turning into a gap, 47 candidates into 46) while the damage is only
    reported. The unit is found, in this order, from

    0. a readable line it repeats exactly (same id, same times): that line's unit;
    1. its readable id, when the corpus's label file lists it (`free`: label entries that no
       readable line took); times from the line when readable, else from the label entry;
    2. its readable times: the free label entry describing the same unit (`same_unit`), or, when
       none does but the id is readable, the line's own id and times;
    3. the only free label entry starting between the readable lines before and after it in the
       file (`readable`: line number and span of every readable line).

    The id is the label entry's when it has one, else the line's readable id.

    None when nothing places it: the caller then makes the problem a recording-level one, so every
    session of the recording is an `error` instead of one silently re-cut.
    """
    repeated = next((s for _, s in readable if (s.unit_id, (s.start_s, s.end_s)) == (bad.written_id, bad.times)), None)
    if repeated is not None:
        return repeated
    if bad.unit_id is not None:
        listed = next((s for s in free if s.unit_id == bad.unit_id), None)
        if listed is not None:
            start, end = bad.times or (listed.start_s, listed.end_s)
            return Span(bad.unit_id, start, end)
    if bad.times is not None:
        scored = [(same_unit(bad.times, (s.start_s, s.end_s)), s) for s in free]
        overlap, match = max(scored, key=lambda pair: pair[0], default=(0.0, None))
        if match is not None and overlap > 0:
            return Span(match.unit_id or bad.unit_id, *bad.times)
        if bad.unit_id is not None:
            return Span(bad.unit_id, *bad.times)
    before = max((s.start_s for n, s in readable if n < bad.line), default=-math.inf)
    after = min((s.start_s for n, s in readable if n > bad.line), default=math.inf)
    between = [s for s in free if before <= s.start_s <= after]
    if len(between) != 1:
        return None
    return Span(between[0].unit_id or bad.unit_id, between[0].start_s, between[0].end_s)


def claim(free: Sequence[Span], placed: Span) -> list[Span]:
    """The label entries of `free` still free once `placed` is: those of another id and other times."""
    return [
        s
        for s in free
        if not (s.unit_id is not None and s.unit_id == placed.unit_id)
        and not same_unit((s.start_s, s.end_s), (placed.start_s, placed.end_s))
    ]


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
