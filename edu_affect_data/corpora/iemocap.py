"""IEMOCAP reader: `IEMOCAP_full_release/` on disk -> `CorpusManifest` (see docs/FORMATS.md).

One recording per dialog (`Session*/dialog/wav/<dialog>.wav` + the side-by-side DivX AVI). Its
utterances come from `transcriptions/<dialog>.txt` (chronological, both actors), their labels from
`EmoEvaluation/<dialog>.txt`, their word times from `sentences/ForcedAlignment/<dialog>/<utt>.wdseg`.

Decisions a user of this reader must know:

* **Speaker** = session + the letter of the *last* id token: `Ses02M_script03_2_F017` is spoken by
  `Ses02_F`. The letter after `Ses02` names the actor wearing motion-capture markers, not the
  speaker (grouping on it leaks speakers across splits).
* **Video region**: the female actor is taken to be in the left half and the male in the right.
  The corpus does not document this; it is a heuristic from looking at the recordings.
* **`X` fragments** (`..._MXX3`): unlabelled speech. They are kept with `annotated=False` (their
  audio is speech for gap detection), speaker from the letter before the `X` when it is F/M,
  otherwise `<session>_unknown` (region `full`).
* **Words**: from the `.wdseg` alignment (`word_timing="aligned"`). Without one, the cleaned text
  is spread evenly over the utterance span (`word_timing="utterance"`, see `common.spread_words`).
* **Unusable transcription** (missing, empty, unreadable or not UTF-8: one rule): utterances (ids,
  times, labels) are recovered from EmoEvaluation with empty text, and a recording-level Problem
  names the file and the cause, so every session of the dialog is an `error` row. Utterances labelled in
  EmoEvaluation but absent from an existing transcription are left out (that is how a transcript
  hole looks) and counted in `skipped`.
* **A transcription line that does not parse** (a malformed id, unreadable or negative times, a
  repeated id) is a Problem naming file and line, and its utterance is never dropped: it is placed
  by `common.locate_bad_line` (its readable id, else its times, else the one unclaimed EmoEvaluation
  block between its neighbours), so its session becomes `error` and no session is re-cut. A line
  nothing places makes every session of the dialog `error`. Negative or backward times in
  EmoEvaluation are refused by the same rule (`common.readable_times`).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

from edu_affect_data.core.parallel import map_all
from edu_affect_data.corpora.common import (
    BadLine,
    CorpusLayoutError,
    LineError,
    RecordingResult,
    Span,
    UnusableFile,
    assemble_manifest,
    claim,
    is_hidden,
    locate_bad_line,
    read_source_text,
    readable_times,
    spread_words,
    strip_tags,
)
from edu_affect_data.corpora.emoeval import EmoBlock, EmoEvaluation, parse_emo_evaluation
from edu_affect_data.corpora.plugin import CorpusPlugin
from edu_affect_data.corpora.records import (
    CorpusManifest,
    Problem,
    Recording,
    SourceLabels,
    Utterance,
    VideoLayout,
    VideoRegion,
    Word,
    WordTiming,
)
from edu_affect_data.corpora.wdseg import read_wdseg

_DIALOG = re.compile(r"^(Ses\d+)[FM]_\w+$")
_SESSION_DIR = re.compile(r"^Session\d+$")
#: `[start-end]`; a negative time is read (and then refused by `readable_times`), not taken for a separator.
_TIMES = re.compile(r"\[\s*(-?\d+(?:\.\d+)?)\s*-\s*(-?\d+(?:\.\d+)?)\s*\]")
_TIMED_LINE = re.compile(rf"^(\S+)\s+{_TIMES.pattern}:\s?(.*)$")
_HAS_TIMES = re.compile(r"\[\s*-?[\d.]+\s*-\s*-?[\d.]+\s*\]")
_REGION: dict[str, VideoRegion] = {"F": "left", "M": "right"}


@dataclass(frozen=True)
class DialogJob:
    """Where one dialog's files live; picklable so dialogs can be read in worker processes."""

    dialog: str
    session: str  # `Ses02`, from the dialog name
    dialog_dir: Path  # Session2/dialog
    sentences_dir: Path  # Session2/sentences


@dataclass(frozen=True)
class Speaker:
    speaker_id: str
    region: VideoRegion
    annotated: bool


