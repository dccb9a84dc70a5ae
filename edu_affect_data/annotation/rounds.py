"""The rounds of a campaign, where people act: the annotators', then the senior reviewer's.

``people_for`` is the one place that chooses who answers (real people, who act in their browsers
between runs, or simulated ones, who answer when asked), and ``review_round`` is the reviewer's
round between pushing the undecided sessions and pulling the decisions. Both sit above the
campaign's operations (``campaign``) and the people (``people``, ``simulated_people``), which never
import each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from edu_affect_data.annotation.campaign import (
    Adjudication,
    Campaign,
    Pull,
    complete_sessions,
    kept_sessions,
    open_review,
    pull,
    pull_review,
)
from edu_affect_data.annotation.options import SimulateConfig
from edu_affect_data.annotation.people import ADJUDICATION, People, RealPeople
from edu_affect_data.annotation.simulated_people import SimulatedPeople


def people_for(simulate: SimulateConfig | None) -> People:
    """The people of a campaign: simulated ones when ``annotation.simulate`` is set, else real ones."""
    return RealPeople() if simulate is None else SimulatedPeople(simulate)


@dataclass(frozen=True)
class ReviewRound:
    """A pull followed, once the annotators are done, by the reviewer's round."""

    pull: Pull
    done: set[str]
    total: int
    #: None while annotators are still at work (nothing is sent to the reviewer yet).
    adjudication: Adjudication | None

    @property
    def annotations(self) -> pd.DataFrame:
        """Valid votes of the sessions the annotators are done with."""
        return self.pull.annotations[self.pull.annotations["session_id"].isin(self.done)]


def review_round(campaign: Campaign, people: People) -> ReviewRound:
    """Pull; when every kept session is done, queue the undecided ones, let ``people`` act, pull decisions.

    ``people`` are the campaign's reviewers (``people_for``): real ones act between runs, so
    for them this reads the decisions the server already holds.
    """
    pulled = pull(campaign)
    done = complete_sessions(campaign, pulled.tasks)
    total = len(kept_sessions(campaign.paths))
    if len(done) < total:
        return ReviewRound(pulled, done, total, None)
    annotations = pulled.annotations[pulled.annotations["session_id"].isin(done)]
    queue = open_review(campaign, annotations)
    if queue:
        people.act(campaign, ADJUDICATION)
    return ReviewRound(pulled, done, total, pull_review(campaign, queue))
