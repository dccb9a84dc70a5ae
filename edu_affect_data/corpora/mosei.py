"""CMU-MOSEI reader: the raw release plus the labels/words `.csd` files -> `CorpusManifest`.

One recording per video (`Raw/Audio/Full/WAV_16000/<vid>.wav`, `Raw/Videos/Full/Combined/<vid>.mp4`);
one utterance per segment of `Raw/Transcript/Segmented/Combined/<vid>.txt`
(`<vid>___<seg>___<start>___<end>___<text>`), labelled from `CMU_MOSEI_Labels.csd` and timed from
`CMU_MOSEI_TimestampedWords.csd` (see `mosei_align` for how rows are matched to segments).

Decisions a user of this reader must know:

* **Layout**: `root` may hold `Raw/` (or `CMU_MOSEI/Raw/`, or be the raw folder itself); the .csd
  files are looked for in `root`, then one folder down (`CMU_MOSEI/`, `Labels/`, ...).
* **Video ids** are taken whole from file names and CSD keys, never split on `_` or `-` (YouTube ids
  contain both and may start with `-`); transcript lines are parsed by stripping the known
  `<vid>___` prefix, so ids ending in `_` and text containing `___` both survive.
* **Speaker** = `mosei_<vid>` (MOSEI publishes no speaker ids; one speaker per video is the
  documented assumption) unless a `video_id,speaker_id` CSV maps videos of one person together.
* **Words**: from the words CSD when it has the video (`word_timing="aligned"`, `sp` dropped),
  else the text spread evenly over the segment (`"utterance"`).
* **Unusable segmented transcript** (missing, empty, unreadable or not UTF-8: one rule) while the
  labels CSD has the video: segments are rebuilt from the label intervals with empty text and a
  recording-level Problem names the file and the cause (the video's sessions are `error` rows).
* **Unreadable .csd** (truncated HDF5, wrong layout): every video gets a recording-level Problem
  naming the file, so its sessions are `error` rows instead of silently unlabelled or evenly timed.
* **A transcript line that does not parse** (index, times, layout; a negative start too) is a
  Problem naming file and line, and its segment is never dropped: `common.locate_bad_line` places
  it (readable times, else the labels CSD row no readable line describes), so its session becomes
  `error` and no session is re-cut; a line nothing places makes every session of the video `error`.
  Label rows and word times are held to the same time rule (`common.readable_times`).
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import Executor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from edu_affect_data.core.parallel import map_all
from edu_affect_data.core.strict_config import StrictModel
from edu_affect_data.corpora.common import (
    BadLine,
    CorpusLayoutError,
    RecordingResult,
    Span,
    UnusableFile,
    assemble_manifest,
    claim,
    is_hidden,
    locate_bad_line,
    read_source_text,
    readable_times,
    same_unit,
    spread_words,
)
from edu_affect_data.corpora.csd import (
    CsdEntry,
    CsdError,
    CsdReader,
    keys_by_video,
    read_metadata,
    split_key,
)
from edu_affect_data.corpora.mosei_align import (
    LABEL_COLUMNS,
    LabelRow,
    Segment,
    assign_words,
    label_rows,
    match_labels,
    segments_from_labels,
    unplaceable_words,
)
from edu_affect_data.corpora.plugin import CorpusPlugin
from edu_affect_data.corpora.records import (
    CorpusManifest,
    Problem,
    Recording,
    SourceLabels,
    Utterance,
    Word,
)

LABELS_CSD = "CMU_MOSEI_Labels.csd"
WORDS_CSD = "CMU_MOSEI_TimestampedWords.csd"
_AUDIO = Path("Audio/Full/WAV_16000")
_VIDEO = Path("Videos/Full/Combined")
_TRANSCRIPT = Path("Transcript/Segmented/Combined")
#: Videos per executor job (one open of each .csd per batch).
BATCH_VIDEOS = 32
#: A .csd opened for a batch: the reader, why it could not be opened, or None when not needed.
OpenCsd = CsdReader | str | None


class SpeakerMapError(ValueError):
    """A speaker-map CSV line that cannot be used; the message names file and line."""


@dataclass(frozen=True)
class MoseiLayout:
    raw: Path  # the folder holding Audio/, Videos/, Transcript/
    labels_csd: Path | None
    words_csd: Path | None


@dataclass(frozen=True)
class VideoJob:
    """Everything one video's read needs; picklable so videos can be read in worker processes."""

    video_id: str
    speaker_id: str
    layout: MoseiLayout
    label_keys: tuple[str, ...]
    word_keys: tuple[str, ...]
    #: Why a CSD the video depends on could not be read at all: a recording Problem each.
    broken_csds: tuple[Problem, ...] = ()


