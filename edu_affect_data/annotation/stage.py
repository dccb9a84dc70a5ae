"""The two build stages of annotation: ``annotate`` (clips, tasks, votes) and ``aggregate``.

Real people annotate between runs, so both stages can return ``complete=False`` with a message
saying how far the campaign is; ``edu-data build`` then stops and a later run picks up where the
server stands. With ``annotation.simulate`` the simulated annotators and reviewer fill the gaps
within the same run, and both stages complete.
"""

from __future__ import annotations

from concurrent.futures import Executor

from edu_affect_data.annotation import campaign as campaigns
from edu_affect_data.annotation.aggregate import aggregate_labels
from edu_affect_data.annotation.agreement import compute_agreement, write_agreement_report
from edu_affect_data.annotation.export import write_table
from edu_affect_data.artifacts import BuildPaths
from edu_affect_data.config import PipelineConfig
from edu_affect_data.stage import StageOutcome

#: Bootstrap resamples behind the agreement intervals.
AGREEMENT_BOOTSTRAP = 1000


def run_annotate(
    config: PipelineConfig, paths: BuildPaths, *, executor: Executor | None = None
) -> StageOutcome:
    """Clips and tasks for the kept sessions; simulated votes if configured; how many are done."""
    campaign = campaigns.open_campaign(config, paths)
    pushed = campaigns.push(campaign, executor=executor)
    simulated = campaigns.simulate_annotation(campaign) if config.annotation.simulate else 0
    done, total = campaigns.progress(campaign)
    stats: dict[str, float | int | str] = {
        "sessions": total,
        "tasks_created": pushed.created,
        "simulated_votes": simulated,
        "complete": len(done),
        "project_id": pushed.project_id,
    }
    outputs = (campaign.layout.media_root,)
    if len(done) < total:
        return StageOutcome(
            False, f"waiting for annotations: {len(done)}/{total} sessions complete", outputs, stats
        )
    return StageOutcome(True, f"{total}/{total} sessions annotated", outputs, stats)


def run_aggregate(
    config: PipelineConfig, paths: BuildPaths, *, executor: Executor | None = None
) -> StageOutcome:
    """Pull the votes, let the reviewer decide the undecided, write labels and the agreement report.

    ``executor`` is unused: the work is network-bound and sequential.
    """
    del executor
    campaign = campaigns.open_campaign(config, paths)
    round_ = campaigns.review_round(campaign)
    pulled, total, review = round_.pull, round_.total, round_.adjudication
    if review is None:
        return StageOutcome(False, f"waiting for annotations: {len(round_.done)}/{total} sessions complete")
    annotations = round_.annotations
    stats: dict[str, float | int | str] = {
        "sessions": total,
        "annotations": len(annotations),
        "excluded": len(pulled.excluded),
        "adjudication_queue": len(review.queue),
        "adjudicated": review.decided,
    }
    if review.decided < len(review.queue):
        return StageOutcome(
            False, f"waiting for adjudication: {review.decided}/{len(review.queue)} sessions decided", (), stats
        )
    aggregated = aggregate_labels(annotations, review.decisions, config.aggregation)
    write_table(aggregated.to_arrow(), paths.labels)
    report = compute_agreement(annotations, seed=config.seed, n_boot=AGREEMENT_BOOTSTRAP)
    written = write_agreement_report(report, paths.agreement_dir)
    stats.update(
        labelled=len(aggregated.labels),
        unresolved=len(aggregated.unresolved),
        cohen_kappa=round(report.cohen_kappa_mean.estimate, 4),
    )
    extra = [p for p in (campaign.layout.excluded, campaign.layout.adjudications) if p.exists()]
    outputs = (paths.annotations, paths.labels, pulled.snapshot, *extra, *written)
    message = (
        f"{len(aggregated.labels)} sessions labelled ({review.decided} by the reviewer), "
        f"{len(pulled.excluded)} annotations excluded, mean Cohen's kappa {report.cohen_kappa_mean.estimate:.2f}"
    )
    return StageOutcome(True, message, outputs, stats)
