"""A session window's frames: the speaker's region sampled on a regular grid (`FrameGrid`), as JPEG
frames and/or RGB arrays at an image network's input size (the `frames` extractor's embedder
embeds those; `edu-data predict` samples raw media the same way).

The pixels come from the ingest's one pass over the recording (`video_pass.py`): the session's
region proxy (intra-only: only the frames a session shows are decoded, each on its own) and the
recording's frame classification, so a frame is usable exactly when
the gap filter judged it so (`edu_affect_data.media.frames.FrameClassifier`, thresholds from
`config.gaps`): not missing, not black, not frozen, and with `gaps.face_check` not faceless.
Frames are placed by their presentation timestamps, not by index, so a stream that ends early or
jumps in time yields *missing* frames at the right times instead of silently shifted pictures;
unusable frames stay in the sequence, flagged in `frame_available`, so every session keeps a
regular time grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from edu_affect_data.media.frames import (
    MISSING_STEP_PERIODS,
    REGIONS,
    FaceDetector,
    FaceDetectorMissing,
)
from edu_affect_data.media.options import GapsConfig, MediaConfig
from edu_affect_data.media.store import RegionFrames

#: Decoding starts this long before a raw window, so its first instant shows a frame.
WINDOW_LEAD_S = 0.5
#: The seek aims this long before the first wanted frame.
SEEK_LEAD_S = 0.5
#: Smallest face box (pixels at the detection width) the face crop accepts.
FACE_MIN_SIZE = 24
#: Face box side = this factor times the detected box (hair, chin and some context).
FACE_MARGIN = 1.6
#: Width the region is reduced to before Haar detection (speed; boxes are scaled back).
FACE_DETECT_WIDTH = 240
#: How a proxy picture is scaled to a frame (`scaled_bgr`), named in the card and the features' part hash.
SCALING = "OpenCV INTER_AREA on each 4:2:0 plane, then BT.601 YUV to RGB; face crops converted first"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class FrameGrid(Protocol):
    """How a session's frames are sampled and stored (the `frames` extractor's options satisfy it)."""

    @property
    def fps(self) -> float: ...

    @property
    def size(self) -> int: ...

    @property
    def crop(self) -> str: ...

    @property
    def jpeg_quality(self) -> int: ...


class VideoFeatureError(ValueError):
    """A video that cannot serve a session window; the message names the file."""


@dataclass(frozen=True)
class SessionFrames:
    """Frames of one session on a regular time grid (session seconds)."""

    #: JPEG frames at `video.size` (empty when not asked for).
    jpegs: list[bytes]
    times: np.ndarray  # float32, seconds from the session start
    available: np.ndarray  # bool, False for missing / black / frozen
    #: Face crop only: shown frames where no face was found and the full region was used.
    face_fallbacks: int
    #: (n, side, side, 3) uint8 RGB at `pixels_size` (black where missing), when asked for.
    pixels: np.ndarray | None = None


class _FaceCropper:
    """Face box (the shared `FaceDetector`), enlarged; the full region when no face is found (counted)."""

    def __init__(self, faces: FaceDetector | None) -> None:
        try:
            self.faces = faces if faces is not None else FaceDetector()
        except FaceDetectorMissing as exc:
            raise VideoFeatureError(str(exc)) from exc
        self.fallbacks = 0

    def crop(self, region: np.ndarray, gray: np.ndarray) -> np.ndarray:
        import cv2

        scale = min(1.0, FACE_DETECT_WIDTH / gray.shape[1])
        small = (
            cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            if scale < 1
            else gray
        )
        faces = self.faces.boxes(small, min_size=FACE_MIN_SIZE)
        if not faces:
            self.fallbacks += 1
            return region
        x, y, w, h = (v / scale for v in max(faces, key=lambda f: f[2] * f[3]))
        side = min(max(w, h) * FACE_MARGIN, region.shape[0], region.shape[1])
        cx, cy = x + w / 2, y + h / 2
        left = int(np.clip(cx - side / 2, 0, region.shape[1] - side))
        top = int(np.clip(cy - side / 2, 0, region.shape[0] - side))
        return region[top : top + int(side), left : left + int(side)]


def extract_frames(
    path: Path,
    region: str,
    start_s: float,
    end_s: float,
    video: FrameGrid,
    gaps: GapsConfig,
    *,
    jpeg: bool = True,
    pixels_size: int | None = None,
    media: MediaConfig | None = None,
) -> SessionFrames:
    """Frames of [start_s, end_s) (recording seconds) of a source video that no ingest has seen.

    For raw media (`edu-data predict`, tests): the window goes through the build's own pass
    (`video_pass.scan_chunk`, with `media`'s proxy settings, into a temporary folder) and is then
    sampled by `proxy_frames`, so a prediction sees pixels made exactly like the dataset's. Frames
    are judged from the window's start on (the build judges them from the recording's start).
    """
    import tempfile

    from edu_affect_data.media.timelines import BrokenMediaError, VideoThresholds
    from edu_affect_data.media.video_pass import ChunkJob, ProxySpec, scan_chunk

    media = media or MediaConfig()
    if region not in REGIONS:
        raise VideoFeatureError(f"{path}: unknown video region {region!r} (one of {', '.join(REGIONS)})")
    with tempfile.TemporaryDirectory(prefix="edu-frames-") as folder:
        proxy = Path(folder) / f"{region}.mp4"
        begin = max(0.0, start_s - WINDOW_LEAD_S)
        job = ChunkJob(
            path.stem, path, (region,), 0, begin, end_s, begin, VideoThresholds.from_config(gaps),
            ProxySpec(media.proxy_height, media.proxy_crf), ((region, str(proxy)),),
        )  # fmt: skip
        try:
            chunk = scan_chunk(job)
        except BrokenMediaError as exc:
            raise VideoFeatureError(str(exc)) from exc
        order = np.argsort(chunk.pts, kind="stable")
        frames = RegionFrames(chunk.pts[order], chunk.kinds[region][order] == "usable")
        return proxy_frames(proxy, chunk.proxy_start_s, frames, start_s, end_s, video, jpeg=jpeg, pixels_size=pixels_size)


def proxy_frames(
    proxy: Path,
    proxy_start_s: float,
    frames: RegionFrames,
    start_s: float,
    end_s: float,
    video: FrameGrid,
    *,
    jpeg: bool = True,
    pixels_size: int | None = None,
) -> SessionFrames:
    """The session's frames at `video.fps` from its region's proxy, usable as the gap filter judged them.

    The grid is `start_s + k / fps`; each point shows the last frame at or before it, or nothing
    (missing) when that frame is more than `MISSING_STEP_PERIODS` frame periods old. Which frames
    are shown is decided from the classification's timestamps alone, so only those are decoded
    (`_read_proxy`), converted, cropped and scaled.
    """
    import cv2

    count = int(np.floor((end_s - start_s) * video.fps + 1e-6))
    times = np.arange(count, dtype=np.float64) / video.fps
    targets = start_s + times
    pts = frames.pts
    steps = np.diff(pts)
    period = float(np.median(steps)) if len(steps) and np.median(steps) > 0 else 1.0 / 30.0
    shown = np.searchsorted(pts, targets + 1e-6, side="right") - 1
    present = (shown >= 0) & (targets - pts[np.maximum(shown, 0)] <= MISSING_STEP_PERIODS * period)
    in_proxy = pts >= proxy_start_s - 1e-6
    first_proxied = int(np.argmax(in_proxy)) if in_proxy.any() else len(pts)
    if present.any() and shown[present].min() < first_proxied:
        raise VideoFeatureError(f"{proxy}: starts after the frame shown at {start_s:.3f} s; run the ingest stage again")
    wanted = sorted({int(i) for i in shown[present]})
    pictures = _read_proxy(proxy, pts[first_proxied:] - proxy_start_s, [i - first_proxied for i in wanted], period)
    cropper = _FaceCropper(None) if video.crop == "face" else None
    quality = [int(cv2.IMWRITE_JPEG_QUALITY), video.jpeg_quality]
    rendered: dict[int, tuple[bytes, np.ndarray | None]] = {}
    sides = ({video.size} if jpeg else set()) | ({pixels_size} if pixels_size else set())
    for index, picture in zip(wanted, pictures, strict=True):
        if cropper is not None:
            bgr = cv2.cvtColor(picture, cv2.COLOR_YUV2BGR_I420)
            cropped = cropper.crop(bgr, cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
            scaled = {side: cv2.resize(cropped, (side, side), interpolation=cv2.INTER_AREA) for side in sides}
        else:
            scaled = {side: scaled_bgr(picture, side) for side in sides}
        encoded = _encode(scaled[video.size], quality) if jpeg else b""
        rgb = cv2.cvtColor(scaled[pixels_size], cv2.COLOR_BGR2RGB) if pixels_size else None
        rendered[index] = (encoded, rgb)
    black = _encode(np.zeros((video.size, video.size, 3), np.uint8), quality) if jpeg else b""
    jpegs: list[bytes] = []
    pixels = np.zeros((count, pixels_size, pixels_size, 3), np.uint8) if pixels_size else None
    available = np.zeros(count, dtype=bool)
    for k in range(count):
        if not present[k]:
            if jpeg:
                jpegs.append(black)
            continue  # missing: black pixels, unavailable
        encoded, rgb = rendered[int(shown[k])]
        if jpeg:
            jpegs.append(encoded)
        if pixels is not None and rgb is not None:
            pixels[k] = rgb
        available[k] = bool(frames.usable[shown[k]])
    return SessionFrames(
        jpegs=jpegs,
        times=times.astype(np.float32),
        available=available,
        face_fallbacks=cropper.fallbacks if cropper is not None else 0,
        pixels=pixels,
    )


def scaled_bgr(i420: np.ndarray, side: int) -> np.ndarray:
    """A decoded 4:2:0 picture (`yuv420p` rows, as `_read_proxy` returns it) at `side` x `side`, BGR.

    Each plane is resized (INTER_AREA) before the colour conversion, not after: the conversion then
    runs on the small picture and the resize on one and a half planes instead of three, which cut the
    30-fps features' CPU by about a quarter (bench/RESULTS.md, issue 24). Both orders are linear maps of
    the same samples; they differ only in where 8-bit rounding happens (a mean absolute difference
    under one level). `side` is even (`FramesOptions`, `EmbedderOptions`), as 4:2:0 needs.
    """
    import cv2

    height = i420.shape[0] * 2 // 3
    width = i420.shape[1]
    if side % 2 or height % 2 or width % 2:
        raise VideoFeatureError(f"a {width}x{height} picture cannot be scaled to an odd or from an odd size ({side})")
    flat, area, quarter = i420.reshape(-1), height * width, height * width // 4
    luma = cv2.resize(i420[:height], (side, side), interpolation=cv2.INTER_AREA)
    chroma = [
        cv2.resize(flat[first : first + quarter].reshape(height // 2, width // 2), (side // 2, side // 2), interpolation=cv2.INTER_AREA)
        for first in (area, area + quarter)
    ]
    planes = np.concatenate([luma.ravel(), *(c.ravel() for c in chroma)]).reshape(side * 3 // 2, side)
    return cv2.cvtColor(planes, cv2.COLOR_YUV2BGR_I420)


def _read_proxy(proxy: Path, clock: np.ndarray, wanted: list[int], period: float) -> list[np.ndarray]:
    """Proxy frames `wanted` (ascending indices into `clock`, the proxy's frame times), as 4:2:0 rows
    (`yuv420p`: the luma plane, then the two chroma planes, each folded to the luma's width).

    The proxy is intra-only, so each frame is one packet that decodes on its own: PyAV demuxes the
    window (one seek, by timestamp, to just before the first wanted frame) and only the wanted
    packets are decoded and converted; a 5-fps session of a 30-fps recording decodes a sixth of
    its frames. Every packet is matched to `clock` by its timestamp, never by counting.
    """
    import av

    if not wanted:
        return []
    try:
        container = av.open(str(proxy))
    except (av.FFmpegError, OSError) as exc:
        raise VideoFeatureError(f"{proxy}: cannot open the proxy ({exc}); run the ingest stage again") from exc
    pictures: list[np.ndarray] = []
    with container:
        stream = container.streams.video[0]
        stream.codec_context.thread_type = "NONE"  # one frame in, one frame out: no decoder delay
        if stream.time_base is None:
            raise VideoFeatureError(f"{proxy}: the proxy's stream has no time base; run the ingest stage again")
        time_base = float(stream.time_base)
        start = clock[wanted[0]] - SEEK_LEAD_S
        if start > 0:
            container.seek(int(start / time_base), stream=stream, backward=True)
        targets = iter(wanted)
        target = next(targets)
        for packet in container.demux(stream):
            if packet.pts is None:
                continue  # the demuxer's final flush packet
            t = packet.pts * time_base
            if t < clock[target] - period / 2:
                continue  # not shown: never decoded
            if t > clock[target] + period / 2:
                raise VideoFeatureError(f"{proxy}: no frame at {clock[target]:.3f} s (next at {t:.3f}); run the ingest stage again")
            frames = packet.decode()
            if len(frames) != 1:
                raise VideoFeatureError(f"{proxy}: the packet at {t:.3f} s gave {len(frames)} frames; run the ingest stage again")
            pictures.append(frames[0].to_ndarray(format="yuv420p"))
            target = next(targets, -1)
            if target < 0:
                return pictures
    raise VideoFeatureError(f"{proxy}: ends before the frame at {clock[target]:.3f} s; run the ingest stage again")


def _encode(bgr: np.ndarray, quality: list[int]) -> bytes:
    import cv2

    ok, buffer = cv2.imencode(".jpg", bgr, quality)
    if not ok:
        raise VideoFeatureError("OpenCV could not encode a JPEG frame")
    return buffer.tobytes()


def imagenet_transform(batch: dict[str, Any]) -> dict[str, Any]:
    """`Dataset.with_transform` hook: `frames` (PIL images) -> float tensors (n, 3, H, W), ImageNet-normalised.

    Normalisation happens at load time so the stored JPEGs stay model-agnostic.
    """
    import torch

    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    converted = []
    for frames in batch["frames"]:
        pixels = (
            np.stack([np.asarray(image.convert("RGB"), dtype=np.uint8) for image in frames])
            if len(frames)
            else np.zeros((0, 1, 1, 3), np.uint8)
        )
        tensor = torch.from_numpy(pixels).permute(0, 3, 1, 2).float().div_(255.0)
        converted.append((tensor - mean) / std)
    return {**batch, "frames": converted}