def read_mosei(
    root: Path, *, speaker_map: Path | None = None, executor: Executor | None = None
) -> CorpusManifest:
    """Read every video under `root`, one job per video on `executor`."""
    root = Path(root)
    layout = resolve_layout(root)
    speakers = read_speaker_map(speaker_map) if speaker_map is not None else {}
    problems: list[Problem] = []
    skipped: Counter[str] = Counter()
    broken: list[Problem] = []
    label_keys = _csd_keys(layout.labels_csd, broken)
    if not broken:
        problems.extend(_check_label_columns(layout.labels_csd))
    word_keys = _csd_keys(layout.words_csd, broken)
    if layout.labels_csd is None:
        problems.append(
            Problem(
                str(root / LABELS_CSD),
                None,
                "labels CSD not found (looked in the root and one folder down): segments carry no labels",
            )
        )
    video_ids = _discover_videos(layout.raw, label_keys, skipped)
    if not video_ids:
        problems.extend(broken)  # nothing to pin them on: report them for the corpus
    known = set(video_ids)
    skipped["mosei_speaker_map_rows_for_unknown_videos"] += sum(
        1 for vid in speakers if vid not in known
    )
    jobs = [
        VideoJob(
            vid,
            speakers.get(vid, f"mosei_{vid}"),
            layout,
            tuple(label_keys.get(vid, ())),
            tuple(word_keys.get(vid, ())),
            tuple(broken),
        )
        for vid in video_ids
    ]
    batches = [tuple(jobs[i : i + BATCH_VIDEOS]) for i in range(0, len(jobs), BATCH_VIDEOS)]
    read = map_all(read_video_batch, batches, executor, describe=_describe_batch)
    results = [r for batch in read for r in batch]
    return assemble_manifest("mosei", root, results, problems, skipped)


def _describe_batch(batch: tuple[VideoJob, ...]) -> str:
    return f"MOSEI videos {batch[0].video_id}..{batch[-1].video_id}"


def resolve_layout(root: Path) -> MoseiLayout:
    """Find the raw folder and the two .csd files under a user-given root."""
    candidates = [root / "Raw", root / "CMU_MOSEI" / "Raw", root / "CMU_MOSEI", root]
    raw = next(
        (
            c
            for c in candidates
            if any((c / part).is_dir() for part in ("Audio", "Videos", "Transcript"))
        ),
        None,
    )
    if raw is None:
        raise CorpusLayoutError(
            f"{root}: no Raw/ (or CMU_MOSEI/) folder with Audio/, Videos/ or Transcript/: not a CMU-MOSEI folder"
        )
    return MoseiLayout(raw, find_csd(root, LABELS_CSD), find_csd(root, WORDS_CSD))


def find_csd(root: Path, name: str) -> Path | None:
    """`root/name`, else the one `root/*/name`; two copies one level down are ambiguous (error)."""
    if (root / name).is_file():
        return root / name
    found = sorted(p for p in root.glob(f"*/{name}") if p.is_file())
    if len(found) > 1:
        raise CorpusLayoutError(
            f"{root}: several copies of {name}: {[str(p) for p in found]}; keep one"
        )
    return found[0] if found else None


def read_speaker_map(path: Path) -> dict[str, str]:
    """`video_id,speaker_id` rows (an optional header with those names); errors name file:line."""
    mapping: dict[str, str] = {}
    first_line: dict[str, int] = {}
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise SpeakerMapError(f"{path}: cannot read speaker map: {exc}") from exc
    with handle:
        try:
            rows = list(csv.reader(handle))
        except UnicodeDecodeError as exc:
            raise SpeakerMapError(f"{path}: cannot read speaker map: not UTF-8 text ({exc.reason})") from exc
        for number, row in enumerate(rows, start=1):
            cells = [cell.strip() for cell in row]
            if not any(cells):
                continue
            if number == 1 and cells == ["video_id", "speaker_id"]:
                continue
            if len(cells) != 2 or not all(cells):
                raise SpeakerMapError(
                    f"{path}:{number}: want 'video_id,speaker_id', got {','.join(row)!r}"
                )
            video_id, speaker_id = cells
            if video_id in mapping and mapping[video_id] != speaker_id:
                raise SpeakerMapError(
                    f"{path}:{number}: video {video_id} mapped to {speaker_id!r}, but to {mapping[video_id]!r} at line {first_line[video_id]}"
                )
            mapping[video_id] = speaker_id
            first_line.setdefault(video_id, number)
    return mapping


