"""Which sessions a build would send to the annotators: kept sessions that have no votes yet.

People's time is the costly input of the dataset. A change that keeps more sessions (a longer
`gaps.threshold_s`) sends every newly kept session to Label Studio on the next build, so
`edu-data build --dry-run` lists them before anything is asked of anyone. Votes are the pulled
ones (`annotation/annotations.parquet`); the kept sessions are the manifest's, or, when the only
change to ingest is `gaps.threshold_s`, the manifest's sessions judged again by the gap filter's
own rule (`stages.gaps.status_of`) on the longest gaps the manifest records, which is exactly what
ingest would decide. Reads only.
"""

from __future__ import annotations

from dataclasses import dataclass

from edu_affect_data.core.artifacts import BuildPaths
from edu_affect_data.core.parquet import read_table
from edu_affect_data.core.vocabulary import MODALITIES
from edu_affect_data.stages.gaps import status_of


@dataclass(frozen=True)
class AnnotatorQueue:
    """Kept sessions without votes (`sessions`), and how they were found (`how`)."""

    sessions: tuple[str, ...]
    how: str


def voted_sessions(paths: BuildPaths) -> set[str]:
    """Sessions with at least one pulled vote (none before the first pull)."""
    if not paths.annotations.is_file():
        return set()
    return {str(s) for s in read_table(paths.annotations, ["session_id"]).column("session_id").to_pylist()}


def kept_statuses(paths: BuildPaths, *, threshold_s: float | None = None, min_s: float | None = None) -> dict[str, str]:
    """session id -> status in the manifest, or as the gap filter would judge it at `threshold_s`.

    A new threshold needs `min_s` (sessions.min_s) to tell `short` from `kept` once a gap no longer
    decides. Errors stay errors: they do not depend on the threshold.
    """
    gap_columns = [f"gap_{modality}_s" for modality in MODALITIES]
    table = read_table(paths.sessions, ["session_id", "status", "duration_s", *gap_columns]).to_pylist()
    if threshold_s is None:
        return {str(row["session_id"]): str(row["status"]) for row in table}
    if min_s is None:
        raise ValueError("a new gaps.threshold_s needs sessions.min_s")
    return {
        str(row["session_id"]): status_of(
            row["status"] == "error", [row[c] for c in gap_columns], threshold_s, row["duration_s"] < min_s
        )
        for row in table
    }


def annotator_queue(paths: BuildPaths, *, threshold_s: float | None = None, min_s: float | None = None) -> AnnotatorQueue:
    """Kept sessions (by the manifest, or at a new `threshold_s`) that have no pulled vote."""
    statuses = kept_statuses(paths, threshold_s=threshold_s, min_s=min_s)
    voted = voted_sessions(paths)
    waiting = tuple(sorted(s for s, status in statuses.items() if status == "kept" and s not in voted))
    if threshold_s is None:
        how = "kept in manifest/sessions.parquet, no vote in annotation/annotations.parquet"
    else:
        was = kept_statuses(paths)
        newly = sum(1 for s in waiting if was.get(s) != "kept")
        how = (
            f"kept at gaps.threshold_s {threshold_s:g} by the gap filter's rule on the manifest's recorded gaps "
            f"({newly} of them newly kept), no vote in annotation/annotations.parquet"
        )
    return AnnotatorQueue(waiting, how)
