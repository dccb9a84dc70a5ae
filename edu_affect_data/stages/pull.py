"""Stage ``pull``: snapshot the annotators' project into ``annotation/annotations.parquet``.

Once every session has its votes it sends the sessions the majority rule cannot decide to the
senior reviewer's project and writes their decisions to ``annotation/adjudications.parquet``
(and the excluded annotations to ``excluded.csv``). Until then it returns ``complete=False`` with
"waiting for annotations" or "waiting for adjudication", like ``annotate``.
"""

from __future__ import annotations

from concurrent.futures import Executor

from edu_affect_data.annotation import campaign as campaigns
from edu_affect_data.annotation.options import CampaignSettings
from edu_affect_data.annotation.rounds import people_for, review_round
from edu_affect_data.core.artifacts import BuildPaths
from edu_affect_data.core.stage import StageOutcome


def run_pull(
    config: CampaignSettings, paths: BuildPaths, *, executor: Executor | None = None
) -> StageOutcome:
    """Pull the votes; once all are in, let the reviewer decide the undecided and pull the decisions.

    ``executor`` is unused: the work is network-bound and sequential.
    """
    del executor
    campaign = campaigns.open_campaign(config, paths)
    round_ = review_round(campaign, people_for(config.annotation.simulate))
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
