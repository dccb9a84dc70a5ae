"""Decode each recording's video once: classify every frame for the gap filter and leave proxies.

Video decoding is the build's largest cost, and it used to happen three to five times per recording
(the gap scan, each annotation clip, each session's features; IEMOCAP's two actors' windows overlap,
so clips and features decoded each dialog twice). Here one ffmpeg process per recording chunk decodes
the source once and, in the same filter graph, produces

- per speaker region, a small grayscale picture of every frame (the region shrunk by an integer
  factor to at most `frames.COMPARE_WIDTH` wide, scaled inside the decoder), which the one
  `FrameClassifier` judges black / frozen / no_face / usable, with each frame's timestamp; and
- per speaker region, a **proxy**: the region cropped and scaled to `media.proxy_height` (never
  above the source), intra-only H.264 at `media.proxy_crf`, every source frame kept at its own
  timestamp. Every frame is a keyframe, so a clip starts exactly where its session does and a reader
  decodes only the frames it shows (5-fps features of a 30-fps source decode a sixth of them). The annotation clips and the video features are cut from it, so
  the source is never decoded again (docs/media.md says why this design and what it costs).

Long recordings are split into chunks (`plan_chunks`, only where no candidate session is cut) run by
parallel workers. The frozen test is stateful (a frame is compared to the last usable one), so a chunk
decodes `media.prime_s` seconds before its start to reach the state a single pass would have there;
`stitch` checks that it did (both passes hold the same reference frame at the boundary) and otherwise
classifies the chunk again from the exact reference, so chunking never changes a verdict.
"""

from __future__ import annotations

import math
import re
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from edu_affect_data.media.frames import (
    FaceDetector,
    FrameClassifier,
    FrameKind,
    compare_factor,
    ffmpeg_crop,
    region_columns,
)
from edu_affect_data.media.options import GapsConfig
from edu_affect_data.media.probe import probe_media
from edu_affect_data.media.timelines import (
    BrokenMediaError,
    Timeline,
    VideoThresholds,
    video_timelines_of,
)

#: `showinfo`'s line for one frame: its timestamp in seconds.
_SHOWINFO = re.compile(rb"\bn:\s*\d+\s+pts:\s*-?\d+\s+pts_time:(-?[\d.]+(?:e-?\d+)?)")
#: A later chunk's proxy starts this long before the chunk (its frames before the boundary belong to
#: the previous chunk), so the frame shown at a session's first instant is always in its proxy.
PROXY_LEAD_S = 0.5
#: A chunk boundary may move this share of `chunk_s` to find a point no session window crosses.
BOUNDARY_SEARCH_SHARE = 0.5
NO_REFERENCE = -1.0
#: `showinfo` logs a frame before the muxer writes it; waiting longer than this means it never will.
STAMP_WAIT_S = 60.0


@dataclass(frozen=True)
class ProxySpec:
    """How the proxies are written (`config.media`); part of every chunk's identity."""

    height: int
    crf: int


@dataclass(frozen=True)
class ChunkJob:
    """One chunk of one recording for a worker (picklable): decode `[prime_s, end_s)`, keep `[start_s, end_s)`."""

    recording_id: str
    video_path: Path
    regions: tuple[str, ...]
    index: int
    start_s: float
    #: None: to the end of the stream.
    end_s: float | None
    prime_s: float
    thresholds: VideoThresholds
    #: None: classify only (a re-classification after a missed prime, or no proxies wanted).
    proxy: ProxySpec | None
    #: Proxy file per region (written atomically by the worker), when `proxy` is set.
    proxy_paths: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ChunkFrames:
    """What one chunk's pass found: every decoded frame from `prime_s` on, and its proxies."""

    index: int
    start_s: float
    #: Frame timestamps (seconds, ascending as decoded), priming frames included.
    pts: np.ndarray
    #: Per region: the frame kinds, and the timestamp of the classifier's reference frame after
    #: each frame (`NO_REFERENCE` when it has none): the state `stitch` compares between chunks.
    kinds: dict[str, np.ndarray]
    references: dict[str, np.ndarray]
    fps: float
    declared_frames: float
    proxies: dict[str, Path]
    #: Recording time of the proxies' first frame (their own clock starts at 0 there).
    proxy_start_s: float = 0.0
    #: Where the next chunk starts (None: the last chunk).
    end_s: float | None = None

    @property
    def own(self) -> np.ndarray:
        """Mask of the frames this chunk owns: from its start to the next chunk's, whatever the
        decoder included at the edges (a frame exactly on a boundary belongs to the later chunk)."""
        own = self.pts >= self.start_s - 1e-9
        return own if self.end_s is None else own & (self.pts < self.end_s - 1e-9)