def read_video_batch(jobs: tuple[VideoJob, ...]) -> list[RecordingResult]:
    """Several videos, each .csd opened once for all of them (runs in a worker).

    Opening an HDF5 file costs about a millisecond and the real words CSD is large, so videos
    travel in batches of `BATCH_VIDEOS` instead of one open per video.
    """
    layout = jobs[0].layout
    with ExitStack() as stack:
        labels = _open_csd(layout.labels_csd, any(j.label_keys for j in jobs), stack)
        words = _open_csd(layout.words_csd, any(j.word_keys for j in jobs), stack)
        return [read_video(job, labels, words) for job in jobs]


def read_video(job: VideoJob, labels_csd: OpenCsd, words_csd: OpenCsd) -> RecordingResult:
    """One video's recording and segments with labels and words."""
    vid, raw = job.video_id, job.layout.raw
    audio = raw / _AUDIO / f"{vid}.wav"
    video = raw / _VIDEO / f"{vid}.mp4"
    transcript = raw / _TRANSCRIPT / f"{vid}.txt"
    label_paths = tuple(p for p in (job.layout.labels_csd, job.layout.words_csd) if p is not None)
    recording = Recording(
        corpus="mosei",
        recording_id=vid,
        audio_path=audio if audio.is_file() else None,
        video_path=video if video.is_file() else None,
        video_layout="single",
        transcript_path=transcript if transcript.is_file() else None,
        label_paths=label_paths,
    )
    result = RecordingResult(recording)
    # A CSD that cannot be read at all (truncated HDF5, ...) hits every video: without it the
    # words would silently fall back to even spreading (or the labels vanish) while sessions stay
    # `kept`, so each video gets the Problem and its sessions become `error` rows.
    result.problems.extend(
        Problem(p.path, p.line, p.reason, vid) for p in job.broken_csds
    )
    for path, what in ((audio, "full-video wav"), (video, "full video")):
        if not path.is_file():
            result.problems.append(Problem(str(path), None, f"missing {what}", vid))

    rows = _label_rows(job, labels_csd, result)
    try:
        text = read_source_text(transcript)
    except UnusableFile as exc:
        consequence = (
            "segments rebuilt from the labels CSD without text" if rows else "no labels either: no segments"
        )
        result.problems.append(
            Problem(str(transcript), None, exc.describe("segmented transcript", consequence), vid)
        )
        segments = segments_from_labels(vid, rows) if rows else []
    else:
        segments = parse_segments(text, transcript, vid, rows, result)

    labels = match_labels(segments, rows, result.skipped)
    words = _aligned_words(job, words_csd, segments, result)
    for seg in segments:
        aligned = words.get(seg.utterance_id)
        result.utterances.append(
            Utterance(
                corpus="mosei",
                utterance_id=seg.utterance_id,
                recording_id=vid,
                speaker_id=job.speaker_id,
                start_s=seg.start_s,
                end_s=seg.end_s,
                text=seg.text,
                words=tuple(aligned) if aligned else spread_words(seg.text, seg.start_s, seg.end_s),
                word_timing="aligned" if aligned else "utterance",
                video_region="full",
                labels=labels.get(seg.utterance_id),
            )
        )
    return result


