"""One MOSEI video read into its recording and utterances: the job that runs in a worker.

`mosei.read_mosei` finds the videos and the .csd files once for the corpus, then sends batches of
`VideoJob`s to the executor; everything a worker runs for them is here (and must stay picklable):
opening each .csd once per batch, the media files, the transcript (`mosei_transcript`), the label
rows and word times of the video (`mosei_align`).
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from edu_affect_data.corpora.common import (
    RecordingResult,
    UnusableFile,
    read_source_text,
    spread_words,
)
from edu_affect_data.corpora.csd import CsdEntry, CsdError, CsdReader
from edu_affect_data.corpora.mosei_align import (
    LabelRow,
    Segment,
    assign_words,
    label_rows,
    match_labels,
    segments_from_labels,
    unplaceable_words,
)
from edu_affect_data.corpora.mosei_transcript import parse_segments
from edu_affect_data.corpora.records import Problem, Recording, Utterance, Word

_AUDIO = Path("Audio/Full/WAV_16000")
_VIDEO = Path("Videos/Full/Combined")
_TRANSCRIPT = Path("Transcript/Segmented/Combined")
#: A .csd opened for a batch: the reader, why it could not be opened, or None when not needed.
OpenCsd = CsdReader | str | None


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
