"""The media layer's settings: what counts as no signal (`gaps`) and how the one video pass runs
and what it leaves (`media`). Both are pipeline config sections, read by ingest's gap filter, the
video pass and the frames extractor, so the rule a frame is judged by is defined once.
"""

from __future__ import annotations

from pydantic import Field

from edu_affect_data.core.strict_config import StrictModel


class GapsConfig(StrictModel):
    threshold_s: float = Field(2.0, gt=0, description="A session with a gap longer than this in any modality is removed.")
    audio_silence_dbfs: float = Field(-70.0, description="RMS level (dBFS) under which a 10 ms audio frame counts as no signal.")
    video_black_luma: float = Field(10.0, ge=0, description="Mean luma (0-255) under which a frame counts as black.")
    video_frozen_mad: float = Field(0.5, ge=0, description="Mean absolute pixel difference under which a frame repeats the previous one (frozen).")
    face_check: bool = Field(False, description="Also count frames without a detected face (OpenCV Haar cascade) as missing.")


class MediaConfig(StrictModel):
    """The one decoding pass over each recording (`video_pass.py`): how long recordings are split, and
    the speaker-region proxy videos it leaves for the clips and the features."""

    proxy_height: int = Field(
        360,
        gt=0,
        description="Height of the per-speaker-region proxy videos the clips and the video features are cut from "
        "(never above the source's; width keeps the aspect). At least `annotation.clip.height`.",
    )
    proxy_crf: int = Field(18, ge=0, le=51, description="x264 quality of the proxies (0 is lossless; 18 is visually lossless).")
    chunk_s: float = Field(
        300.0,
        gt=0,
        description="Recordings longer than this are decoded in chunks of about this length by parallel workers "
        "(boundaries only where no candidate session is cut).",
    )
    prime_s: float = Field(
        5.0,
        ge=0,
        description="Seconds decoded before a chunk's start to prime the frozen-frame test; when that does not "
        "reach the previous chunk's state the chunk is classified again from it, so chunks never change a verdict.",
    )
