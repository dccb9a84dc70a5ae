"""One definition of a video frame's speaker region and of whether a frame carries usable signal.

The gap scan (`video_pass.video_timelines`, which decides which sessions are kept), the
features (`media.sampling.extract_frames`, whose `frame_available` flags the published frames)
and the annotators' clips (`annotation.clips`) all look at the same picture through this module,
so a session is never kept for a stretch that its published frames then call unusable, or the
reverse, and an annotator sees exactly the columns the features were cut from.

- **Region** (`region_columns`): an IEMOCAP dialog video shows both actors side by side; the
  speaker is the `left` or `right` half (the middle column of an odd width belongs to neither, so
  both halves are equally wide); `full` is the whole frame (MOSEI).
- **Frame kind** (`FrameClassifier`, thresholds from `config.gaps`): `black` (mean luma under
  `video_black_luma`), `frozen` (mean absolute difference to the last usable frame under
  `video_frozen_mad`), `no_face` (only with `face_check`: no frontal face found), else `usable`.
  Pixels are compared at most `COMPARE_WIDTH` wide, so the verdict does not depend on the
  recording's resolution (and decoding noise averages out the same way everywhere).
- **Missing**: a timestamp step over `MISSING_STEP_PERIODS` frame periods means frames are missing
  in between; the frame after such a hole is never called frozen against the one before it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import numpy as np

from edu_affect_data.media.options import GapsConfig

#: The speaker regions a session may name (`video_region` in the sessions table).
REGIONS: tuple[str, ...] = ("left", "right", "full")
#: Regions are shrunk by an integer factor until they are at most this wide before being judged.
COMPARE_WIDTH = 160
#: A timestamp step beyond this many frame periods means frames are missing in between.
MISSING_STEP_PERIODS = 1.5

FrameKind = Literal["usable", "black", "frozen", "no_face"]
#: The verdicts of `FrameClassifier.classify`, usable first.
FRAME_KINDS: tuple[FrameKind, ...] = ("usable", "black", "frozen", "no_face")


class UnknownRegionError(ValueError):
    """A `video_region` that is none of `REGIONS`."""


class FaceDetectorMissing(RuntimeError):
    """OpenCV's frontal-face Haar cascade is not installed (face check or face crop asked for)."""


# ------------------------------------------------------------------------------------- region
def region_columns(width: int, region: str) -> tuple[int, int]:
    """Pixel columns `[lo, hi)` of `region` in a frame `width` pixels wide.

    The single rule behind every crop: array slicing here and the ffmpeg crop of the clips.
    """
    half = width // 2
    if region == "left":
        return 0, half
    if region == "right":
        return width - half, width
    if region == "full":
        return 0, width
    raise UnknownRegionError(f"unknown video region {region!r} (one of {', '.join(REGIONS)})")


def region_pixels(frame: np.ndarray, region: str) -> np.ndarray:
    """The speaker's part of a frame (a view, no copy), any number of channels."""
    lo, hi = region_columns(frame.shape[1], region)
    return frame[:, lo:hi]


def ffmpeg_crop(region: str, width: int) -> str:
    """The ffmpeg `crop` filter (with a trailing comma) for `region` of a `width`-wide video.

    Empty for `full`. `exact=1` keeps odd offsets/widths as given instead of letting ffmpeg round
    them to the chroma grid, so the clip shows exactly the columns `region_pixels` takes.
    """
    lo, hi = region_columns(width, region)
    if (lo, hi) == (0, width):
        return ""
    return f"crop=w={hi - lo}:h=ih:x={lo}:y=0:exact=1,"


def compare_factor(width: int) -> int:
    """The smallest integer factor that makes a region `width` wide at most `COMPARE_WIDTH` wide."""
    return max(1, math.ceil(width / COMPARE_WIDTH))


