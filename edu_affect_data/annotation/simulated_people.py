"""Simulated annotators and reviewer as clients of the Label Studio server, like people.

Each simulated person has a real account (``accounts``: sign-up through the invite link, log-in,
their own API token) and submits annotations with that token, so ``completed_by`` is really them
and the pull reads their votes exactly as it reads a person's. What they answer comes from
``simulate`` (seeded noisy observers of the synthetic truth); this module only finds the open tasks
of a project and submits the answers.

They look at the project the way the admin export shows it: every task of this build's kept
sessions, and who already annotated it. A task a simulated person already annotated is left
alone, so a rerun adds only what is missing; the reviewer decides only tasks nobody decided.
Tasks are visited in export order (task id) and a task's annotators in index order, which fixes
the order of annotations on the server and with it the annotators' pseudonyms.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edu_affect_data.annotation import export
from edu_affect_data.annotation.accounts import Account, ensure_account, simulated_email
from edu_affect_data.annotation.campaign import Campaign, kept_sessions
from edu_affect_data.annotation.client import LabelStudioSettings, call_with_retries, connect
from edu_affect_data.annotation.labeling import AFFECT_CONTROL
from edu_affect_data.annotation.options import SimulateConfig
from edu_affect_data.annotation.overlap import server_overlaps
from edu_affect_data.annotation.people import ADJUDICATION, ANNOTATION, Round
from edu_affect_data.annotation.simulate import (
    annotator_vote,
    assigned_annotators,
    lead_time,
    reviewer_vote,
    session_truths,
)
from edu_affect_data.core.progress import track

if TYPE_CHECKING:
    from label_studio_sdk import LabelStudio

LOG = logging.getLogger(__name__)
REVIEWER_NAME = "sim-reviewer"
#: Seconds the simulated reviewer spends on a decision (Label Studio's ``lead_time``).
REVIEWER_LEAD_TIME = 30.0


def choice_result(label: str) -> list[dict[str, Any]]:
    """An annotation ``result`` choosing ``label`` in the affect control, as the interface sends it."""
    return [
        {"from_name": AFFECT_CONTROL, "to_name": "video", "type": "choices", "value": {"choices": [label]}}
    ]


@dataclass(frozen=True)
class TaskState:
    """A task as the simulation needs it: whose annotations it already holds."""

    task_id: int
    session_id: str
    annotated_by: frozenset[int]


def task_states(tasks: Sequence[Mapping[str, Any]]) -> list[TaskState]:
    """From a parsed export: each task's session and the user ids that annotated it."""
    states = []
    for task in tasks:
        session = (task.get("data") or {}).get("session_id")
        if session is None:
            continue
        users = frozenset(
            int(a["completed_by"]["id"] if isinstance(a["completed_by"], dict) else a["completed_by"])
            for a in task.get("annotations") or []
            if a.get("completed_by") is not None
        )
        states.append(TaskState(int(task["id"]), str(session), users))
    return states


def submit_vote(
    ls: LabelStudio, settings: LabelStudioSettings, account: Account, task_id: int, label: str, lead_time_s: float
) -> None:
    """Post one annotation as ``account``; after a failed try, check it did not land before retrying."""
    attempts = 0

    def attempt() -> None:
        nonlocal attempts
        attempts += 1
        if attempts > 1:
            existing = ls.annotations.list(id=task_id)
            if any(a.completed_by == account.user_id for a in existing):
                return
        ls.annotations.create(id=task_id, result=choice_result(label), lead_time=lead_time_s)

    call_with_retries(attempt, what=f"annotation of task {task_id} by {account.email}", settings=settings)


def vote_as_annotators(
    settings: LabelStudioSettings,
    simulate: SimulateConfig,
    tasks: Sequence[TaskState],
    truths: Mapping[str, str],
    *,
    overlaps: Mapping[int, int],
    initial: int,
    seed: int,
) -> int:
    """Each task gets votes until it holds its server ``overlaps`` annotations; returns votes added.

    The server's overlap is what Label Studio uses to hand a task to one more person, so the
    simulated annotators follow it exactly as people in the labeling stream would.
    """
    if not simulate.annotators:
        raise ValueError("annotation.simulate.annotators is empty: list the simulated annotators")
    accounts = [ensure_account(settings, simulated_email(a.name)) for a in simulate.annotators]
    clients = [connect(settings, account.api_key) for account in accounts]
    votes_cast = [sum(account.user_id in task.annotated_by for task in tasks) for account in accounts]
    added = 0
    for task in track(tasks, len(tasks), "annotate: simulated annotators voting", "task"):
        if task.session_id not in truths:
            continue
        needed = overlaps.get(task.task_id, initial)
        held = len(task.annotated_by)
        for index in assigned_annotators(len(accounts), needed, initial=initial, seed=seed, session_id=task.session_id):
            account = accounts[index]
            if held >= needed:
                break
            if account.user_id in task.annotated_by:
                continue
            annotator = simulate.annotators[index]
            held += 1
            votes_cast[index] += 1
            label = annotator_vote(
                annotator, index, truths[task.session_id], seed=seed, session_id=task.session_id,
                vote_number=votes_cast[index],
            )
            seconds = lead_time(index, seed=seed, session_id=task.session_id)
            submit_vote(clients[index], settings, account, task.task_id, label, seconds)
            added += 1
    LOG.info("simulated annotators added %d votes", added)
    return added


def decide_as_reviewer(
    settings: LabelStudioSettings,
    simulate: SimulateConfig,
    tasks: Sequence[TaskState],
    truths: Mapping[str, str],
    *,
    seed: int,
) -> int:
    """The simulated senior reviewer decides every adjudication task without a decision yet."""
    account = ensure_account(settings, simulated_email(REVIEWER_NAME))
    client = connect(settings, account.api_key)
    added = 0
    for task in tasks:
        if task.annotated_by or task.session_id not in truths:
            continue
        label = reviewer_vote(simulate.reviewer_accuracy, truths[task.session_id], seed=seed, session_id=task.session_id)
        submit_vote(client, settings, account, task.task_id, label, REVIEWER_LEAD_TIME)
        added += 1
    LOG.info("simulated reviewer added %d decisions", added)
    return added


@dataclass(frozen=True)
class SimulatedPeople:
    """``People`` of ``annotation.simulate``: they answer a round's open tasks when asked."""

    simulate: SimulateConfig

    def act(self, campaign: Campaign, round_: Round) -> int:
        """Answer the open tasks of this build's kept sessions in ``round_``'s project."""
        if round_ == ANNOTATION:
            project_id: int | None = campaign.project_id()
        elif round_ == ADJUDICATION:
            project_id = campaign.review_project_id()
        else:
            raise ValueError(f"unknown annotation round {round_!r}")
        if project_id is None:  # no adjudication project: nothing was ever sent to the reviewer
            return 0
        raw = export.download_export(campaign.ls, campaign.settings, project_id)
        states = task_states(export.parse_export(raw, f"export of project {project_id}"))
        sessions = kept_sessions(campaign.paths)
        visible = sorted({state.session_id for state in states} & set(sessions))
        truths = session_truths(self.simulate, [sessions[s] for s in visible])
        seed = campaign.config.seed
        if round_ == ANNOTATION:
            overlaps = server_overlaps(campaign.ls, campaign.settings, project_id)
            initial = campaign.config.annotation.overlap.initial
            return vote_as_annotators(
                campaign.settings, self.simulate, states, truths, overlaps=overlaps, initial=initial, seed=seed
            )
        return decide_as_reviewer(campaign.settings, self.simulate, states, truths, seed=seed)
