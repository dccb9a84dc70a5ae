"""One annotation campaign of a build: the operations behind ``edu-data annotate`` and the stages.

A campaign ties a build's kept sessions (``manifest/sessions.parquet``) to its Label Studio
projects (the annotators' one, found by ``annotation.project_title``, and the reviewer's one).
Each operation is restartable: push adds only missing tasks, pull rebuilds its tables from a fresh
snapshot. Nothing here knows whether people are real or simulated: the rounds that let people act
between pushing and pulling are in ``rounds``. Only this build's kept sessions are looked at, so a
project shared by several builds (same title) is safe.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from edu_affect_data.annotation import export, overlap, review
from edu_affect_data.annotation.client import (
    LabelStudioSettings,
    connect,
    find_project,
    load_settings,
)
from edu_affect_data.annotation.clips import clips_dir, make_clips, session_transcript
from edu_affect_data.annotation.estimators import needs_adjudication
from edu_affect_data.annotation.gold import draw_gold, read_gold, write_gold
from edu_affect_data.annotation.labeling import (
    annotator_config,
    guidelines_path,
    reviewer_config,
)
from edu_affect_data.annotation.layout import AnnotationPaths
from edu_affect_data.annotation.options import CampaignSettings
from edu_affect_data.annotation.pseudonyms import Pseudonyms
from edu_affect_data.annotation.tasks import (
    PushResult,
    ensure_local_storage,
    ensure_project,
    import_missing,
    instructions_html,
    preannotation_label,
    session_task,
)
from edu_affect_data.core.artifacts import ADJUDICATIONS_SCHEMA, BuildPaths
from edu_affect_data.core.manifest import read_sessions
from edu_affect_data.core.vocabulary import ANSWERS

if TYPE_CHECKING:
    from label_studio_sdk import LabelStudio



#: Label Studio refuses longer project titles.
MAX_TITLE = 50


class CampaignError(RuntimeError):
    """The campaign cannot proceed (no sessions table, no project yet, ...)."""


@dataclass
class Campaign:
    config: CampaignSettings
    paths: BuildPaths
    layout: AnnotationPaths
    settings: LabelStudioSettings
    ls: LabelStudio

    @property
    def title(self) -> str:
        return self.config.annotation.project_title

    @property
    def review_title(self) -> str:
        return review.adjudication_title(self.title)

    def pseudonyms(self) -> Pseudonyms:
        return Pseudonyms(self.layout.annotators)

    def project_id(self) -> int:
        project_id = find_project(self.ls, self.title, self.settings)
        if project_id is None:
            raise CampaignError(
                f"no Label Studio project titled {self.title!r} at {self.settings.url}: run `edu-data annotate push` first"
            )
        return project_id

    def review_project_id(self) -> int | None:
        return find_project(self.ls, self.review_title, self.settings)


def open_campaign(
    config: CampaignSettings, paths: BuildPaths, settings: LabelStudioSettings | None = None
) -> Campaign:
    limit = MAX_TITLE - len(review.adjudication_title(""))
    if len(config.annotation.project_title) > limit:
        raise CampaignError(
            f"annotation.project_title {config.annotation.project_title!r} is too long: Label Studio titles "
            f"hold {MAX_TITLE} characters and the adjudication project adds {review.adjudication_title('')!r}, "
            f"so at most {limit}"
        )
    settings = settings or load_settings()
    return Campaign(config, paths, AnnotationPaths.of(paths, config.annotation), settings, connect(settings))


def kept_sessions(paths: BuildPaths) -> dict[str, dict[str, Any]]:
    """session_id -> SESSIONS_SCHEMA row (paths absolute), for sessions with status ``kept``."""
    if not paths.sessions.exists():
        raise CampaignError(f"{paths.sessions} does not exist: run the ingest stage first")
    rows = read_sessions(paths).to_pylist()
    return {str(row["session_id"]): row for row in rows if row["status"] == "kept"}


def push(campaign: Campaign, *, executor: Executor | None = None) -> PushResult:
    """Clips for every kept session, then the project, its storage, the missing tasks and their overlaps.

    The gold tasks are drawn (``annotation/gold.parquet``) before anything reaches the server, and
    each task's overlap is brought to what its votes so far require (``escalate``), so a push both
    starts a campaign and moves a running adaptive one forward.
    """
    annotation = campaign.config.annotation
    sessions = kept_sessions(campaign.paths)
    gold = draw_gold(annotation.gold, sessions, seed=campaign.config.seed) if annotation.gold else {}
    write_gold(gold, campaign.paths)
    media_root = campaign.layout.media_root
    clips = make_clips(list(sessions.values()), media_root, annotation.clip, executor=executor)
    project_id = ensure_project(
        campaign.ls,
        campaign.settings,
        title=campaign.title,
        label_config=annotator_config(annotation.labeling_config, annotation.clip.fps),
        maximum_annotations=annotation.overlap.initial,
        instructions=instructions_html(guidelines_path(annotation.labeling_config)),
    )
    ensure_local_storage(campaign.ls, campaign.settings, project_id, clips_dir(media_root))
    tasks = [
        session_task(
            sessions[clip.session_id],
            clip=clip.path,
            transcript=session_transcript(sessions[clip.session_id]),
            document_root=campaign.settings.document_root,
            preannotation=(
                preannotation_label(sessions[clip.session_id], annotation.preannotation_map)
                if annotation.preannotate
                else None
            ),
        )
        for clip in clips
    ]
    pushed = import_missing(
        campaign.ls, campaign.settings, project_id, tasks, batch_size=annotation.batch_size
    )
    escalate(campaign)
    return pushed


def task_progress(campaign: Campaign) -> list[export.TaskProgress]:
    """Where each task of this build's kept sessions stands on the server now (no files written)."""
    sessions = kept_sessions(campaign.paths)
    project_id = campaign.project_id()
    raw = export.download_export(campaign.ls, campaign.settings, project_id)
    votes = export.read_votes(
        export.parse_export(raw, f"export of project {project_id}"),
        emails={},
        pseudonyms=Pseudonyms(None),
        labels=ANSWERS,
        project="annotation",
    )
    return [t for t in votes.tasks if t.session_id in sessions]


