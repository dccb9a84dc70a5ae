"""Small hand-made recordings with known faults, for the sessions/gaps/manifest tests.

Audio: room noise at about -40 dBFS with exact digital-zero dropouts. Video: side-by-side (or
single) noise frames at 10 fps that change every frame, with black, frozen and missing stretches
per region. Utterances alternate two speakers with short pauses and carry word intervals, so
transcript holes are simply words left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import soundfile as sf

from edu_affect_data.corpora.records import (
    CorpusManifest,
    Recording,
    SourceLabels,
    Utterance,
    VideoRegion,
    Word,
)
from tests.helpers.media import ffmpeg

SR = 16000
FPS = 10.0
WIDTH, HEIGHT = 160, 60


@dataclass(frozen=True)
class VideoFault:
    start_s: float
    end_s: float
    region: str  # left | right | full
    kind: str  # black | frozen


def write_wav(path: Path, duration_s: float, dropouts: Sequence[tuple[float, float]] = (), seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    audio = (0.01 * rng.standard_normal(int(duration_s * SR))).astype(np.float32)
    for start, end in dropouts:
        audio[int(start * SR) : int(end * SR)] = 0.0
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio, SR, subtype="PCM_16")
    return path


def truncate_wav(path: Path, keep_fraction: float) -> None:
    """Cut the file's data chunk without fixing the header (what a broken copy looks like)."""
    data = path.read_bytes()
    path.write_bytes(data[: 44 + int((len(data) - 44) * keep_fraction)])


def _frames(duration_s: float, faults: Sequence[VideoFault], side_by_side: bool, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    width = WIDTH * 2 if side_by_side else WIDTH
    frames: list[np.ndarray] = []
    halves = {"left": slice(0, WIDTH), "right": slice(WIDTH, 2 * WIDTH), "full": slice(0, width)}
    for index in range(round(duration_s * FPS)):
        t = index / FPS
        frame = rng.integers(40, 220, size=(HEIGHT, width, 3), dtype=np.uint8)
        for fault in faults:
            if fault.start_s <= t < fault.end_s:
                cols = halves[fault.region]
                if fault.kind == "black":
                    frame[:, cols] = 0
                elif fault.kind == "frozen":
                    frame[:, cols] = frames[-1][:, cols]
        frames.append(frame)
    return frames


def write_avi(
    path: Path, duration_s: float, faults: Sequence[VideoFault] = (), *, side_by_side: bool = True, seed: int = 0
) -> Path:
    """MJPG AVI (lossless enough: repeated frames decode identically)."""
    frames = _frames(duration_s, faults, side_by_side, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (width, height))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def write_mp4_with_jump(path: Path, duration_s: float, jump_at_s: float, jump_s: float, seed: int = 0) -> Path:
    """H.264 MP4 whose timestamps jump by `jump_s` after `jump_at_s` (frames missing in between).

    The stream holds `duration_s - jump_s` seconds of frames, so it ends at `duration_s`.
    """
    frames = _frames(duration_s - jump_s, (), False, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    jump_frame = round(jump_at_s * FPS)
    setpts = f"setpts=N/({FPS:g}*TB)+gte(N\\,{jump_frame})*{jump_s:g}/TB"
    ffmpeg(
        "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{WIDTH}x{HEIGHT}", "-r", f"{FPS:g}", "-i", "-",
        "-vf", setpts, "-fps_mode", "passthrough", "-c:v", "libx264", "-preset", "ultrafast",
        "-qp", "0", "-pix_fmt", "yuv444p", str(path),
        input=b"".join(f.tobytes() for f in frames),
    )
    return path


def alternating_units(
    corpus: str,
    recording_id: str,
    duration_s: float,
    *,
    speakers: Sequence[tuple[str, VideoRegion]] = (("S_F", "left"), ("S_M", "right")),
    turn_s: float = 2.5,
    pause_s: float = 0.3,
    holes: Sequence[tuple[float, float]] = (),
) -> list[Utterance]:
    """Turns alternating between `speakers` with words every 0.5 s; words inside `holes` are left out.

    A turn that falls entirely inside a hole is absent (speech never transcribed).
    """
    units: list[Utterance] = []
    t, index = 0.2, 0
    while t + turn_s <= duration_s - 0.2:
        speaker, region = speakers[index % len(speakers)]
        words = tuple(
            Word(f"w{k}", t + k * 0.5, t + k * 0.5 + 0.45)
            for k in range(int(turn_s / 0.5))
            if not any(a < t + k * 0.5 + 0.45 and t + k * 0.5 < b for a, b in holes)
        )
        if words:
            units.append(
                Utterance(
                    corpus=corpus,  # type: ignore[arg-type]
                    utterance_id=f"{recording_id}_{speaker[-1]}{index:03d}",
                    recording_id=recording_id,
                    speaker_id=speaker,
                    start_s=words[0].start_s,
                    end_s=words[-1].end_s,
                    text=" ".join(w.text for w in words),
                    words=words,
                    word_timing="aligned",
                    video_region=region,
                    labels=SourceLabels(category="neu" if index % 3 else "fru", scores={"valence": 2.0, "activation": 3.0, "dominance": float(index % 4)}),
                )
            )
        t += turn_s + pause_s
        index += 1
    return units


def manifest_of(corpus: str, root: Path, recordings: Sequence[tuple[Recording, list[Utterance]]]) -> CorpusManifest:
    manifest = CorpusManifest(corpus=corpus, root=root)  # type: ignore[arg-type]
    for recording, units in recordings:
        manifest.recordings[recording.recording_id] = recording
        manifest.utterances.extend(units)
    manifest.utterances.sort(key=lambda u: (u.recording_id, u.start_s))
    return manifest


def overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
