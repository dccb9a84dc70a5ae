"""The ingest's one video pass for hand-made sessions tables (tests that write sessions.parquet themselves).

`with_proxies` does for such rows what the ingest does for real ones: one pass per video
(`media_store.pass_recording`, the whole file as one chunk) leaves each region's proxy and the
frame classification, and the rows get `proxy_path`, `proxy_start_s` and `frames_path`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edu_affect_data.media.options import GapsConfig, MediaConfig
from edu_affect_data.media.store import pass_recording
from edu_affect_data.media.timelines import VideoThresholds
from edu_affect_data.media.video_pass import ProxySpec


def with_proxies(
    rows: list[dict[str, Any]], media_dir: Path, gaps: GapsConfig | None = None, media: MediaConfig | None = None
) -> list[dict[str, Any]]:
    """`rows` (SESSIONS_SCHEMA) with the proxy columns of their video's pass filled in."""
    gaps, media = gaps or GapsConfig(), media or MediaConfig()
    columns: dict[tuple[str, str], dict[str, Any]] = {}
    for video in sorted({str(r["video_path"]) for r in rows if r.get("video_path")}):
        regions = tuple(sorted({str(r.get("video_region", "full")) for r in rows if r.get("video_path") == video}))
        found = pass_recording(
            Path(video), Path(video).stem, regions, VideoThresholds.from_config(gaps),
            ProxySpec(media.proxy_height, media.proxy_crf), media_dir,
        )  # fmt: skip
        columns.update({(video, region): values for region, values in found.items()})
    return [{**r, **columns.get((str(r.get("video_path")), str(r.get("video_region", "full"))), {})} for r in rows]
