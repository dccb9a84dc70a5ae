"""The sessions the features stage and publish work on: the split assignment joined with its artifacts.

Both stages read the same upstream artifacts (`splits/assignment.parquet`, `manifest/sessions.parquet`,
`annotation/labels.parquet`) through `load_plan`, so they agree on which sessions are in the dataset,
in which split and with which label; what was extracted for them travels only through
`features/index.parquet`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from edu_affect_data.core.artifacts import BuildPaths
from edu_affect_data.core.manifest import read_sessions
from edu_affect_data.core.parquet import read_table
from edu_affect_data.stages.features.extractor import SessionInput
from edu_affect_data.stages.split import split_of_sessions

#: Manifest columns the plan carries (media, window, words; status to check the session was kept).
SESSION_COLUMNS = (
    "session_id",
    "corpus",
    "source_id",
    "start_s",
    "end_s",
    "audio_path",
    "video_path",
    "video_region",
    "proxy_path",
    "proxy_start_s",
    "frames_path",
    "text",
    "words",
    "status",
)

#: Manifest columns publish needs of the plan (the session metadata columns and the kept check):
#: not the words, text and media paths, which it never reads (issue 24, item 6).
PUBLISH_COLUMNS = ("session_id", "corpus", "source_id", "start_s", "end_s", "video_region", "status")


class FeatureError(RuntimeError):
    """Extraction cannot go on (missing artifacts, a failed session); the message names it."""


def load_plan(paths: BuildPaths, columns: Sequence[str] = SESSION_COLUMNS) -> pd.DataFrame:
    """Assigned sessions (train/validation/test) with their manifest row (`columns` of it) and label, in dataset order.

    Dataset order (`split_of_sessions`): split order (`vocabulary.SPLITS`), then session id; left
    merges keep it. `columns` must hold `session_id` and `status`.
    """
    for needed in (paths.assignment, paths.sessions, paths.labels):
        if not needed.exists():
            raise FeatureError(f"{needed}: missing (run the previous stages first)")
    assignment = split_of_sessions(read_table(paths.assignment).to_pandas())
    sessions = read_sessions(paths, columns).to_pandas()  # media paths absolute
    labels = read_table(paths.labels, ["session_id", "method", "votes"]).to_pandas()
    plan = assignment.merge(sessions, on="session_id", how="left").merge(
        labels, on="session_id", how="left"
    )
    missing = plan.loc[plan["status"].isna() | plan["method"].isna()]
    if len(missing):
        raise FeatureError(
            f"{paths.assignment}: session {missing.iloc[0].session_id} is not in the manifest or the labels"
        )
    not_kept = plan.loc[plan["status"] != "kept"]
    if len(not_kept):
        raise FeatureError(
            f"{paths.assignment}: session {not_kept.iloc[0].session_id} has status {not_kept.iloc[0].status!r}"
        )
    return plan.rename(columns={"method": "label_method"})


def session_input(row: Any, build_dir: Path | None = None) -> SessionInput:
    """The extractor's view of one plan row; `build_dir`: the build folder its proxy paths lie in."""
    words = row["words"] if row["words"] is not None else []
    return SessionInput(
        session_id=str(row["session_id"]),
        corpus=str(row["corpus"]),
        source_id=str(row["source_id"]),
        start_s=float(row["start_s"]),
        end_s=float(row["end_s"]),
        audio_path=None if pd.isna(row["audio_path"]) else str(row["audio_path"]),
        video_path=None if pd.isna(row["video_path"]) else str(row["video_path"]),
        video_region=str(row["video_region"]),
        text=str(row["text"] or ""),
        words=tuple((str(w["text"]), float(w["start_s"]), float(w["end_s"])) for w in words),
        proxy_path=_optional(row.get("proxy_path")),
        proxy_start_s=None if _optional(row.get("proxy_start_s")) is None else float(row["proxy_start_s"]),
        frames_path=_optional(row.get("frames_path")),
        build_dir=str(Path(build_dir).absolute()) if build_dir is not None else None,
    )


def _optional(value: Any) -> Any:
    """None for a null cell (pandas gives NaN or None)."""
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else value


def metadata_row(row: Any) -> dict[str, Any]:
    """The session metadata columns of one plan row (`features.schema.metadata_features`)."""
    return {
        "session_id": str(row["session_id"]),
        "corpus": str(row["corpus"]),
        "speaker_id": str(row["speaker_id"]),
        "source_id": str(row["source_id"]),
        "video_region": str(row["video_region"]),
        "label_method": str(row["label_method"]),
        "start_s": float(row["start_s"]),
        "end_s": float(row["end_s"]),
        "label": str(row["label"]),
        "votes": [str(v) for v in row["votes"]],
    }
