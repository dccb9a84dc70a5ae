"""Who answers the tasks of a campaign: the one interface behind real and simulated people.

The stages and ``edu-data annotate`` push work to Label Studio and read it back; in between, people
act. Real annotators and reviewers act in their browsers *between runs*: a run never waits for
them, it reads whatever the server holds and stops with "waiting for ..." (exit 3) when that is not
enough. Simulated people (``annotation.simulate``, the demo and the tests) are clients of the same
server: they sign up, log in and vote through the API (``simulated_people``), and they act *when
asked*, so a single ``edu-data build`` completes.

``People.act(campaign, round_)`` is that moment: the code around it is the same for both kinds,
and ``rounds.people_for`` is the one place that chooses which kind a configuration has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from edu_affect_data.annotation.campaign import Campaign

#: The annotators' round (the main project) and the senior reviewer's (the adjudication project).
Round = Literal["annotation", "adjudication"]
ANNOTATION: Round = "annotation"
ADJUDICATION: Round = "adjudication"


class People(Protocol):
    """Whoever answers the tasks of a campaign's projects."""

    def act(self, campaign: Campaign, round_: Round) -> int:
        """Answer the open tasks of ``round_``'s project now, if these people can; answers given."""
        ...


@dataclass(frozen=True)
class RealPeople:
    """Real annotators and reviewers: they work in the browser between runs, never during one.

    ``act`` therefore gives no answers; the run goes on to read the server as it stands.
    """

    def act(self, campaign: Campaign, round_: Round) -> int:
        del campaign, round_
        return 0

