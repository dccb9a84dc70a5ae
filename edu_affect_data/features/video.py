"""Video features: the speaker's region of the recording, sampled at a fixed rate, as JPEG frames
and/or RGB arrays at an image network's input size (`features.embeddings` embeds those).

Decoding is sequential (one seek to just before the window, then `grab`, and `retrieve` only for
frames that will be shown or compared), because seeking per output frame re-decodes from the
previous keyframe every time. Frames are placed by their presentation timestamps, not by index,
so a stream that ends early or jumps in time yields *missing* frames at the right times instead
of silently shifted pictures. A frame is usable under the very rule of the gap detector
(`edu_affect_data.frames.FrameClassifier`, thresholds from `config.gaps`): not missing, not
black, not frozen (a repeat of the last usable frame), and with `gaps.face_check` not faceless;
unusable frames stay in the sequence, flagged in `frame_available`, so every session keeps a
regular time grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edu_affect_data.config import GapsConfig, VideoFeaturesConfig
from edu_affect_data.frames import (
    MISSING_STEP_PERIODS,
    FaceDetector,
    FaceDetectorMissing,
    FrameClassifier,
    UnknownRegionError,
    region_pixels,
)

#: Frames this many source periods before a target are retrieved (the shown one and its predecessor).
RETRIEVE_WINDOW_PERIODS = 2.5
#: Smallest face box (pixels at the detection width) the face crop accepts.
FACE_MIN_SIZE = 24
#: Face box side = this factor times the detected box (hair, chin and some context).
FACE_MARGIN = 1.6
#: Width the region is reduced to before Haar detection (speed; boxes are scaled back).
FACE_DETECT_WIDTH = 240
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


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


@dataclass
class _Decoded:
    pts: float
    usable: bool
    gray: np.ndarray
    region: np.ndarray
    #: Rendered on first display only: predecessors retrieved for the frozen test are never cropped.
    jpeg: bytes | None = None
    rgb: np.ndarray | None = None


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
    video: VideoFeaturesConfig,
    gaps: GapsConfig,
    *,
    jpeg: bool = True,
    pixels_size: int | None = None,
) -> SessionFrames:
    """Frames of [start_s, end_s) (recording seconds) at `video.fps`, cropped and resized.

    `jpeg`: JPEG-encode them at `video.size` (the `frames` column). `pixels_size`: also return them
    as RGB arrays of that side (an image network's input), resized from the same decoded picture,
    so JPEG frames and embeddings of one build see the same frames with the same availability.
    """
    import cv2

    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise VideoFeatureError(f"{path}: OpenCV cannot open the video")
    try:
        source_fps = capture.get(cv2.CAP_PROP_FPS)
        if not source_fps or source_fps <= 0 or not np.isfinite(source_fps):
            raise VideoFeatureError(f"{path}: the video reports no frame rate")
        period = 1.0 / source_fps
        count = int(np.floor((end_s - start_s) * video.fps + 1e-6))
        times = (np.arange(count) / video.fps).astype(np.float64)
        targets = start_s + times
        try:
            judge = FrameClassifier.from_config(gaps, period_s=period)
        except FaceDetectorMissing as exc:
            raise VideoFeatureError(str(exc)) from exc
        cropper = _FaceCropper(judge.faces) if video.crop == "face" else None
        quality = [int(cv2.IMWRITE_JPEG_QUALITY), video.jpeg_quality]
        black = _encode(np.zeros((video.size, video.size, 3), np.uint8), quality) if jpeg else b""
        pixels = np.zeros((count, pixels_size, pixels_size, 3), np.uint8) if pixels_size else None

        capture.set(cv2.CAP_PROP_POS_FRAMES, max(0, int(np.floor(start_s * source_fps)) - 3))
        jpegs: list[bytes] = []
        available: list[bool] = []
        shown: _Decoded | None = None

        def render(decoded: _Decoded) -> None:
            """Crop once, then the JPEG and/or the RGB array of a frame shown for the first time."""
            picture = cropper.crop(decoded.region, decoded.gray) if cropper is not None else decoded.region
            if jpeg:
                resized = cv2.resize(picture, (video.size, video.size), interpolation=cv2.INTER_AREA)
                decoded.jpeg = _encode(resized, quality)
            if pixels_size:
                small = cv2.resize(picture, (pixels_size, pixels_size), interpolation=cv2.INTER_AREA)
                decoded.rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)

        def emit_until(limit: float) -> None:
            """Serve every pending target before `limit` from the frame shown now."""
            while len(available) < count and targets[len(available)] < limit - 1e-6:
                target = targets[len(available)]
                if shown is None or target - shown.pts > MISSING_STEP_PERIODS * period:
                    if jpeg:
                        jpegs.append(black)
                    available.append(False)  # its pixels stay black
                else:
                    if shown.jpeg is None and shown.rgb is None:
                        render(shown)
                    if jpeg:
                        jpegs.append(shown.jpeg or b"")
                    if pixels is not None and shown.rgb is not None:
                        pixels[len(available)] = shown.rgb
                    available.append(shown.usable)

        while len(available) < count and capture.grab():
            pts = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            emit_until(pts)
            if len(available) == count:
                break
            if pts < targets[len(available)] - RETRIEVE_WINDOW_PERIODS * period:
                shown = None
                judge.reset()  # skipped frames: the next one is not compared across them
                continue
            ok, frame = capture.retrieve()
            if not ok:
                shown = None
                judge.reset()
                continue
            part = _region(frame, region)
            gray = cv2.cvtColor(part, cv2.COLOR_BGR2GRAY)
            shown = _Decoded(pts, judge.classify(gray, pts) == "usable", gray, part)
        emit_until(float("inf"))
    finally:
        capture.release()
    return SessionFrames(
        jpegs=jpegs,
        times=times.astype(np.float32),
        available=np.asarray(available, dtype=bool),
        face_fallbacks=cropper.fallbacks if cropper is not None else 0,
        pixels=pixels,
    )


def _region(frame: np.ndarray, region: str) -> np.ndarray:
    try:
        return region_pixels(frame, region)
    except UnknownRegionError as exc:
        raise VideoFeatureError(str(exc)) from exc


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

