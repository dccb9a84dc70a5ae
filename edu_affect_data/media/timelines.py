"""Where a recording's audio and video carry no usable signal, measured once per recording.

The gap definition lives in docs/contracts.md; this module turns media files into `Timeline`s of
unusable stretches so that every session of the recording is judged by a cheap interval query
instead of decoding the media again. Broken files raise `BrokenMediaError` with a message that
names the file, so the session rows can say exactly what is wrong.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edu_affect_data.media.frames import FRAME_KINDS, MISSING_STEP_PERIODS
from edu_affect_data.media.options import GapsConfig
from edu_affect_data.media.probe import BrokenMediaError

#: Audio is judged in frames of this length (docs/contracts.md).
AUDIO_FRAME_S = 0.010
#: Unusable stretches closer than this are one gap (frame timestamps are rounded to 1 ms).
MERGE_TOLERANCE_S = 0.005
#: A video whose decoding yields fewer frames than the container declares, by more than this
#: share (plus `TRUNCATED_SLACK_FRAMES`), is truncated: an `error`, never a trailing gap.
TRUNCATED_SHARE = 0.02
TRUNCATED_SLACK_FRAMES = 2


@dataclass(frozen=True)
class Gap:
    start_s: float
    end_s: float
    #: What made the stretch unusable: silence, missing, black, frozen, no_face, untranscribed.
    kind: str

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Timeline:
    """Unusable stretches of one modality, sorted; after `end_s` there is no signal at all."""

    unusable: tuple[Gap, ...]
    end_s: float
    start_s: float = 0.0

    def longest_gap(self, start_s: float, end_s: float) -> Gap | None:
        """The longest unusable stretch inside `[start_s, end_s]`, merging touching stretches.

        A merged stretch is named after the kind that covers most of it.
        """
        pieces = [
            Gap(max(g.start_s, start_s), min(g.end_s, end_s), g.kind)
            for g in self.unusable
            if g.end_s > start_s and g.start_s < end_s
        ]
        if start_s < self.start_s:
            pieces.insert(0, Gap(start_s, min(self.start_s, end_s), "missing"))
        if end_s > self.end_s:
            pieces.append(Gap(max(self.end_s, start_s), end_s, "missing"))
        best: Gap | None = None
        for run in _touching_runs(pieces):
            kinds: dict[str, float] = {}
            for piece in run:
                kinds[piece.kind] = kinds.get(piece.kind, 0.0) + piece.duration_s
            gap = Gap(run[0].start_s, max(p.end_s for p in run), max(kinds, key=kinds.__getitem__))
            if best is None or gap.duration_s > best.duration_s:
                best = gap
        return best


def _touching_runs(pieces: list[Gap]) -> list[list[Gap]]:
    runs: list[list[Gap]] = []
    for piece in sorted(pieces, key=lambda g: g.start_s):
        if runs and piece.start_s <= max(p.end_s for p in runs[-1]) + MERGE_TOLERANCE_S:
            runs[-1].append(piece)
        else:
            runs.append([piece])
    return runs


def runs_to_gaps(flags: np.ndarray, starts: np.ndarray, ends: np.ndarray, kind: str) -> list[Gap]:
    """Gaps covering each run of True in `flags`, item i spanning `[starts[i], ends[i]]`."""
    padded = np.concatenate(([False], flags.astype(bool), [False]))
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [Gap(float(starts[a]), float(ends[b - 1]), kind) for a, b in zip(edges[::2], edges[1::2], strict=True)]


# ------------------------------------------------------------------------------------ audio
def _declared_and_held_wav_bytes(path: Path) -> tuple[int, int, int] | None:
    """(data bytes the header promises, data bytes the file holds, bytes per frame) of a RIFF wav.

    libsndfile quietly clamps a cut data chunk to what the file holds, so truncation is only
    visible by reading the header ourselves. None when the file is not RIFF/WAVE.
    """
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        block_align = 0
        while True:
            chunk = fh.read(8)
            if len(chunk) < 8:
                raise BrokenMediaError("truncated wav", path, "no data chunk before the end of the file")
            chunk_id, chunk_size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if chunk_id == b"fmt ":
                fmt = fh.read(chunk_size + (chunk_size & 1))
                block_align = struct.unpack("<H", fmt[12:14])[0]
            elif chunk_id == b"data":
                if block_align == 0:
                    raise BrokenMediaError("unreadable wav", path, "data chunk before fmt chunk")
                return chunk_size, size - fh.tell(), block_align
            else:
                fh.seek(chunk_size + (chunk_size & 1), 1)


def audio_timeline(path: Path, silence_dbfs: float) -> Timeline:
    """10 ms frames whose RMS is under `silence_dbfs` (or past the data) are unusable."""
    import soundfile as sf

    if not path.is_file():
        raise BrokenMediaError("missing audio", path, "no such file")
    try:
        info = sf.info(str(path))
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise BrokenMediaError("unreadable audio", path, str(exc)) from exc
    if info.frames == 0:  # a valid header over no samples: broken like a 0-byte file, not a gap
        raise BrokenMediaError("empty audio", path, "the file holds no samples")
    sizes = _declared_and_held_wav_bytes(path)
    if sizes is not None:
        declared, held, block_align = sizes
        if declared != 0xFFFFFFFF and held + block_align <= declared:
            rate = info.samplerate * block_align
            raise BrokenMediaError(
                "truncated wav", path, f"header says {declared / rate:.1f} s, data holds {held / rate:.1f} s"
            )
    hop = max(1, round(info.samplerate * AUDIO_FRAME_S))
    energies: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    try:
        for block in sf.blocks(str(path), blocksize=hop * 6000, dtype="float32", always_2d=True):
            squares = np.square(block, dtype=np.float64).mean(axis=1)
            n_full = len(squares) // hop
            sums = squares[: n_full * hop].reshape(n_full, hop).sum(axis=1)
            cnt = np.full(n_full, hop, dtype=np.float64)
            if len(squares) > n_full * hop:
                sums = np.append(sums, squares[n_full * hop :].sum())
                cnt = np.append(cnt, len(squares) - n_full * hop)
            energies.append(sums)
            counts.append(cnt)
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise BrokenMediaError("unreadable audio", path, str(exc)) from exc
    mean_square = np.concatenate(energies) / np.concatenate(counts) if energies else np.zeros(0)
    n_samples = int(np.concatenate(counts).sum()) if counts else 0
    with np.errstate(divide="ignore"):
        dbfs = 10.0 * np.log10(mean_square)
    starts = np.arange(len(dbfs)) * hop / info.samplerate
    ends = np.minimum(starts + hop / info.samplerate, n_samples / info.samplerate)
    gaps = runs_to_gaps(dbfs < silence_dbfs, starts, ends, "silence")
    return Timeline(tuple(gaps), end_s=n_samples / info.samplerate)


# ------------------------------------------------------------------------------------ video
@dataclass(frozen=True)
class VideoThresholds:
    """The `config.gaps` thresholds a video job needs (a small picklable payload for workers)."""

    black_luma: float
    frozen_mad: float
    face_check: bool

    @classmethod
    def from_config(cls, gaps: GapsConfig) -> VideoThresholds:
        return cls(gaps.video_black_luma, gaps.video_frozen_mad, gaps.face_check)


def video_timelines_of(
    path: Path, pts: np.ndarray, kinds: dict[str, np.ndarray], fps: float, declared_frames: float
) -> dict[str, Timeline]:
    """Timelines from every decoded frame's time and kind; `BrokenMediaError` when decoding stopped short."""
    if not len(pts):
        raise BrokenMediaError("undecodable video", path, "no frame could be decoded")
    check_complete(path, len(pts), declared_frames, fps, float(pts.max()))
    # The container's rate may be an average that counts a timestamp jump; the typical step is not.
    steps = np.diff(np.sort(pts))
    period = float(np.median(steps)) if len(steps) and np.median(steps) > 0 else 1.0 / fps
    return {r: _frames_to_timeline(pts, list(k), period) for r, k in kinds.items()}


