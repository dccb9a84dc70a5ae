"""Stage ``annotate``: cut the clips, push the tasks, let the people act, report how far they are.

Real people work between runs, so the stage returns ``complete=False`` ("waiting for annotations")
until every kept session has its votes; ``edu-data build`` then stops (exit 3) and a later run
picks up where the server stands. The people of a campaign come from ``rounds.people_for``: with
``annotation.simulate`` they are simulated clients of the same server who answer when asked, so
the stage completes within one run; the stage code is the same for both.
"""

from __future__ import annotations

from concurrent.futures import Executor

from edu_affect_data.annotation import campaign as campaigns
from edu_affect_data.annotation.options import CampaignSettings
from edu_affect_data.annotation.people import ANNOTATION
from edu_affect_data.annotation.rounds import people_for
from edu_affect_data.core.artifacts import BuildPaths
from edu_affect_data.core.progress import note
from edu_affect_data.core.stage import StageOutcome


def run_annotate(
    config: CampaignSettings, paths: BuildPaths, *, executor: Executor | None = None
) -> StageOutcome:
    """Clips and tasks for the kept sessions; the people act; how many sessions are done."""
    campaign = campaigns.open_campaign(config, paths)
    pushed = campaigns.push(campaign, executor=executor)
    note(f"annotate: project {pushed.project_id} at {campaign.settings.url}: {pushed.created} tasks added, "
         f"{pushed.already_there} already there")  # fmt: skip
    people = people_for(config.annotation.simulate)
    answered = escalated = 0
    while True:  # people answer; tasks they disagree on are raised; until nothing more is raised
        answered += people.act(campaign, ANNOTATION)
        raised = campaigns.escalate(campaign)
        escalated += raised
        if not raised:
            break
        note(f"annotate: {raised} task{'' if raised == 1 else 's'} raised for one more vote (annotators disagreed)")
    done, total = campaigns.progress(campaign)
    stats: dict[str, float | int | str] = {
        "sessions": total,
        "tasks_created": pushed.created,
        "simulated_votes": answered,
        "escalated": escalated,
        "complete": len(done),
        "project_id": pushed.project_id,
    }
    outputs = (campaign.layout.media_root, paths.gold)  # gold.parquet: drawn at push, read by aggregate
    if len(done) < total:
        return StageOutcome(
            False, f"waiting for annotations: {len(done)}/{total} sessions complete", outputs, stats
        )
    return StageOutcome(True, f"{total}/{total} sessions annotated", outputs, stats)