def required_annotations(campaign: Campaign, tasks: list[export.TaskProgress]) -> dict[int, int]:
    """task id -> annotations it needs now (``overlap``: fixed, adaptive, gold)."""
    return overlap.required_by_task(tasks, campaign.config.annotation, read_gold(campaign.paths))


def escalate(campaign: Campaign) -> int:
    """Bring every task's server overlap to what its votes require; returns the tasks changed."""
    tasks = task_progress(campaign)
    required = required_annotations(campaign, tasks)
    return overlap.sync_overlaps(campaign.ls, campaign.settings, campaign.project_id(), tasks, required)


@dataclass(frozen=True)
class Pull:
    snapshot: Path
    #: This build's valid votes (ANNOTATIONS_SCHEMA columns).
    annotations: pd.DataFrame
    excluded: pd.DataFrame
    tasks: list[export.TaskProgress]


def pull(campaign: Campaign) -> Pull:
    """Snapshot the annotators' project; write annotations.parquet and excluded.csv for this build."""
    sessions = kept_sessions(campaign.paths)
    pulled = export.pull_project(
        campaign.ls,
        campaign.settings,
        campaign.project_id(),
        snapshots=campaign.layout.snapshots,
        kind="annotation",
        pseudonyms=campaign.pseudonyms(),
        labels=ANSWERS,
    )
    votes = pulled.votes
    mine = votes.valid[votes.valid["session_id"].isin(sessions)].reset_index(drop=True)
    excluded = votes.excluded[votes.excluded["session_id"].isin(sessions)].reset_index(drop=True)
    table = export.annotations_table(mine, first_ratings=campaign.config.annotation.overlap.first_ratings)
    export.write_table(table, campaign.paths.annotations)
    export.write_excluded(excluded, campaign.layout.excluded, "annotation")
    tasks = [t for t in votes.tasks if t.session_id in sessions]
    return Pull(pulled.snapshot, mine, excluded, tasks)


def complete_sessions(campaign: Campaign, tasks: list[export.TaskProgress]) -> set[str]:
    """Sessions of ``tasks`` the annotators are done with (``overlap.complete_sessions``)."""
    return overlap.complete_sessions(tasks, required_annotations(campaign, tasks))


def progress(campaign: Campaign) -> tuple[set[str], int]:
    """(sessions of this build the annotators are done with, number of kept sessions); no files written."""
    tasks = task_progress(campaign)
    return complete_sessions(campaign, tasks), len(kept_sessions(campaign.paths))


@dataclass(frozen=True)
class Adjudication:
    queue: list[str]
    #: session_id, label of the reviewer's decisions on queued sessions.
    decisions: pd.DataFrame
    snapshot: Path | None

    @property
    def decided(self) -> int:
        return len(self.decisions)


def open_review(campaign: Campaign, annotations: pd.DataFrame) -> list[str]:
    """The sessions the majority rule leaves undecided, added to the reviewer's project (sorted).

    The adjudication project is created only when there is something to decide.
    """
    config = campaign.config
    queue = needs_adjudication(annotations, config.aggregation.min_votes) if len(annotations) else []
    if queue:
        review.push_queue(
            campaign.ls,
            campaign.settings,
            title=campaign.review_title,
            label_config=reviewer_config(config.annotation.labeling_config, config.annotation.clip.fps),
            guidelines=guidelines_path(config.annotation.labeling_config),
            media_root=campaign.layout.media_root,
            sessions=kept_sessions(campaign.paths),
            annotations=annotations,
            queue=queue,
            batch_size=config.annotation.batch_size,
        )
    return queue


def pull_review(campaign: Campaign, queue: list[str]) -> Adjudication:
    """Pull the reviewer's decisions on ``queue``; write adjudications.parquet and their exclusions.

    The table is written even when nothing was queued (then empty), so the aggregate stage always
    has the round's decisions on disk and never asks the server.
    """
    project_id = campaign.review_project_id()
    if project_id is None:
        if queue:
            raise CampaignError(f"no adjudication project titled {campaign.review_title!r}: push the queue first")
        empty = pd.DataFrame(columns=ADJUDICATIONS_SCHEMA.names)
        export.write_table(review.adjudications_table(empty), campaign.paths.adjudications)
        export.write_excluded(pd.DataFrame(columns=export.EXCLUDED_COLUMNS), campaign.layout.excluded, review.KIND)
        return Adjudication([], empty[["session_id", "label"]], None)
    decisions = review.pull_decisions(
        campaign.ls,
        campaign.settings,
        project_id,
        snapshots=campaign.layout.snapshots,
        pseudonyms=campaign.pseudonyms(),
    )
    mine = decisions.decisions[decisions.decisions["session_id"].isin(queue)].reset_index(drop=True)
    export.write_table(review.adjudications_table(mine), campaign.paths.adjudications)
    excluded = decisions.excluded[decisions.excluded["session_id"].isin(queue)]
    export.write_excluded(excluded, campaign.layout.excluded, review.KIND)
    return Adjudication(queue, mine[["session_id", "label"]], decisions.pull.snapshot)