@dataclass(frozen=True)
class TranscriptLine:
    utterance_id: str
    start_s: float
    end_s: float
    text: str  # tags removed
    path: Path  # the file the line came from (EmoEvaluation when the transcription is missing)
    line: int


def read_iemocap(root: Path, *, executor: Executor | None = None) -> CorpusManifest:
    """Read every dialog under `root` (IEMOCAP_full_release/), one job per dialog on `executor`."""
    root = Path(root)
    jobs, problems, skipped = discover_dialogs(root)
    results = map_all(read_dialog, jobs, executor, describe=lambda job: f"IEMOCAP dialog {job.dialog}")
    return assemble_manifest("iemocap", root, results, problems, skipped)


def discover_dialogs(root: Path) -> tuple[list[DialogJob], list[Problem], Counter[str]]:
    """Dialogs named by any of their files (wav, avi, transcription, EmoEvaluation), sorted.

    A dialog is found from whichever of its files exists, so a missing file is reported for the
    dialog instead of the dialog vanishing.
    """
    sessions = session_folders(root)
    jobs: list[DialogJob] = []
    problems: list[Problem] = []
    skipped: Counter[str] = Counter()
    for session_dir in sessions:
        dialog_dir = session_dir / "dialog"
        sessions_of: dict[str, str] = {}  # dialog -> `Ses02`
        for folder, suffix in (
            ("wav", ".wav"),
            ("avi/DivX", ".avi"),
            ("transcriptions", ".txt"),
            ("EmoEvaluation", ".txt"),
        ):
            for path in sorted((dialog_dir / folder).glob(f"*{suffix}")):
                if is_hidden(path):
                    skipped["iemocap_hidden_files"] += 1
                elif match := _DIALOG.match(path.stem):
                    sessions_of[path.stem] = match.group(1)
                else:
                    problems.append(
                        Problem(str(path), None, f"{path.stem!r} is not an IEMOCAP dialog name")
                    )
        for dialog, session in sorted(sessions_of.items()):
            jobs.append(DialogJob(dialog, session, dialog_dir, session_dir / "sentences"))
    return jobs, problems, skipped


def session_folders(root: Path) -> list[Path]:
    """The `SessionN` folders holding a `dialog/` folder, sorted; `CorpusLayoutError` when there is none."""
    sessions = sorted(
        p for p in Path(root).glob("Session*") if _SESSION_DIR.match(p.name) and (p / "dialog").is_dir()
    )
    if not sessions:
        raise CorpusLayoutError(
            f"{root}: no Session*/dialog/ folders: not an IEMOCAP_full_release folder"
        )
    return sessions


def read_dialog(job: DialogJob) -> RecordingResult:
    """One dialog's recording, utterances and problems (runs in a worker)."""
    d = job.dialog_dir
    wav = d / "wav" / f"{job.dialog}.wav"
    avi = d / "avi" / "DivX" / f"{job.dialog}.avi"
    transcript = d / "transcriptions" / f"{job.dialog}.txt"
    emo_path = d / "EmoEvaluation" / f"{job.dialog}.txt"
    recording = Recording(
        corpus="iemocap",
        recording_id=job.dialog,
        audio_path=wav if wav.is_file() else None,
        video_path=avi if avi.is_file() else None,
        video_layout="side_by_side",
        transcript_path=transcript if transcript.is_file() else None,
        label_paths=(emo_path,) if emo_path.is_file() else (),
    )
    result = RecordingResult(recording)
    for path, what in (
        (wav, "dialog wav"),
        (avi, "dialog video"),
        (emo_path, "EmoEvaluation file"),
    ):
        if not path.is_file():
            result.problems.append(Problem(str(path), None, f"missing {what}", job.dialog))
    emo = parse_emo_evaluation(emo_path, job.dialog) if emo_path.is_file() else EmoEvaluation()
    result.problems.extend(emo.problems)
    result.skipped.update(emo.skipped)

    try:
        text = read_source_text(transcript)
    except UnusableFile as exc:
        result.problems.append(
            Problem(
                str(transcript),
                None,
                exc.describe("transcription", "utterances recovered from EmoEvaluation without text"),
                job.dialog,
            )
        )
        lines = [
            TranscriptLine(b.utterance_id, b.start_s, b.end_s, "", emo_path, b.line)
            for b in emo.blocks.values()
        ]
    else:
        lines = parse_transcription(text, transcript, job, emo, result)
        transcribed = {line.utterance_id for line in lines}
        result.skipped["iemocap_labelled_utterances_not_in_transcript"] += sum(
            1 for uid in emo.blocks if uid not in transcribed
        )
    if not lines:
        result.problems.append(
            Problem(
                str(transcript),
                None,
                "no utterance could be read from the transcription or EmoEvaluation",
                job.dialog,
            )
        )

    for line in lines:
        utterance = _utterance(job, line, emo.blocks.get(line.utterance_id), result)
        if utterance is not None:
            result.utterances.append(utterance)
    return result


