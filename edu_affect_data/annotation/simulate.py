"""Simulated annotators and reviewer: real accounts voting through the real server.

For the demo and the tests, people are replaced by seeded noisy observers of the synthetic truth.
A session's true emotion is the majority emotion of its units in ``synth_truth.json`` (ties: the
tied emotion met first in time). Each simulated annotator answers "Cannot tell" with probability
``cannot_tell``, else the truth with probability ``accuracy``, else a wrong class: its ``bias``
class half of the time (when it has one), otherwise a uniformly drawn wrong class. The reviewer is
right with ``reviewer_accuracy`` and never abstains. Accuracies of 0.8-0.9 give a Cohen's kappa
around 0.7-0.8, the range reported for trained affect coders.

Every draw comes from a generator seeded by (seed, role, session), so a vote does not depend on
the order of tasks or on which other sessions exist. With more annotators than
``maximum_annotations``, each session's annotators are drawn the same way (Label Studio Community
cannot assign tasks to people, so the simulation does it).

Votes are submitted as annotations by each simulated account with its own token (see
``accounts``); a session an account already annotated is left alone, so a rerun adds only what is
missing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edu_affect_data import CLASSES
from edu_affect_data.annotation.accounts import Account, ensure_account, simulated_email
from edu_affect_data.annotation.aggregate import CANNOT_TELL
from edu_affect_data.annotation.client import LabelStudioSettings, call_with_retries, connect
from edu_affect_data.annotation.labeling import AFFECT_CONTROL
from edu_affect_data.config import PipelineConfig, SimulateConfig, SimulatedAnnotator

if TYPE_CHECKING:
    from label_studio_sdk import LabelStudio

LOG = logging.getLogger(__name__)
REVIEWER_NAME = "sim-reviewer"
#: Role numbers in the seed: annotators 0..N-1, the reviewer, the assignment draw.
_REVIEWER_ROLE = 1000
_ASSIGNMENT_ROLE = 1001


class TruthError(ValueError):
    """The synthetic truth is missing, malformed, or does not cover a session."""


def truth_path(config: PipelineConfig) -> Path:
    """``annotation.simulate.truth``, else ``synth_truth.json`` next to the synthetic corpora."""
    simulate = config.annotation.simulate
    if simulate is not None and simulate.truth is not None:
        return Path(simulate.truth)
    for corpus in (config.corpora.iemocap, config.corpora.mosei):
        if corpus is not None:
            return Path(corpus).parent / "synth_truth.json"
    raise TruthError("annotation.simulate.truth is not set and no corpus path tells where to look")


def load_unit_emotions(path: Path) -> dict[tuple[str, str], str]:
    """(corpus, unit id) -> latent emotion, from ``synth_truth.json``."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        units = document["units"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TruthError(f"{path}: cannot read the synthetic truth's units: {exc}") from exc
    emotions: dict[tuple[str, str], str] = {}
    for index, unit in enumerate(units):
        if unit.get("emotion") not in CLASSES:
            raise TruthError(f"{path}: units[{index}] ({unit.get('id')}): emotion {unit.get('emotion')!r} is not a class")
        emotions[(str(unit["corpus"]), str(unit["id"]))] = str(unit["emotion"])
    return emotions


def session_emotions(
    sessions: Sequence[Mapping[str, Any]], units: Mapping[tuple[str, str], str]
) -> dict[str, str]:
    """session_id -> majority latent emotion of its units (ties: the first met in time order)."""
    result: dict[str, str] = {}
    for session in sessions:
        ids = list(session["utterance_ids"] or [])
        missing = [uid for uid in ids if (session["corpus"], uid) not in units]
        if not ids or missing:
            raise TruthError(
                f"session {session['session_id']}: unit(s) {missing[:3] or '(none)'} not in the synthetic truth"
            )
        counts = Counter(units[(session["corpus"], uid)] for uid in ids)
        result[str(session["session_id"])] = counts.most_common(1)[0][0]
    return result


def _rng(seed: int, role: int, session_id: str) -> np.random.Generator:
    digest = int.from_bytes(hashlib.sha256(session_id.encode()).digest()[:8], "big")
    return np.random.default_rng([seed, role, digest])


def annotator_vote(
    annotator: SimulatedAnnotator, index: int, truth: str, *, seed: int, session_id: str
) -> str:
    """One simulated annotator's vote on one session (see the module docstring)."""
    rng = _rng(seed, index, session_id)
    if rng.random() < annotator.cannot_tell:
        return CANNOT_TELL
    if rng.random() < annotator.accuracy:
        return truth
    wrong = [label for label in CLASSES if label != truth]
    if annotator.bias in wrong and rng.random() < 0.5:
        return str(annotator.bias)
    return str(rng.choice(wrong))


def reviewer_vote(accuracy: float, truth: str, *, seed: int, session_id: str) -> str:
    rng = _rng(seed, _REVIEWER_ROLE, session_id)
    if rng.random() < accuracy:
        return truth
    return str(rng.choice([label for label in CLASSES if label != truth]))


def assigned_annotators(n_annotators: int, per_task: int, *, seed: int, session_id: str) -> list[int]:
    """Which simulated annotators label a session (all of them when there are just enough)."""
    if n_annotators < per_task:
        raise ValueError(
            f"annotation.simulate has {n_annotators} annotator(s) but maximum_annotations is {per_task}"
        )
    chosen = _rng(seed, _ASSIGNMENT_ROLE, session_id).choice(n_annotators, per_task, replace=False)
    return sorted(int(i) for i in chosen)


def choice_result(label: str) -> list[dict[str, Any]]:
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
    ls: LabelStudio, settings: LabelStudioSettings, account: Account, task_id: int, label: str, lead_time: float
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
        ls.annotations.create(id=task_id, result=choice_result(label), lead_time=lead_time)

    call_with_retries(attempt, what=f"annotation of task {task_id} by {account.email}", settings=settings)


def simulate_annotators(
    settings: LabelStudioSettings,
    simulate: SimulateConfig,
    tasks: Sequence[TaskState],
    truths: Mapping[str, str],
    *,
    per_task: int,
    seed: int,
) -> int:
    """Let each simulated annotator vote on its still-unlabelled sessions; returns votes added."""
    if not simulate.annotators:
        raise ValueError("annotation.simulate.annotators is empty: list the simulated annotators")
    accounts = [ensure_account(settings, simulated_email(a.name)) for a in simulate.annotators]
    clients = [connect(settings, account.api_key) for account in accounts]
    added = 0
    for task in tasks:
        if task.session_id not in truths:
            continue
        for index in assigned_annotators(len(accounts), per_task, seed=seed, session_id=task.session_id):
            account = accounts[index]
            if account.user_id in task.annotated_by:
                continue
            annotator = simulate.annotators[index]
            label = annotator_vote(annotator, index, truths[task.session_id], seed=seed, session_id=task.session_id)
            lead_time = float(_rng(seed, index + 500, task.session_id).uniform(15.0, 90.0))
            submit_vote(clients[index], settings, account, task.task_id, label, lead_time)
            added += 1
    LOG.info("simulated annotators added %d votes", added)
    return added


def simulate_reviewer(
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
        submit_vote(client, settings, account, task.task_id, label, 30.0)
        added += 1
    return added