def check_complete(path: Path, grabbed: int, declared_frames: float, fps: float, last_s: float) -> None:
    """`BrokenMediaError` when decoding stopped well short of the frames the container declares.

    A cut AVI or MP4 keeps its header (frame count, rate), so OpenCV opens it and simply stops
    early; without this check the missing tail would look like a `video gap (missing)`. Frames are
    compared, not seconds, so a stream with timestamp holes (frames never recorded, a real gap)
    is not mistaken for a truncated file. A container that declares no count is not judged.
    """
    if not math.isfinite(declared_frames) or declared_frames <= 0:
        return
    if grabbed >= declared_frames * (1.0 - TRUNCATED_SHARE) - TRUNCATED_SLACK_FRAMES:
        return
    declared_s = declared_frames / fps
    raise BrokenMediaError(
        "truncated video",
        path,
        f"decode stopped at {last_s:.1f} of {declared_s:.1f} seconds "
        f"({grabbed} of {int(declared_frames)} declared frames)",
    )


def _frames_to_timeline(times: np.ndarray, kinds: list[str], period: float) -> Timeline:
    order = np.argsort(times, kind="stable")
    times = times[order]
    labels = np.asarray(kinds)[order]
    ends = times + period
    gaps: list[Gap] = []
    for kind in FRAME_KINDS:
        if kind == "usable":
            continue
        gaps.extend(runs_to_gaps(labels == kind, times, ends, kind))
    steps = np.diff(times)
    for i in np.flatnonzero(steps > MISSING_STEP_PERIODS * period):
        gaps.append(Gap(float(ends[i]), float(times[i + 1]), "missing"))
    gaps.sort(key=lambda g: g.start_s)
    return Timeline(tuple(gaps), end_s=float(ends[-1]), start_s=max(0.0, float(times[0])))
