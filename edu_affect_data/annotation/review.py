"""The senior reviewer's round: a second Label Studio project holding only the undecided sessions.

A session goes to the reviewer when the one strict-majority rule (``majority``) decides nothing for
it (all differ, a tie, too many "Cannot tell", too few valid votes: ``aggregate.needs_adjudication``). Its adjudication task shows
the same clip and transcript plus the annotators' votes under their pseudonyms (task field
``votes``). The reviewer cannot abstain and the decision is final: ``aggregate_labels`` lets it
override any vote. If a session was decided more than once (two reviewers), the latest decision
counts and the earlier ones are listed in ``excluded.csv`` as superseded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from edu_affect_data.annotation.client import LabelStudioSettings
from edu_affect_data.annotation.clips import clip_path, clips_dir, session_transcript
from edu_affect_data.annotation.export import EXCLUDED_COLUMNS, ProjectPull, pull_project
from edu_affect_data.annotation.pseudonyms import Pseudonyms
from edu_affect_data.annotation.tasks import (
    PushResult,
    ensure_local_storage,
    ensure_project,
    import_missing,
    instructions_html,
    session_task,
)
from edu_affect_data.core.artifacts import ADJUDICATIONS_SCHEMA
from edu_affect_data.core.vocabulary import CLASSES

if TYPE_CHECKING:
    from label_studio_sdk import LabelStudio

KIND = "adjudication"


def adjudication_title(project_title: str) -> str:
    return f"{project_title} (adjudication)"


def votes_text(annotations: pd.DataFrame, session_id: str) -> str:
    """``ann01: Bored`` lines of one session, by pseudonym."""
    rows = annotations[annotations["session_id"] == session_id].sort_values("annotator")
    lines = [f"{row.annotator}: {row.label}" for row in rows.itertuples()]
    return "\n".join(lines) if lines else "(no valid votes)"


def push_queue(
    ls: LabelStudio,
    settings: LabelStudioSettings,
    *,
    title: str,
    label_config: str,
    guidelines: Path,
    media_root: Path,
    sessions: Mapping[str, Mapping[str, Any]],
    annotations: pd.DataFrame,
    queue: Sequence[str],
    batch_size: int,
) -> PushResult:
    """Create/reuse the adjudication project and add the queued sessions it does not hold yet."""
    project_id = ensure_project(
        ls,
        settings,
        title=title,
        label_config=label_config,
        maximum_annotations=1,
        instructions=instructions_html(guidelines),
    )
    ensure_local_storage(ls, settings, project_id, clips_dir(media_root))
    tasks = [
        session_task(
            sessions[session_id],
            clip=clip_path(media_root, session_id),
            transcript=session_transcript(dict(sessions[session_id])),
            document_root=settings.document_root,
            extra={"votes": votes_text(annotations, session_id)},
        )
        for session_id in queue
    ]
    return import_missing(ls, settings, project_id, tasks, batch_size=batch_size)


@dataclass(frozen=True)
class Adjudications:
    pull: ProjectPull
    #: ADJUDICATIONS_SCHEMA columns, one row per decided session.
    decisions: pd.DataFrame
    #: Validation exclusions plus superseded decisions (EXCLUDED_COLUMNS).
    excluded: pd.DataFrame

    def table(self) -> pa.Table:
        return adjudications_table(self.decisions)


def adjudications_table(decisions: pd.DataFrame) -> pa.Table:
    """``decisions`` as an Arrow table validated against ADJUDICATIONS_SCHEMA (adjudications.parquet)."""
    columns = {name: decisions[name].tolist() for name in ADJUDICATIONS_SCHEMA.names}
    return pa.Table.from_pydict(columns, schema=ADJUDICATIONS_SCHEMA)


def pull_decisions(
    ls: LabelStudio,
    settings: LabelStudioSettings,
    project_id: int,
    *,
    snapshots: Path,
    pseudonyms: Pseudonyms,
) -> Adjudications:
    """Export the adjudication project and keep the latest valid decision per session."""
    pull = pull_project(
        ls, settings, project_id, snapshots=snapshots, kind=KIND, pseudonyms=pseudonyms, labels=CLASSES
    )
    valid = pull.votes.valid.sort_values(["session_id", "updated_at", "annotation_id"], kind="stable")
    latest = valid.drop_duplicates("session_id", keep="last")
    superseded = valid.drop(latest.index)
    kept_ids = dict(zip(latest["session_id"], latest["annotation_id"], strict=True))
    excluded = pd.DataFrame(
        [
            {
                "project": KIND,
                "session_id": row.session_id,
                "task_id": row.task_id,
                "annotation_id": row.annotation_id,
                "annotator": row.annotator,
                "reason": f"superseded by a later decision (annotation {kept_ids[row.session_id]})",
            }
            for row in superseded.itertuples()
        ],
        columns=EXCLUDED_COLUMNS,
    )
    decisions = latest.rename(columns={"annotator": "reviewer"})[ADJUDICATIONS_SCHEMA.names]
    frames = [f for f in (pull.votes.excluded, excluded) if len(f)]
    return Adjudications(
        pull=pull,
        decisions=decisions.reset_index(drop=True),
        excluded=pd.concat(frames, ignore_index=True) if frames else pull.votes.excluded,
    )