def compare_pixels(gray: np.ndarray) -> np.ndarray:
    """`gray` shrunk by `compare_factor` (int16); the video pass shrinks inside the decoder already."""
    import cv2

    factor = compare_factor(gray.shape[1])
    if factor > 1:
        gray = cv2.resize(
            gray, (gray.shape[1] // factor, gray.shape[0] // factor), interpolation=cv2.INTER_AREA
        )
    return gray.astype(np.int16)


# --------------------------------------------------------------------------------------- faces
class FaceDetector:
    """OpenCV's frontal-face Haar cascade with one set of detection parameters.

    One instance per worker (a cascade is not meant to be shared between threads); the face check
    and the face-centred crop of the features use the same instance when both are on.
    """

    SCALE_FACTOR = 1.1
    MIN_NEIGHBORS = 4

    def __init__(self) -> None:
        import cv2

        path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"  # type: ignore[attr-defined]
        self.cascade = cv2.CascadeClassifier(str(path))
        if self.cascade.empty():
            raise FaceDetectorMissing(
                f"{path}: OpenCV's frontal-face Haar cascade is not installed "
                "(needs opencv-python-headless 4.x; asked for by gaps.face_check or features.extractors.frames.crop: face)"
            )

    def boxes(self, gray: np.ndarray, *, min_size: int = 0) -> list[tuple[int, int, int, int]]:
        """Face boxes `(x, y, w, h)` in `gray`'s pixel coordinates (uint8 or int16 gray)."""
        found = self.cascade.detectMultiScale(
            np.asarray(gray, dtype=np.uint8),
            scaleFactor=self.SCALE_FACTOR,
            minNeighbors=self.MIN_NEIGHBORS,
            minSize=(min_size, min_size),
        )
        return [(int(x), int(y), int(w), int(h)) for x, y, w, h in found]


# ---------------------------------------------------------------------------------- classifier
class FrameClassifier:
    """The verdict on each frame of one region, in decoding order (stateful: it remembers the last
    usable frame for the frozen test).

    Callers that skip frames (grab without decoding) call `reset()`, so the next frame is not
    compared across the skipped ones; a timestamp jump of more than `MISSING_STEP_PERIODS` periods
    (when `period_s` is known) does the same by itself.
    """

    def __init__(
        self,
        black_luma: float,
        frozen_mad: float,
        *,
        faces: FaceDetector | None = None,
        period_s: float | None = None,
    ) -> None:
        self.black_luma = black_luma
        self.frozen_mad = frozen_mad
        self.faces = faces
        self.max_step_s = MISSING_STEP_PERIODS * period_s if period_s else math.inf
        self._reference: np.ndarray | None = None
        self._last_t: float | None = None
        #: Timestamp of the frame the next one is compared to (None: no reference), so a chunked pass
        #: can tell whether it reached the state of a single pass (`video_pass.stitch`).
        self.reference_t: float | None = None

    @classmethod
    def from_config(
        cls, gaps: GapsConfig, *, period_s: float | None = None, faces: FaceDetector | None = None
    ) -> FrameClassifier:
        """Thresholds from `config.gaps`; a face detector is made when `face_check` is on."""
        if gaps.face_check and faces is None:
            faces = FaceDetector()
        return cls(
            gaps.video_black_luma,
            gaps.video_frozen_mad,
            faces=faces if gaps.face_check else None,
            period_s=period_s,
        )

    def reset(self) -> None:
        """Forget the last usable frame (the caller skipped frames)."""
        self._reference = None
        self._last_t = None
        self.reference_t = None

    def classify(self, gray: np.ndarray, t: float) -> FrameKind:
        """The kind of the region's grayscale picture `gray` shown at `t` seconds."""
        if self._last_t is not None and t - self._last_t > self.max_step_s:
            self._reference = None
            self.reference_t = None
        self._last_t = t
        pixels = compare_pixels(gray)
        kind = self._kind(pixels)
        if kind == "usable":
            self._reference = pixels
            self.reference_t = t
        return kind

    def _kind(self, pixels: np.ndarray) -> FrameKind:
        if float(pixels.mean()) < self.black_luma:
            return "black"
        reference = self._reference
        if (
            reference is not None
            and reference.shape == pixels.shape
            and float(np.abs(pixels - reference).mean()) < self.frozen_mad
        ):
            return "frozen"
        if self.faces is not None and not self.faces.boxes(pixels):
            return "no_face"
        return "usable"