def parse_segments(
    text: str, path: Path, video_id: str, rows: list[LabelRow], result: RecordingResult
) -> list[Segment]:
    """Segments of one transcript (its text, read by `read_source_text`), time-sorted.

    Each unreadable line is a Problem, and its segment is still placed (`common.locate_bad_line`,
    the label rows that no readable line describes as the label entries): its session becomes an
    `error` naming the file and line, and no session is re-cut around a missing segment. A placed
    segment whose index cannot be read is named after its line, `<vid>_line<N>`.
    """
    prefix = f"{video_id}___"
    segments: list[Segment] = []
    bad: list[BadLine] = []
    seen: dict[int, Segment] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parsed = _parse_segment_line(line.rstrip("\r\n"), prefix, video_id, number, seen)
        if isinstance(parsed, Segment):
            seen[parsed.index] = parsed
            segments.append(parsed)
        else:
            bad.append(parsed)
    readable = [(seg.line or 0, Span(seg.utterance_id, seg.start_s, seg.end_s)) for seg in segments]
    free = [
        Span(_aligned_id(video_id, row), row.start_s, row.end_s)
        for row in rows
        if not any(same_unit((row.start_s, row.end_s), (seg.start_s, seg.end_s)) for seg in segments)
    ]
    taken = {seg.utterance_id for seg in segments}
    for damaged in bad:
        placed = locate_bad_line(damaged, readable, free)
        if placed is None:
            reason = f"{damaged.reason}; its segment cannot be placed, so every session of the video is an error"
            result.problems.append(Problem(str(path), damaged.line, reason, video_id))
            continue
        if placed.unit_id in taken and any(placed is span for _, span in readable):
            # an exact repeat of a readable line: that segment is the damaged one
            result.problems.append(Problem(str(path), damaged.line, damaged.reason, video_id, placed.unit_id))
            continue
        free = claim(free, placed)
        named = placed.unit_id is not None and placed.unit_id not in taken
        unit_id = placed.unit_id if named and placed.unit_id is not None else f"{video_id}_line{damaged.line}"
        reason = f"{damaged.reason} (placed as {unit_id} at {placed.start_s:g}-{placed.end_s:g} s)"
        result.problems.append(Problem(str(path), damaged.line, reason, video_id, unit_id))
        index = int(unit_id[len(video_id) + 1 :]) if named else -1
        segments.append(Segment(unit_id, index, placed.start_s, placed.end_s, damaged.text, damaged.line))
        taken.add(unit_id)
    return sorted(segments, key=lambda s: (s.start_s, s.index))


def _aligned_id(video_id: str, row: LabelRow) -> str | None:
    """The segment id a label row names (`<vid>[k]` keys of an SDK-aligned CSD), else None."""
    index = split_key(row.key)[1]
    return None if index is None else f"{video_id}_{index}"


def _parse_segment_line(
    line: str, prefix: str, video_id: str, number: int, seen: dict[int, Segment]
) -> Segment | BadLine:
    """One `<vid>___<seg>___<start>___<end>___<text>` line, or what of it is readable."""
    if not line.startswith(prefix):
        return BadLine(number, f"line does not start with '{prefix}': {line.strip()[:120]!r}", None, None, None, "")
    parts = line[len(prefix) :].split("___", 3)
    if len(parts) != 4:
        reason = f"want '<vid>___<seg>___<start>___<end>___<text>': {line.strip()[:120]!r}"
        return BadLine(number, reason, None, None, None, "")
    index_text, start_text, end_text, text = parts
    text = " ".join(text.split())
    index = int(index_text) if index_text.strip().isdigit() else None
    try:
        start, end = float(start_text), float(end_text)
    except ValueError:
        start = end = math.nan
    times_problem = readable_times(start, end) if not math.isnan(start) else "start or end is not a number"
    written = f"{video_id}_{index_text.strip()}"
    if index is None:
        reason = f"segment index {index_text!r} is not a number"
    elif times_problem is not None:
        reason = f"segment {index}: {times_problem}"
    elif index in seen:
        reason = f"segment {index} listed twice (first at line {seen[index].line})"
    else:
        return Segment(written, index, start, end, text, number)
    reason = f"{reason}: {line.strip()[:120]!r}"
    unit_id = written if index is not None and index not in seen else None
    times = (start, end) if times_problem is None else None
    return BadLine(number, reason, written, unit_id, times, text)


def _open_csd(path: Path | None, needed: bool, stack: ExitStack) -> OpenCsd:
    if path is None or not needed:
        return None
    try:
        return stack.enter_context(CsdReader(path))
    except CsdError as exc:
        return str(exc)


def _csd_entries(
    job: VideoJob, csd: OpenCsd, path: Path | None, keys: tuple[str, ...], result: RecordingResult
) -> list[CsdEntry]:
    """The video's entries of one CSD; an unreadable file or key is a recording Problem."""
    if csd is None or not keys:
        return []
    try:
        if isinstance(csd, str):
            raise CsdError(csd)
        return csd.entries(keys)
    except CsdError as exc:
        result.problems.append(Problem(str(path), None, str(exc), job.video_id))
        return []


def _label_rows(job: VideoJob, csd: OpenCsd, result: RecordingResult) -> list[LabelRow]:
    path = job.layout.labels_csd
    rows, errors = label_rows(_csd_entries(job, csd, path, job.label_keys, result))
    result.problems.extend(Problem(str(path), None, reason, job.video_id) for reason in errors)
    return rows


