"""One region slicer and one frame classifier, shared by the gap scan, the features and the clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edu_affect_data.media.frames import (
    COMPARE_WIDTH,
    FrameClassifier,
    UnknownRegionError,
    compare_pixels,
    ffmpeg_crop,
    region_columns,
    region_pixels,
)
from edu_affect_data.media.options import GapsConfig
from tests.helpers.media import ffmpeg


@pytest.mark.parametrize("width", [320, 321, 322, 720])
def test_halves_are_equally_wide_and_full_is_everything(width: int) -> None:
    left, right, full = (region_columns(width, r) for r in ("left", "right", "full"))
    assert left[0] == 0 and right[1] == width and full == (0, width)
    assert left[1] - left[0] == right[1] - right[0] == width // 2
    assert left[1] <= right[0]


def test_region_pixels_slices_columns_and_unknown_region_is_an_error() -> None:
    frame = np.arange(4 * 10).reshape(4, 10)
    np.testing.assert_array_equal(region_pixels(frame, "right"), frame[:, 5:])
    with pytest.raises(UnknownRegionError, match="middle"):
        region_pixels(frame, "middle")


def test_ffmpeg_crop_takes_the_same_columns_as_the_array_slice(tmp_path: Path) -> None:
    """An odd width on a yuv420p source: ffmpeg's crop must not round to the chroma grid."""
    width, height = 322, 16
    rng = np.random.default_rng(0)
    picture = rng.integers(0, 256, (height, width), dtype=np.uint8)
    source = tmp_path / "gray.raw"
    source.write_bytes(picture.tobytes())
    assert ffmpeg_crop("full", width) == ""
    for region in ("left", "right"):
        cropped = ffmpeg(
            "-f", "rawvideo", "-pix_fmt", "gray", "-s", f"{width}x{height}", "-i", str(source),
            "-vf", ffmpeg_crop(region, width).rstrip(","), "-f", "rawvideo", "-pix_fmt", "gray", "-",
        )  # fmt: skip
        expected = region_pixels(picture, region)
        np.testing.assert_array_equal(np.frombuffer(cropped, np.uint8).reshape(expected.shape), expected)


def test_compare_pixels_shrink_by_an_integer_factor() -> None:
    assert compare_pixels(np.zeros((120, 160), np.uint8)).shape == (120, 160)
    small = compare_pixels(np.zeros((480, 360), np.uint8))
    assert small.shape == (160, 120) and small.shape[1] <= COMPARE_WIDTH and small.dtype == np.int16


def noise(seed: int, shape: tuple[int, int] = (120, 160)) -> np.ndarray:
    return np.random.default_rng(seed).integers(40, 220, shape, dtype=np.uint8)


def test_black_frozen_and_usable_against_the_last_usable_frame() -> None:
    judge = FrameClassifier.from_config(GapsConfig(), period_s=0.1)
    a, b = noise(1), noise(2)
    verdicts = [
        judge.classify(a, 0.0),
        judge.classify(a, 0.1),  # a repeat
        judge.classify(np.zeros_like(a), 0.2),  # black: not the new reference
        judge.classify(a, 0.3),  # still a repeat of the last *usable* frame
        judge.classify(b, 0.4),
    ]
    assert verdicts == ["usable", "frozen", "black", "frozen", "usable"]


def test_reset_and_timestamp_holes_drop_the_reference() -> None:
    judge = FrameClassifier.from_config(GapsConfig(), period_s=0.1)
    a = noise(1)
    assert judge.classify(a, 0.0) == "usable"
    assert judge.classify(a, 0.5) == "usable"  # 5 periods later: frames were missing in between
    judge.reset()
    assert judge.classify(a, 0.6) == "usable"
    assert judge.classify(a, 0.7) == "frozen"


def test_thresholds_come_from_the_gaps_config() -> None:
    grey = np.full((120, 160), 30, np.uint8)
    assert FrameClassifier.from_config(GapsConfig()).classify(grey, 0.0) == "usable"
    assert FrameClassifier.from_config(GapsConfig(video_black_luma=40)).classify(grey, 0.0) == "black"
    judge = FrameClassifier.from_config(GapsConfig(video_frozen_mad=5.0))
    judge.classify(grey, 0.0)
    assert judge.classify(grey + 4, 0.04) == "frozen" and judge.classify(grey + 6, 0.08) == "usable"


def test_face_check_calls_a_faceless_picture_no_face() -> None:
    judge = FrameClassifier.from_config(GapsConfig(face_check=True))
    assert judge.faces is not None
    assert judge.classify(noise(3), 0.0) == "no_face"
    assert FrameClassifier.from_config(GapsConfig()).faces is None
