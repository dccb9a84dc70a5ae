"""Frames: time grid, region crop, 224x224 JPEG, available mask on black/frozen/missing frames."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edu_affect_data.media.options import GapsConfig
from edu_affect_data.media.sampling import VideoFeatureError, extract_frames, imagenet_transform
from edu_affect_data.stages.features.frames import FramesOptions
from tests.features.fake_build import Recording, write_recording


@pytest.fixture(scope="module")
def faulty_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 s side by side at 10 fps: left black 2-3 s, right frozen 4-5 s, stream ends at 5.5 s."""
    recording = Recording(
        "faulty",
        6.0,
        True,
        faults=[(2.0, 3.0, "left", "black"), (4.0, 5.0, "right", "frozen")],
        video_end_s=5.5,
    )
    _, mp4 = write_recording(tmp_path_factory.mktemp("video"), recording, seed=1)
    return mp4


def mask(frames_available: np.ndarray) -> str:
    return "".join("1" if a else "0" for a in frames_available)


def test_black_frames_are_flagged_only_in_their_region(faulty_video: Path) -> None:
    left = extract_frames(faulty_video, "left", 1.0, 5.0, FramesOptions(fps=10), GapsConfig())
    # Session seconds 1.0-2.0 are recording seconds 2.0-3.0: black on the left.
    assert mask(left.available) == "1" * 10 + "0" * 10 + "1" * 20
    right = extract_frames(
        faulty_video, "right", 1.0, 3.0, FramesOptions(fps=10), GapsConfig()
    )
    assert right.available.all()


def test_frozen_and_missing_frames_are_flagged(faulty_video: Path) -> None:
    right = extract_frames(
        faulty_video, "right", 3.0, 6.0, FramesOptions(fps=10), GapsConfig()
    )
    # frozen 4.0-5.0 s -> session 1.0-2.0; the stream ends at 5.5 s -> nothing from session 2.6 on.
    assert mask(right.available) == "1" * 10 + "0" * 10 + "111111" + "0000"
    np.testing.assert_allclose(right.times, np.arange(30) / 10, atol=1e-6)


def test_frames_are_224_rgb_jpegs_of_the_speaker_half(faulty_video: Path) -> None:
    frames = extract_frames(
        faulty_video, "left", 2.0, 2.5, FramesOptions(fps=4, jpeg_quality=80), GapsConfig()
    )
    assert len(frames.jpegs) == 2 and frames.times.dtype == np.float32
    for jpeg in frames.jpegs:
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert image.shape == (224, 224, 3)
        assert image.mean() < 10  # the black left half, not the whole frame


def test_face_crop_falls_back_to_the_region_and_counts_it(faulty_video: Path) -> None:
    frames = extract_frames(
        faulty_video, "left", 0.0, 1.0, FramesOptions(fps=5, crop="face"), GapsConfig()
    )
    assert len(frames.jpegs) == 5
    assert frames.face_fallbacks == 5  # noise pictures hold no face


def test_seek_gives_the_same_frames_as_decoding_from_the_start(faulty_video: Path) -> None:
    config = FramesOptions(fps=10)
    whole = extract_frames(faulty_video, "right", 0.0, 3.0, config, GapsConfig())
    seeked = extract_frames(faulty_video, "right", 2.0, 3.0, config, GapsConfig())
    assert seeked.jpegs == whole.jpegs[20:30]


def test_unreadable_video_is_an_error_naming_it(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    with pytest.raises(VideoFeatureError, match=r"broken\.mp4"):
        extract_frames(broken, "full", 0.0, 1.0, FramesOptions(), GapsConfig())


def test_imagenet_transform_normalises_frames() -> None:
    from PIL import Image

    grey = Image.new("RGB", (224, 224), (124, 116, 104))  # ~ the ImageNet mean
    out = imagenet_transform({"frames": [[grey, grey]], "label": [1]})
    tensor = out["frames"][0]
    assert tuple(tensor.shape) == (2, 3, 224, 224)
    assert float(tensor.abs().max()) < 0.02
    assert out["label"] == [1]