# ------------------------------------------------------------------------------------- chunks
def plan_chunks(
    duration_s: float, windows: Sequence[tuple[float, float]], chunk_s: float
) -> list[tuple[float, float | None]]:
    """`[start, end)` spans of about `chunk_s` covering the recording, cut only between session windows.

    A boundary must not fall strictly inside any window (of any region), so each session lies in one
    chunk and its clip and features read one proxy. Near each multiple of `chunk_s` the closest
    window edge that no other window covers is taken; where none is within half a chunk, no cut.
    """
    if duration_s <= chunk_s * 1.5:
        return [(0.0, None)]
    edges = sorted({t for window in windows for t in window} | {k * chunk_s for k in range(1, int(duration_s // chunk_s) + 1)})
    safe = [t for t in edges if 0 < t < duration_s and not any(a < t < b for a, b in windows)]
    cuts: list[float] = []
    target = chunk_s
    while target < duration_s - chunk_s / 2:
        near = [t for t in safe if abs(t - target) <= chunk_s * BOUNDARY_SEARCH_SHARE and (not cuts or t > cuts[-1])]
        if near:
            cuts.append(min(near, key=lambda t: abs(t - target)))
            target = cuts[-1] + chunk_s
        else:
            target += chunk_s
    bounds = [0.0, *cuts]
    return [(a, b) for a, b in zip(bounds, [*cuts, None], strict=True)]


# ----------------------------------------------------------------------------------- the pass
def compare_size(width: int, height: int) -> tuple[int, int]:
    """The grayscale size a region is judged at: `frames.compare_pixels`'s integer shrink."""
    factor = compare_factor(width)
    return width // factor, height // factor


def proxy_size(region_width: int, height: int, spec: ProxySpec) -> tuple[int, int]:
    """Even (width, height) of a region's proxy: `spec.height` or the source's, whichever is lower."""
    target = min(spec.height, height)
    target -= target % 2
    width = round(region_width * target / height)
    return width + width % 2, target


def _filter_graph(job: ChunkJob, width: int, height: int) -> tuple[str, list[tuple[int, int, int]]]:
    """ffmpeg `-filter_complex`: gray judging pictures side by side (`[g]`), one proxy per region (`[p<i>]`).

    Returns the graph and, per region, (x offset, width, height) of its picture in the gray row.
    """
    regions = job.regions
    outputs = 1 + (len(regions) if job.proxy is not None else 0)
    chains = [f"[0:v]split={outputs}[gray]" + "".join(f"[src{i}]" for i in range(outputs - 1))]
    sizes = [compare_size(*_region_shape(width, height, r)) for r in regions]
    tallest = max(h for _, h in sizes)
    chains.append(f"[gray]split={len(regions)}" + "".join(f"[g{i}]" for i in range(len(regions))) if len(regions) > 1 else "[gray]null[g0]")
    placed: list[tuple[int, int, int]] = []
    x = 0
    for i, region in enumerate(regions):
        w, h = sizes[i]
        chains.append(f"[g{i}]{ffmpeg_crop(region, width)}scale={w}:{h}:flags=area,format=gray,pad={w}:{tallest}[j{i}]")
        placed.append((x, w, h))
        x += w
    stack = "".join(f"[j{i}]" for i in range(len(regions)))
    chains.append(f"{stack}hstack=inputs={len(regions)},showinfo[g]" if len(regions) > 1 else "[j0]showinfo[g]")
    if job.proxy is not None:
        end = f":end={job.end_s:.6f}" if job.end_s is not None else ""
        trim = f"trim=start={proxy_from(job):.6f}{end},"
        for i, region in enumerate(regions):
            pw, ph = proxy_size(_region_shape(width, height, region)[0], height, job.proxy)
            chains.append(
                f"[src{i}]{trim}{ffmpeg_crop(region, width)}scale={pw}:{ph}:flags=area,"
                f"setpts=PTS-STARTPTS,format=yuv420p[p{i}]"
            )
    return ";".join(chains), placed


def proxy_from(job: ChunkJob) -> float:
    """Where the chunk's proxies start: `PROXY_LEAD_S` before the chunk, within what is decoded."""
    return job.start_s if job.index == 0 else max(job.prime_s, job.start_s - PROXY_LEAD_S)


def _region_shape(width: int, height: int, region: str) -> tuple[int, int]:
    lo, hi = region_columns(width, region)
    return hi - lo, height


def _command(job: ChunkJob, width: int, height: int) -> tuple[list[str], list[tuple[int, int, int]], int]:
    from imageio_ffmpeg import get_ffmpeg_exe

    graph, placed = _filter_graph(job, width, height)
    command = [get_ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "info", "-threads", "1", "-filter_threads", "1"]
    if job.prime_s > 0:
        command += ["-ss", f"{job.prime_s:.6f}"]
    if job.end_s is not None:
        command += ["-to", f"{job.end_s:.6f}"]
    command += ["-copyts", "-i", str(job.video_path), "-filter_complex", graph]
    command += ["-map", "[g]", "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "gray", "pipe:1"]
    if job.proxy is not None:
        for i, (_, partial) in enumerate(_partials(job)):
            command += ["-map", f"[p{i}]", "-an", "-c:v", "libx264", "-preset", "ultrafast", "-crf", str(job.proxy.crf)]
            command += ["-g", "1", "-fps_mode", "passthrough", "-f", "mp4", "-y", str(partial)]
    row_width = sum(w for _, w, _ in placed)
    row_height = max(h for _, _, h in placed)
    return command, placed, row_width * row_height


def _partials(job: ChunkJob) -> list[tuple[Path, Path]]:
    """(final, temporary) proxy paths, in region order."""
    from edu_affect_data.core.atomic import temporary_sibling

    if job.proxy is None:
        return []
    paths = dict(job.proxy_paths)
    return [(Path(paths[r]), temporary_sibling(Path(paths[r]))) for r in job.regions]


def scan_chunk(job: ChunkJob) -> ChunkFrames:
    """Run the chunk's one decoding pass; `BrokenMediaError` names the file when it cannot be decoded.

    However it ends (an undecodable file, Ctrl-C or SIGTERM unwinding the worker: `core.interrupt`),
    ffmpeg is killed and waited for and the half-written proxies are removed: an ffmpeg left behind
    blocks for ever writing frames into a pipe nobody reads.
    """
    fps, declared, width, height = _stream_facts(job.video_path)
    command, placed, frame_bytes = _command(job, width, height)
    partials = _partials(job)
    for final, _ in partials:
        final.parent.mkdir(parents=True, exist_ok=True)
    faces = FaceDetector() if job.thresholds.face_check else None
    judges = {
        r: FrameClassifier(job.thresholds.black_luma, job.thresholds.frozen_mad, faces=faces, period_s=1.0 / fps)
        for r in job.regions
    }
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        try:
            pts, kinds, references = _classify_stream(process, job, placed, frame_bytes, judges)
            for final, partial in partials:
                partial.replace(final)
        finally:
            if process.poll() is None:
                process.kill()
            for _, partial in partials:  # none left once renamed
                partial.unlink(missing_ok=True)
    shown = pts[pts >= proxy_from(job) - 1e-9]
    return ChunkFrames(
        index=job.index,
        start_s=job.start_s,
        pts=pts,
        kinds=kinds,
        references=references,
        fps=fps,
        declared_frames=declared,
        proxies={region: final for region, (final, _) in zip(job.regions, partials, strict=False)},
        proxy_start_s=float(shown.min()) if len(shown) else job.start_s,
        end_s=job.end_s,
    )


def _classify_stream(
    process: subprocess.Popen[bytes],
    job: ChunkJob,
    placed: list[tuple[int, int, int]],
    frame_bytes: int,
    judges: dict[str, FrameClassifier],
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Judge every frame ffmpeg writes: (timestamps, kinds per region, reference times per region)."""
    stamps: list[float] = []
    log: list[bytes] = []
    reader = threading.Thread(target=_read_log, args=(process, stamps, log), daemon=True)
    reader.start()
    kinds: dict[str, list[FrameKind]] = {r: [] for r in job.regions}
    references: dict[str, list[float]] = {r: [] for r in job.regions}
    row_height = max(h for _, _, h in placed)
    assert process.stdout is not None
    count = 0
    while True:
        data = process.stdout.read(frame_bytes)
        if len(data) < frame_bytes:
            break
        row = np.frombuffer(data, np.uint8).reshape(row_height, -1)
        t = _stamp(stamps, count, reader)
        count += 1
        for region, (x, w, h) in zip(job.regions, placed, strict=True):
            judge = judges[region]
            kinds[region].append(judge.classify(row[:h, x : x + w], t))
            references[region].append(NO_REFERENCE if judge.reference_t is None else judge.reference_t)
    code = process.wait()
    reader.join()
    if code != 0 or count == 0:
        tail = b"".join(log[-3:]).decode(errors="replace").strip().splitlines()
        if code != 0:
            raise BrokenMediaError("undecodable video", job.video_path, tail[-1] if tail else f"ffmpeg exit {code}")
        if job.start_s > 0:
            raise BrokenMediaError("truncated video", job.video_path, f"no frame could be decoded from {job.start_s:.1f} s on")
        raise BrokenMediaError("undecodable video", job.video_path, "no frame could be decoded")
    return (
        np.asarray(stamps[:count], dtype=np.float64),
        {r: np.asarray(kinds[r], dtype=object) for r in job.regions},
        {r: np.asarray(references[r], dtype=np.float64) for r in job.regions},
    )


def _stream_facts(path: Path) -> tuple[float, float, int, int]:
    """(fps, declared frame count, width, height) from the container (`probe`), or `BrokenMediaError`.

    The count is NaN when the container declares none (then no truncation check is possible).
    """
    if not path.is_file():
        raise BrokenMediaError("missing video", path, "no such file")
    try:
        video = probe_media(path).video
    except BrokenMediaError as exc:
        raise BrokenMediaError("undecodable video", path, exc.detail) from exc
    if video is None:
        raise BrokenMediaError("undecodable video", path, "no video stream")
    if not video.fps > 0:
        raise BrokenMediaError("undecodable video", path, "no frame rate in the stream")
    if video.width <= 0 or video.height <= 0:
        raise BrokenMediaError("undecodable video", path, "no frame size in the stream")
    declared = float(video.frames) if video.frames is not None else math.nan
    return video.fps, declared, video.width, video.height


def _read_log(process: subprocess.Popen[bytes], stamps: list[float], log: list[bytes]) -> None:
    """Collect `showinfo` timestamps (in frame order) and keep the rest of ffmpeg's log for errors."""
    assert process.stderr is not None
    for line in process.stderr:
        match = _SHOWINFO.search(line)
        if match:
            stamps.append(float(match.group(1)))
        elif b"showinfo" not in line:
            log.append(line)
            del log[:-20]


def _stamp(stamps: list[float], index: int, reader: threading.Thread) -> float:
    """The timestamp of frame `index`: `showinfo` logs it before ffmpeg writes the frame, almost always."""
    waited = 0.0
    while len(stamps) <= index:
        if (not reader.is_alive() and len(stamps) <= index) or waited > STAMP_WAIT_S:
            raise RuntimeError(f"ffmpeg wrote frame {index} without its showinfo timestamp")
        reader.join(0.001)
        waited += 0.001
    return stamps[index]


# ----------------------------------------------------------------------------------- stitching
@dataclass(frozen=True)
class RecordingFrames:
    """Every frame of a recording in decoding order, each owned by exactly one chunk."""

    pts: np.ndarray
    kinds: dict[str, np.ndarray]
    fps: float
    declared_frames: float
    chunks: tuple[ChunkFrames, ...]


def stitch(chunks: Sequence[ChunkFrames], reclassify: Callable[[ChunkFrames, float], ChunkFrames]) -> RecordingFrames:
    """Chunks joined into the classification one pass over the whole recording gives.

    Chunk k is exact when, at the last priming frame, its classifier holds the same reference frame
    as the stitched chunks before it. Otherwise `reclassify(chunk, prime_s)` (a callable returning a
    classify-only `ChunkFrames`) redoes it from the frame the single pass would compare against.
    """
    ordered = sorted(chunks, key=lambda c: c.index)
    pts = [ordered[0].pts[ordered[0].own]]
    kinds = {r: [k[ordered[0].own]] for r, k in ordered[0].kinds.items()}
    refs = {r: [v[ordered[0].own]] for r, v in ordered[0].references.items()}
    for chunk in ordered[1:]:
        before_pts = np.concatenate(pts)
        before_refs = {r: np.concatenate(v) for r, v in refs.items()}
        if not _converged(chunk, before_pts, before_refs):
            prime = _exact_prime(before_pts, before_refs, chunk.fps)
            redone = reclassify(chunk, prime)
            chunk = replace(redone, proxies=chunk.proxies, proxy_start_s=chunk.proxy_start_s)
        own = chunk.own
        pts.append(chunk.pts[own])
        for region in kinds:
            kinds[region].append(chunk.kinds[region][own])
            refs[region].append(chunk.references[region][own])
    return RecordingFrames(
        pts=np.concatenate(pts),
        kinds={r: np.concatenate(k) for r, k in kinds.items()},
        fps=ordered[0].fps,
        declared_frames=ordered[0].declared_frames,
        chunks=tuple(ordered),
    )


def _converged(chunk: ChunkFrames, before_pts: np.ndarray, before_refs: dict[str, np.ndarray]) -> bool:
    """Whether the chunk's state at its last priming frame equals the single pass's at that frame."""
    priming = np.flatnonzero(~chunk.own)
    if not len(priming):
        return False  # nothing decoded before the boundary: the state there is unknown
    last = priming[-1]
    where = np.flatnonzero(np.abs(before_pts - chunk.pts[last]) < 0.25 / chunk.fps)
    if not len(where):
        return False
    return all(chunk.references[r][last] == before_refs[r][where[-1]] for r in before_refs)


def _exact_prime(before_pts: np.ndarray, before_refs: dict[str, np.ndarray], fps: float) -> float:
    """Where to start decoding so that every region's classifier reaches the single pass's state.

    From the reference frame itself a fresh classifier takes it as usable (it was, and nothing is
    compared before it); with no reference, from the first frame after the last reset.
    """
    starts = []
    for references in before_refs.values():
        reference = references[-1]
        if reference != NO_REFERENCE:
            starts.append(reference)
        else:
            steps = np.flatnonzero(np.diff(before_pts) > 1.5 / fps)
            starts.append(float(before_pts[steps[-1] + 1]) if len(steps) else 0.0)
    return max(0.0, min(starts) - 0.25 / fps)


def video_timelines(
    path: Path, regions: tuple[str, ...], limits: VideoThresholds | GapsConfig
) -> dict[str, Timeline]:
    """Per region, the frames `FrameClassifier` does not call usable, as gaps: one decoding pass
    (`scan_chunk`, the whole file as one chunk, no proxies).

    Missing frames come from timestamps: a step over `MISSING_STEP_PERIODS` frame periods leaves
    the stretch in between uncovered, and the timeline ends after the last frame (a stream that
    stops early).
    """
    if isinstance(limits, GapsConfig):
        limits = VideoThresholds.from_config(limits)
    chunk = scan_chunk(ChunkJob(path.stem, path, tuple(regions), 0, 0.0, None, 0.0, limits, None))
    return video_timelines_of(path, chunk.pts, chunk.kinds, chunk.fps, chunk.declared_frames)
