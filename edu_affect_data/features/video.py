"""Video features: the speaker's region of the recording, sampled at a fixed rate, as JPEG frames.

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

    jpegs: list[bytes]
    times: np.ndarray  # float32, seconds from the session start
    available: np.ndarray  # bool, False for missing / black / frozen
    #: Face crop only: shown frames where no face was found and the full region was used.
    face_fallbacks: int


@dataclass
class _Decoded:
    pts: float
    usable: bool
    gray: np.ndarray
    region: np.ndarray
    #: Encoded on first display only: predecessors retrieved for the frozen test are never cropped.
    jpeg: bytes | None = None


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
) -> SessionFrames:
    """Frames of [start_s, end_s) (recording seconds) at `video.fps`, cropped, resized, JPEG-encoded."""
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
        black = _encode(np.zeros((video.size, video.size, 3), np.uint8), quality)

        capture.set(cv2.CAP_PROP_POS_FRAMES, max(0, int(np.floor(start_s * source_fps)) - 3))
        jpegs: list[bytes] = []
        available: list[bool] = []
        shown: _Decoded | None = None

        def emit_until(limit: float) -> None:
            """Serve every pending target before `limit` from the frame shown now."""
            while len(jpegs) < count and targets[len(jpegs)] < limit - 1e-6:
                target = targets[len(jpegs)]
                if shown is None or target - shown.pts > MISSING_STEP_PERIODS * period:
                    jpegs.append(black)
                    available.append(False)
                else:
                    if shown.jpeg is None:
                        picture = (
                            cropper.crop(shown.region, shown.gray)
                            if cropper is not None
                            else shown.region
                        )
                        resized = cv2.resize(
                            picture, (video.size, video.size), interpolation=cv2.INTER_AREA
                        )
                        shown.jpeg = _encode(resized, quality)
                    jpegs.append(shown.jpeg)
                    available.append(shown.usable)

        while len(jpegs) < count and capture.grab():
            pts = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            emit_until(pts)
            if len(jpegs) == count:
                break
            if pts < targets[len(jpegs)] - RETRIEVE_WINDOW_PERIODS * period:
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

