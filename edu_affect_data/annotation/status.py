"""Where a campaign stands: sessions done, votes per annotator, the reviewer's queue, live agreement.

Read-only towards the build: it exports both projects into memory and writes no snapshot or table
(only new annotators get their pseudonym recorded, so the names shown stay the names used later).
The live agreement (``live``: kappas, agreement with the majority, class distribution, drift flag)
is computed from the same in-memory votes as the post-hoc report would be: this build's sessions,
gold sessions left out unless ``annotation.gold.in_agreement``, the build's seed and bootstrap size.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from edu_affect_data.annotation import campaign as campaigns
from edu_affect_data.annotation import export
from edu_affect_data.annotation.agreement import AGREEMENT_BOOTSTRAP
from edu_affect_data.annotation.client import user_emails
from edu_affect_data.annotation.estimators import needs_adjudication
from edu_affect_data.annotation.gold import read_gold
from edu_affect_data.annotation.live import LiveAgreement, live_agreement
from edu_affect_data.core.vocabulary import ANSWERS, CLASSES


@dataclass(frozen=True)
class CampaignStatus:
    url: str
    project_title: str
    project_id: int
    sessions: int
    complete: int
    #: pseudonym -> valid votes on this build's sessions.
    votes_per_annotator: dict[str, int]
    excluded: int
    #: Sessions whose votes decide nothing (among the complete ones), and how many the reviewer decided.
    adjudication_queue: int
    adjudicated: int
    live: LiveAgreement = field(repr=False)

    @property
    def waiting(self) -> bool:
        """Annotators or the reviewer still have work (``annotate status`` exits 3)."""
        return self.complete < self.sessions or self.adjudicated < self.adjudication_queue

    def to_json(self) -> dict[str, Any]:
        """Everything ``annotate status`` shows, as one JSON-ready dict (NaN written as null)."""
        return {
            "url": self.url,
            "project_title": self.project_title,
            "project_id": self.project_id,
            "sessions": self.sessions,
            "complete": self.complete,
            "waiting": self.waiting,
            "votes_per_annotator": self.votes_per_annotator,
            "excluded": self.excluded,
            "adjudication_queue": self.adjudication_queue,
            "adjudicated": self.adjudicated,
            "live": self.live.to_json(),
        }


def _votes(campaign: campaigns.Campaign, project_id: int, labels: tuple[str, ...], kind: str) -> export.Votes:
    raw = export.download_export(campaign.ls, campaign.settings, project_id)
    pseudonyms = campaign.pseudonyms()
    votes = export.read_votes(
        export.parse_export(raw, f"export of project {project_id}"),
        emails=user_emails(campaign.ls, campaign.settings),
        pseudonyms=pseudonyms,
        labels=labels,
        project=kind,
    )
    pseudonyms.save()
    return votes


def campaign_status(campaign: campaigns.Campaign) -> CampaignStatus:
    sessions = campaigns.kept_sessions(campaign.paths)
    project_id = campaign.project_id()
    votes = _votes(campaign, project_id, ANSWERS, "annotation")
    valid = votes.valid[votes.valid["session_id"].isin(sessions)]
    done = campaigns.complete_sessions(campaign, [t for t in votes.tasks if t.session_id in sessions])
    finished = valid[valid["session_id"].isin(done)]
    queue = set(needs_adjudication(finished, campaign.config.aggregation.min_votes)) if len(finished) else set()
    decided = 0
    review_id = campaign.review_project_id()
    if review_id is not None and queue:
        decisions = _votes(campaign, review_id, CLASSES, "adjudication").valid
        decided = int(decisions.loc[decisions["session_id"].isin(queue), "session_id"].nunique())
    config = campaign.config
    live = live_agreement(
        valid,
        complete=done,
        drift=config.annotation.drift,
        seed=config.seed,
        n_boot=AGREEMENT_BOOTSTRAP,
        min_votes=config.aggregation.min_votes,
        gold=read_gold(campaign.paths),
        include_gold=config.annotation.gold is not None and config.annotation.gold.in_agreement,
        first=config.annotation.overlap.initial if config.annotation.overlap.adaptive else None,
    )
    return CampaignStatus(
        url=campaign.settings.url,
        project_title=campaign.title,
        project_id=project_id,
        sessions=len(sessions),
        complete=len(done),
        votes_per_annotator=dict(sorted(Counter(valid["annotator"]).items())),
        excluded=int(votes.excluded["session_id"].isin(sessions).sum()),
        adjudication_queue=len(queue),
        adjudicated=decided,
        live=live,
    )
