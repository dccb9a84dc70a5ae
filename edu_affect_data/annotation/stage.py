"""The three build stages of annotation: ``annotate``, ``pull`` and ``aggregate``.

- ``annotate`` cuts the clips and pushes the tasks, then reports how many sessions the annotators
  are done with.
- ``pull`` snapshots the annotators' project and writes ``annotation/annotations.parquet`` (and
  ``excluded.csv``); once every session has its votes, it sends the sessions the majority rule
  cannot decide to the reviewer's project and writes their decisions to
  ``annotation/adjudications.parquet``.
- ``aggregate`` reads only those two tables, never the server: it applies ``aggregation.method``
  and writes ``annotation/labels.parquet`` and the agreement report. Changing the method therefore
  reruns this stage alone.

Real people work between runs, so ``annotate`` and ``pull`` return ``complete=False`` with a message
saying how far the campaign is ("waiting for annotations", "waiting for adjudication"); ``edu-data
build`` then stops (exit 3) and a later run picks up where the server stands. The people of a
campaign come from ``people.people_for``: with ``annotation.simulate`` they are simulated clients of
the server who answer when asked, so both stages complete within one run; the stage code is the same.
"""

from __future__ import annotations

from concurrent.futures import Executor
from pathlib import Path

import pandas as pd

from edu_affect_data.annotation import campaign as campaigns
from edu_affect_data.annotation.aggregate import aggregate_labels, needs_adjudication
from edu_affect_data.annotation.agreement import compute_agreement, write_agreement_report
from edu_affect_data.annotation.export import write_table
from edu_affect_data.annotation.gold import read_gold
from edu_affect_data.annotation.people import ANNOTATION, people_for
from edu_affect_data.artifacts import ADJUDICATIONS_SCHEMA, ANNOTATIONS_SCHEMA, BuildPaths
from edu_affect_data.config import PipelineConfig
from edu_affect_data.stage import StageOutcome

#: Bootstrap resamples behind the agreement intervals.
AGREEMENT_BOOTSTRAP = 1000


class MissingArtifactError(FileNotFoundError):
    """The aggregate stage found no pulled table: the pull stage has not completed in this build."""


def run_annotate(
    config: PipelineConfig, paths: BuildPaths, *, executor: Executor | None = None
) -> StageOutcome:
    """Clips and tasks for the kept sessions; the people act; how many sessions are done."""
    campaign = campaigns.open_campaign(config, paths)
    pushed = campaigns.push(campaign, executor=executor)
    people = people_for(config.annotation.simulate)
    answered = escalated = 0
    while True:  # people answer; tasks they disagree on are raised; until nothing more is raised
        answered += people.act(campaign, ANNOTATION)
        raised = campaigns.escalate(campaign)
        escalated += raised
        if not raised:
            break
    done, total = campaigns.progress(campaign)
    stats: dict[str, float | int | str] = {
        "sessions": total,
        "tasks_created": pushed.created,
        "simulated_votes": answered,
        "escalated": escalated,
        "complete": len(done),
        "project_id": pushed.project_id,
    }
    outputs = (campaign.layout.media_root,)
    if len(done) < total:
        return StageOutcome(
            False, f"waiting for annotations: {len(done)}/{total} sessions complete", outputs, stats
        )
    return StageOutcome(True, f"{total}/{total} sessions annotated", outputs, stats)


def run_pull(
    config: PipelineConfig, paths: BuildPaths, *, executor: Executor | None = None
) -> StageOutcome:
    """Pull the votes; once all are in, let the reviewer decide the undecided and pull the decisions.

    ``executor`` is unused: the work is network-bound and sequential.
    """
    del executor
    campaign = campaigns.open_campaign(config, paths)
    round_ = campaigns.review_round(campaign, people_for(config.annotation.simulate))
    pulled, total, review = round_.pull, round_.total, round_.adjudication
    stats: dict[str, float | int | str] = {
        "sessions": total,
        "complete": len(round_.done),
        "annotations": len(pulled.annotations),
        "excluded": len(pulled.excluded),
    }
    if review is None:
        return StageOutcome(
            False, f"waiting for annotations: {len(round_.done)}/{total} sessions complete", (), stats
        )
    stats.update(adjudication_queue=len(review.queue), adjudicated=review.decided)
    if review.decided < len(review.queue):
        return StageOutcome(
            False, f"waiting for adjudication: {review.decided}/{len(review.queue)} sessions decided", (), stats
        )
    snapshots = [p for p in (pulled.snapshot, review.snapshot) if p is not None]
    outputs = (paths.annotations, paths.adjudications, campaign.layout.excluded, *snapshots)
    message = (
        f"{len(pulled.annotations)} votes on {total} sessions, {len(pulled.excluded)} annotations excluded, "
        f"{review.decided} sessions decided by the reviewer"
    )
    return StageOutcome(True, message, outputs, stats)


def _read_pulled(path: Path, columns: list[str]) -> pd.DataFrame:
    """A table the pull stage wrote, or a clear error when it is not there."""
    if not path.is_file():
        raise MissingArtifactError(f"{path} does not exist: run the pull stage first (edu-data build --until pull)")
    return pd.read_parquet(path, columns=columns)


def run_aggregate(
    config: PipelineConfig, paths: BuildPaths, *, executor: Executor | None = None
) -> StageOutcome:
    """Labels and the agreement report from the pulled votes and decisions (files only, no server).

    Gold sessions (``annotation/gold.parquet``, drawn at push) are labelled from their votes like any
    other; the report measures each annotator on them and leaves their votes out of the agreement
    figures unless ``annotation.gold.in_agreement``. Under adaptive overlap the agreement figures use
    each session's first ``overlap.initial`` ratings only (``agreement.first_ratings``): the later
    ones were asked for because those disagreed, and would bias every figure.

    ``executor`` is unused: aggregation of a few thousand votes takes well under a second.
    """
    del executor
    annotations = _read_pulled(paths.annotations, ANNOTATIONS_SCHEMA.names)
    decisions = _read_pulled(paths.adjudications, ADJUDICATIONS_SCHEMA.names)
    aggregation = config.aggregation
    queue = needs_adjudication(annotations, aggregation.min_votes) if len(annotations) else []
    aggregated = aggregate_labels(annotations, decisions[["session_id", "label"]], aggregation)
    write_table(aggregated.to_arrow(), paths.labels)
    gold = config.annotation.gold
    report = compute_agreement(
        annotations,
        seed=config.seed,
        n_boot=AGREEMENT_BOOTSTRAP,
        min_votes=aggregation.min_votes,
        gold=read_gold(paths),
        include_gold=gold is not None and gold.in_agreement,
        first=config.annotation.overlap.initial if config.annotation.overlap.adaptive else None,
    )
    written = write_agreement_report(report, paths.agreement_dir)
    stats: dict[str, float | int | str] = {
        "sessions": int(annotations["session_id"].nunique()),
        "annotations": len(annotations),
        "adjudication_queue": len(queue),
        "adjudicated": len(decisions),
        "labelled": len(aggregated.labels),
        "unresolved": len(aggregated.unresolved),
        "cohen_kappa": round(report.cohen_kappa_mean.estimate, 4),
    }
    message = (
        f"{len(aggregated.labels)} sessions labelled by {aggregation.method} ({len(decisions)} by the reviewer), "
        f"mean Cohen's kappa {report.cohen_kappa_mean.estimate:.2f}"
    )
    return StageOutcome(True, message, (paths.labels, *written), stats)
