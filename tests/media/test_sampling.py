"""`scaled_bgr`: a proxy picture scaled per 4:2:0 plane, then converted (issue 24: the features' CPU)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edu_affect_data.media.sampling import VideoFeatureError, scaled_bgr


def _i420(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)


def _converted_then_resized(i420: np.ndarray, side: int) -> np.ndarray:
    """The order used before: the whole picture to BGR, then resized."""
    return cv2.resize(cv2.cvtColor(i420, cv2.COLOR_YUV2BGR_I420), (side, side), interpolation=cv2.INTER_AREA)


def _natural(height: int, width: int) -> np.ndarray:
    """A smooth picture with edges: gradients, a disc and a bar, as a face region has."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    picture = np.stack([x / width * 200 + 30, y / height * 180 + 40, (x + y) / (width + height) * 150 + 60], axis=-1)
    picture[(x - width / 2) ** 2 + (y - height / 2) ** 2 < (height / 4) ** 2] = (40, 90, 200)
    picture[height // 5 : height // 4, :] = (250, 250, 250)
    return picture.astype(np.uint8)


@pytest.mark.parametrize(("height", "width", "side"), [(360, 270, 224), (360, 640, 224), (120, 80, 64), (298, 226, 112)])
def test_scaled_per_plane_matches_converting_first_within_rounding(height: int, width: int, side: int) -> None:
    i420 = _i420(_natural(height, width))
    got = scaled_bgr(i420, side)
    before = _converted_then_resized(i420, side)
    assert got.shape == (side, side, 3) and got.dtype == np.uint8
    difference = np.abs(got.astype(int) - before.astype(int))
    assert difference.mean() < 2  # 8-bit rounding in another place; chroma at half resolution at the edges
    assert np.percentile(difference, 50) <= 1


def test_a_flat_colour_stays_the_same_colour() -> None:
    i420 = _i420(np.full((360, 270, 3), (30, 140, 220), np.uint8))
    assert np.array_equal(scaled_bgr(i420, 224), _converted_then_resized(i420, 224))


def test_an_odd_side_is_refused_with_the_sizes() -> None:
    with pytest.raises(VideoFeatureError, match=r"270x360 .*\(223\)"):
        scaled_bgr(_i420(_natural(360, 270)), 223)