def parse_transcription(
    text: str, path: Path, job: DialogJob, emo: EmoEvaluation, result: RecordingResult
) -> list[TranscriptLine]:
    """Timed lines of `transcriptions/<dialog>.txt` (its text, already read by `read_source_text`).

    A line with neither bracketed times nor an utterance id of this dialog is not an utterance
    (counted in `skipped`); a line with either that does not parse is a Problem, so damaged times
    are never mistaken for a non-utterance line. The unit of such a line is still placed
    (`common.locate_bad_line`, with the EmoEvaluation blocks as the label entries): its session
    becomes an `error` naming the file and line, and no session is re-cut around a missing unit.
    """
    dialog = job.dialog
    lines: list[TranscriptLine] = []
    bad: list[BadLine] = []
    seen: dict[str, TranscriptLine] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if not _HAS_TIMES.search(line) and not line.startswith(f"{dialog}_"):
            result.skipped["iemocap_transcript_lines_without_times"] += 1
            continue
        parsed = _read_line(line, number, path, job, seen)
        if isinstance(parsed, TranscriptLine):
            seen[parsed.utterance_id] = parsed
            lines.append(parsed)
        else:
            bad.append(parsed)
    readable = [(t.line, Span(t.utterance_id, t.start_s, t.end_s)) for t in lines]
    free = [
        Span(uid, b.start_s, b.end_s)
        for uid, b in emo.blocks.items()
        if uid not in seen and speaker_of(uid, dialog, job.session) is not None
    ]
    for damaged in bad:
        placed = locate_bad_line(damaged, readable, free)
        if placed is None or placed.unit_id is None:
            result.problems.append(Problem(str(path), damaged.line, f"{damaged.reason}; {_UNPLACED}", dialog))
            continue
        free = claim(free, placed)
        if placed.unit_id in seen:  # an exact repeat of a readable line: that unit is the damaged one
            result.problems.append(Problem(str(path), damaged.line, damaged.reason, dialog, placed.unit_id))
            continue
        reason = f"{damaged.reason} (placed as {placed.unit_id} at {placed.start_s:g}-{placed.end_s:g} s)"
        result.problems.append(Problem(str(path), damaged.line, reason, dialog, placed.unit_id))
        unit = TranscriptLine(placed.unit_id, placed.start_s, placed.end_s, damaged.text, path, damaged.line)
        seen[unit.utterance_id] = unit
        lines.append(unit)
    return lines


#: What happens to the unit of a line that nothing places (`locate_bad_line` found no position).
_UNPLACED = "its unit cannot be placed, so every session of the dialog is an error"


def _read_line(
    line: str, number: int, path: Path, job: DialogJob, seen: dict[str, TranscriptLine]
) -> TranscriptLine | BadLine:
    """One utterance line as a `TranscriptLine`, or, when it does not parse, what of it is readable."""
    dialog = job.dialog
    match = _TIMED_LINE.match(line)
    if match is not None:
        uid, start_text, end_text, words = match.groups()
        reason = ""
    else:
        guess = re.search(rf"{re.escape(dialog)}_\w+", line)
        uid = guess.group(0) if guess else None
        times = _TIMES.search(line)
        start_text, end_text = times.groups() if times else (None, None)
        words = line.split("]:", 1)[1] if "]:" in line else ""
        reason = f"malformed utterance line (want 'id [start-end]: text'): {line!r}"
    start, end = (float(start_text), float(end_text)) if start_text and end_text else (math.nan, math.nan)
    time_problem = readable_times(start, end) if start_text else "no readable times"
    id_ok = uid is not None and uid.startswith(f"{dialog}_") and speaker_of(uid, dialog, job.session) is not None
    if not reason:
        assert uid is not None
        if not uid.startswith(f"{dialog}_"):
            reason = f"utterance {uid} does not belong to dialog {dialog}"
        elif not id_ok:
            reason = f"cannot tell the speaker of {uid} (last token is not F/M + digits or an X fragment)"
        elif time_problem is not None:
            reason = time_problem
        elif uid in seen:
            reason = f"utterance {uid} listed twice (first at line {seen[uid].line})"
        else:
            return TranscriptLine(uid, start, end, strip_tags(words), path, number)
    return BadLine(
        number,
        reason,
        uid,
        uid if id_ok and uid not in seen else None,
        (start, end) if time_problem is None else None,
        strip_tags(words),
    )


