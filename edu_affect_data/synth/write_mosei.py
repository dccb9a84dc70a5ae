"""Write CMU-MOSEI videos (raw release layout) and its two computational sequences.

Per video: the full 16 kHz wav, an H.264/AAC MP4 (timestamps jump where frames are missing) and
the segmented transcript. The `.csd` files follow the CMU-MultimodalSDK HDF5 layout: one group
named by the root name holding `data/<vid>/{features,intervals}` and `metadata/<key>` JSON strings;
words `(N, 1)` bytes with `b'sp'` silences, labels 7 columns with unsorted intervals.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np

from edu_affect_data.synth.media import truncate_data, write_garbage, write_h264_mp4, write_wav
from edu_affect_data.synth.noise import keyframe_times
from edu_affect_data.synth.plan import NON_WORDS, RecordingPlan, recording_rng
from edu_affect_data.synth.render import frame_times, render_audio, render_frames

ROOT = "CMU_MOSEI"
WORDS_CSD = f"{ROOT}/CMU_MOSEI_TimestampedWords.csd"
LABELS_CSD = f"{ROOT}/CMU_MOSEI_Labels.csd"
LABEL_COLUMNS = ("sentiment", "happy", "sad", "anger", "surprise", "disgust", "fear")
TRUNCATE_KEEP = 0.6


def video_paths(vid: str) -> dict[str, str]:
    return {
        "wav": f"{ROOT}/Raw/Audio/Full/WAV_16000/{vid}.wav",
        "mp4": f"{ROOT}/Raw/Videos/Full/Combined/{vid}.mp4",
        "transcription": f"{ROOT}/Raw/Transcript/Segmented/Combined/{vid}.txt",
    }


BROKEN_FILE = {
    "truncated_wav": "wav",
    "undecodable_video": "mp4",
    "missing_transcript": "transcription",
}


def segment_lines(plan: RecordingPlan) -> list[str]:
    return [
        f"{plan.recording_id}___{u.segment}___{u.start_s:.3f}___{u.end_s:.3f}___{u.text}"
        for u in plan.transcribed_units()
    ]


def _jumps(plan: RecordingPlan) -> list[tuple[int, int]]:
    """(frames fed before the jump, frames skipped) for each timestamp jump."""
    present = frame_times(plan)
    jumps = []
    for before, (a, b) in enumerate(itertools.pairwise(present), start=1):
        if b - a > 1:
            jumps.append((before, b - a - 1))
    return jumps


def write_video(plan: RecordingPlan, out: Path, seed: int) -> None:
    paths = {k: out / v for k, v in video_paths(plan.recording_id).items()}
    audio = render_audio(plan, seed)
    write_wav(paths["wav"], audio)
    if "undecodable_video" in plan.broken:
        paths["mp4"].parent.mkdir(parents=True, exist_ok=True)
        write_garbage(paths["mp4"], recording_rng(seed, plan.recording_id, 5))
    else:
        write_h264_mp4(
            paths["mp4"],
            render_frames(plan, seed),
            plan.frame_size,
            plan.fps,
            paths["wav"],
            _jumps(plan),
            keyframe_times(plan),
        )
    if "truncated_wav" in plan.broken:
        truncate_data(paths["wav"], TRUNCATE_KEEP)
    if "missing_transcript" not in plan.broken:
        paths["transcription"].parent.mkdir(parents=True, exist_ok=True)
        paths["transcription"].write_text("\n".join(segment_lines(plan)) + "\n")


def word_sequence(plan: RecordingPlan) -> tuple[list[bytes], list[tuple[float, float]]]:
    """Words and `sp` silences of the transcribed segments, in time order (holes leave nothing)."""
    words: list[bytes] = []
    spans: list[tuple[float, float]] = []
    previous_end: float | None = None
    previous_index = -2
    for index, unit in enumerate(plan.units):
        if not unit.transcribed:
            continue
        if previous_end is not None and index == previous_index + 1 and unit.start_s > previous_end:
            words.append(b"sp")
            spans.append((previous_end, unit.start_s))
        for row in unit.rows:
            token = b"sp" if row.token in NON_WORDS else row.token.encode()
            spans.append(
                (
                    round(unit.start_s + row.start_frame * 0.01, 3),
                    round(unit.start_s + (row.end_frame + 1) * 0.01, 3),
                )
            )
            words.append(token)
        previous_end, previous_index = unit.end_s, index
    return words, spans


def _metadata(group, root: str, description: str, dimensions: list[str]) -> None:  # type: ignore[no-untyped-def]
    import h5py

    entries = {
        "root name": root,
        "computational sequence description": description,
        "computational sequence version": "1.0",
        "alignment compatible": True,
        "dataset name": "CMU_MOSEI",
        "dataset version": "1.0",
        "creator": "edu-affect-data synthetic corpus",
        "contact": "nobody@example.org",
        "featureset bib citation": "synthetic",
        "dataset bib citation": "synthetic",
        "dimension names": dimensions,
    }
    meta = group.create_group("metadata")
    for key, value in entries.items():
        meta.create_dataset(key, data=json.dumps(value), dtype=h5py.string_dtype("utf-8"))


def write_csds(plans: list[RecordingPlan], out: Path, seed: int) -> None:
    """Both computational sequences for every video."""
    import h5py

    (out / ROOT).mkdir(parents=True, exist_ok=True)
    with h5py.File(out / WORDS_CSD, "w", track_order=True) as f:
        root = f.create_group("words")
        data = root.create_group("data")
        for plan in plans:
            words, spans = word_sequence(plan)
            video = data.create_group(plan.recording_id)
            video.create_dataset("features", data=np.array(words, dtype="S32").reshape(-1, 1))
            video.create_dataset("intervals", data=np.array(spans, dtype=np.float64).reshape(-1, 2))
        _metadata(root, "words", "Word timestamps (sp = silence)", ["word"])
    with h5py.File(out / LABELS_CSD, "w", track_order=True) as f:
        root = f.create_group("All Labels")
        data = root.create_group("data")
        for plan in plans:
            units = [u for u in plan.transcribed_units() if u.mosei_labels is not None]
            order = recording_rng(seed, plan.recording_id, 6).permutation(len(units))
            video = data.create_group(plan.recording_id)
            features = np.array([units[i].mosei_labels for i in order], dtype=np.float32).reshape(
                -1, 7
            )
            video.create_dataset("features", data=features)
            intervals = np.array(
                [(units[i].start_s, units[i].end_s) for i in order], dtype=np.float64
            ).reshape(-1, 2)
            video.create_dataset("intervals", data=intervals)
        _metadata(
            root,
            "All Labels",
            "Sentiment and emotion labels (mean of three raters)",
            list(LABEL_COLUMNS),
        )
