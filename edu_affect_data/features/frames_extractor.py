"""Built-in extractor `frames`: `extract_frames` (features/video.py) behind the extractor interface."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from edu_affect_data.config import GapsConfig, VideoFeaturesConfig
from edu_affect_data.features.extractor import FeatureExtractor, SessionInput
from edu_affect_data.features.video import VideoFeatureError, extract_frames
from edu_affect_data.strict_config import StrictModel

if TYPE_CHECKING:
    import datasets


class FramesSettings(StrictModel):
    """What the frames depend on: `features.video`, and `gaps` (the usable-frame rule of the gap filter)."""

    video: VideoFeaturesConfig
    gaps: GapsConfig


class FramesExtractor(FeatureExtractor[FramesSettings]):
    """Built-in `frames`: JPEG frames of the speaker's region on a regular grid, with times and availability."""

    name = "frames"
    columns = ("frames", "frame_times", "frame_available")
    modality = "video"
    stats = ("face_fallbacks",)
    description = (
        "`frames`: the speaker's region at `features.video.fps` as JPEG; `frame_times` are seconds from the "
        "session start; `frame_available` is False where the frame was missing, black or frozen (a black "
        "frame is stored)."
    )

    def settings(self, config: Any) -> FramesSettings:
        return FramesSettings(video=config.features.video, gaps=config.gaps)

    def features(self, settings: FramesSettings, *, width: int | None = None) -> datasets.Features:
        from datasets import Features, Image, Sequence, Value

        return Features(
            {
                "frames": Sequence(Image()),
                "frame_times": Sequence(Value("float32")),
                "frame_available": Sequence(Value("bool")),
            }
        )

    def extract(self, session: SessionInput, settings: FramesSettings) -> dict[str, Any]:
        if session.video_path is None:
            raise VideoFeatureError(f"session {session.session_id}: no video file")
        frames = extract_frames(
            Path(session.video_path),
            session.video_region,
            session.start_s,
            session.end_s,
            settings.video,
            settings.gaps,
        )
        return {
            "frames": [{"bytes": jpeg, "path": None} for jpeg in frames.jpegs],
            "frame_times": frames.times,
            "frame_available": frames.available,
            "face_fallbacks": frames.face_fallbacks,
        }

    def missing(self, settings: FramesSettings, features: datasets.Features) -> dict[str, Any]:
        return {"frames": [], "frame_times": np.zeros(0, np.float32), "frame_available": np.zeros(0, bool)}

    def check(self, row: Mapping[str, pa.Scalar], duration_s: float) -> Iterator[tuple[str, str]]:
        n_frames = len(row["frames"])
        times = np.asarray(row["frame_times"].as_py(), dtype=np.float64)
        available = row["frame_available"].as_py()
        if not (n_frames == len(times) == len(available)):
            yield "shape", f"{n_frames} frames, {len(times)} frame_times, {len(available)} frame_available"
        if len(times) and (
            not np.isfinite(times).all()
            or (np.diff(times) <= 0).any()
            or times[0] < 0
            or times[-1] > duration_s
        ):
            yield "timestamps", "frame_times are not finite, strictly increasing and inside the session"