def speaker_of(utterance_id: str, dialog: str, session: str) -> Speaker | None:
    """Speaker from the last id token (`F017` -> F; `MXX3` -> M, unannotated); None if unreadable."""
    token = utterance_id[len(dialog) + 1 :]
    if re.fullmatch(r"[FM]\d+", token):
        return Speaker(f"{session}_{token[0]}", _REGION[token[0]], annotated=True)
    if "X" in token:
        letter = token[0]
        if letter in _REGION:
            return Speaker(f"{session}_{letter}", _REGION[letter], annotated=False)
        return Speaker(f"{session}_unknown", "full", annotated=False)
    return None


def _utterance(
    job: DialogJob, line: TranscriptLine, block: EmoBlock | None, result: RecordingResult
) -> Utterance | None:
    speaker = speaker_of(line.utterance_id, job.dialog, job.session)
    if speaker is None:
        result.problems.append(
            Problem(
                str(line.path),
                line.line,
                f"cannot tell the speaker of {line.utterance_id} (last token is not F/M + digits or an X fragment)",
                job.dialog,
                line.utterance_id,
            )
        )
        return None
    words, timing = _words(job, line, result)
    labels: SourceLabels | None = block.labels if block is not None else None
    return Utterance(
        corpus="iemocap",
        utterance_id=line.utterance_id,
        recording_id=job.dialog,
        speaker_id=speaker.speaker_id,
        start_s=line.start_s,
        end_s=line.end_s,
        text=line.text,
        words=words,
        word_timing=timing,
        video_region=speaker.region,
        labels=labels,
        annotated=speaker.annotated,
    )


def _words(
    job: DialogJob, line: TranscriptLine, result: RecordingResult
) -> tuple[tuple[Word, ...], WordTiming]:
    path = job.sentences_dir / "ForcedAlignment" / job.dialog / f"{line.utterance_id}.wdseg"
    if path.is_file():
        try:
            return read_wdseg(path, line.start_s), "aligned"
        except LineError as exc:
            result.problems.append(
                Problem(str(path), exc.line, exc.reason, job.dialog, line.utterance_id)
            )
    return spread_words(line.text, line.start_s, line.end_s), "utterance"


CITATION = """\
@article{busso2008iemocap,
  title   = {{IEMOCAP}: Interactive emotional dyadic motion capture database},
  author  = {Busso, Carlos and Bulut, Murtaza and Lee, Chi-Chun and Kazemzadeh, Abe and Mower, Emily
             and Kim, Samuel and Chang, Jeannette N. and Lee, Sungbok and Narayanan, Shrikanth S.},
  journal = {Language Resources and Evaluation},
  volume  = {42},
  number  = {4},
  pages   = {335--359},
  year    = {2008}
}
"""

def dialog_layout(path: Path) -> VideoLayout | None:
    """A video named like an IEMOCAP dialog (`Ses01F_impro01.avi`) shows both actors side by side."""
    return "side_by_side" if _DIALOG.match(Path(path).stem) else None


#: The entry point `iemocap` (pyproject.toml, group `edu_affect_data.corpora`).
CORPUS = CorpusPlugin(
    name="iemocap",
    read=read_iemocap,
    title="IEMOCAP",
    description="USC SAIL's Interactive Emotional Dyadic Motion Capture database: ten actors in "
    "scripted and improvised dialogs, filmed side by side.",
    source_labels="`category`: the EmoEvaluation consensus code (neu hap sad ang exc fru sur fea "
    "dis oth xxx), the session's most frequent; `scores`: mean valence, activation and dominance "
    "(1-5).",
    citation=CITATION,
    licence="IEMOCAP is distributed by USC SAIL under its own release agreement.",
    video_layout_of=dialog_layout,
    check_layout=session_folders,
)