def _aligned_words(
    job: VideoJob, csd: OpenCsd, segments: list[Segment], result: RecordingResult
) -> dict[str, list[Word]]:
    entries = _csd_entries(job, csd, job.layout.words_csd, job.word_keys, result)
    path = job.layout.words_csd
    result.problems.extend(Problem(str(path), None, reason, job.video_id) for reason in unplaceable_words(entries))
    return assign_words(segments, entries, result.skipped) if entries else {}


def _check_label_columns(path: Path | None) -> list[Problem]:
    """A labels CSD whose `dimension names` metadata disagrees with the 7 documented columns."""
    if path is None:
        return []
    try:
        names = read_metadata(path).get("dimension names")
    except CsdError:
        return []  # reported by `_csd_keys`
    if names is None:
        return []
    if isinstance(names, list) and [str(n).lower() for n in names] == list(LABEL_COLUMNS):
        return []
    return [
        Problem(
            str(path), None, f"metadata 'dimension names' is {names}, want {list(LABEL_COLUMNS)}"
        )
    ]


def _csd_keys(path: Path | None, problems: list[Problem]) -> dict[str, list[str]]:
    if path is None:
        return {}
    try:
        return keys_by_video(path)
    except CsdError as exc:
        problems.append(Problem(str(path), None, str(exc)))
        return {}


def _discover_videos(
    raw: Path, label_keys: dict[str, list[str]], skipped: Counter[str]
) -> list[str]:
    """Video ids named by any media/transcript file or by the labels CSD, sorted."""
    ids: set[str] = set(label_keys)
    for folder, suffix in ((_AUDIO, ".wav"), (_VIDEO, ".mp4"), (_TRANSCRIPT, ".txt")):
        for path in (raw / folder).glob(f"*{suffix}"):
            if is_hidden(path):
                skipped["mosei_hidden_files"] += 1
            else:
                ids.add(path.stem)
    return sorted(ids)


class MoseiOptions(StrictModel):
    """Options of `corpora.mosei` besides `root`."""

    speaker_map: Path | None = Field(
        None,
        description="CSV `video_id,speaker_id` merging MOSEI videos of one person; default: one speaker per video.",
    )


#: MOSEI's emotion scores (every column but sentiment) as the IEMOCAP-style codes that
#: `annotation.preannotation_map` maps to classes.
PREANNOTATION_CODES: dict[str, str] = dict(
    zip(LABEL_COLUMNS[1:], ("hap", "sad", "ang", "sur", "dis", "fea"), strict=True)
)


def preannotate_strongest_emotion(labels: SourceLabels, mapping: Mapping[str, str]) -> str | None:
    """The class of the session's strongest emotion score (first on ties); None when all are 0."""
    if any(name not in labels.scores for name in PREANNOTATION_CODES):
        return None
    best_code, best = None, 0.0
    for name, code in PREANNOTATION_CODES.items():
        if float(labels.scores[name]) > best:
            best_code, best = code, float(labels.scores[name])
    return mapping.get(best_code) if best_code is not None else None


CITATION = """\
@inproceedings{zadeh2018mosei,
  title     = {Multimodal Language Analysis in the Wild: {CMU-MOSEI} Dataset and Interpretable Dynamic Fusion Graph},
  author    = {Zadeh, AmirAli Bagher and Liang, Paul Pu and Poria, Soujanya and Cambria, Erik and Morency, Louis-Philippe},
  booktitle = {Proceedings of the 56th Annual Meeting of the Association for Computational Linguistics (ACL)},
  pages     = {2236--2246},
  year      = {2018}
}
"""

#: The entry point `mosei` (pyproject.toml, group `edu_affect_data.corpora`).
CORPUS = CorpusPlugin(
    name="mosei",
    read=read_mosei,
    options=MoseiOptions,
    title="CMU-MOSEI",
    description="CMU Multimodal Opinion Sentiment and Emotion Intensity: single-speaker YouTube "
    "monologue videos cut into segments.",
    source_labels="`scores`: the session's mean of the seven label columns (sentiment -3..3; "
    "happy, sad, anger, surprise, disgust, fear 0..3); the strongest emotion suggests the "
    "pre-annotation.",
    citation=CITATION,
    licence="CMU-MOSEI is distributed under its terms of use.",
    preannotate=preannotate_strongest_emotion,
)
