"""What the simulated annotators and reviewer answer: seeded noisy observers of the synthetic truth.

For the demo and the tests, people are replaced by simulated ones; ``simulated_people`` is how they
reach the server (their own accounts, votes through the API), this module is what they answer.
A session's true emotion is the majority emotion of its units in ``synth_truth.json`` (ties: the
tied emotion met first in time). Each simulated annotator answers "Cannot tell" with probability
``cannot_tell``, else the truth with probability ``accuracy``, else a wrong class: its ``bias``
class half of the time (when it has one), otherwise a uniformly drawn wrong class. The reviewer is
right with ``reviewer_accuracy`` and never abstains. Accuracies of 0.8-0.9 give a Cohen's kappa
around 0.7-0.8, the range reported for trained affect coders.

Every draw comes from a generator seeded by (seed, role, session), so a vote does not depend on
the order of tasks or on which other sessions exist. With more annotators than a task needs, each
session's annotators are drawn the same way (Label Studio Community cannot assign tasks to people,
so the simulation does it). A drifting annotator (``drift``) answers with a lower accuracy after a
number of votes: the case the drift flag of ``annotate status`` must catch.

The truth file is ``annotation.simulate.truth``, else the ``synth_truth.json`` that ``edu-data
synth`` writes next to the corpora, found as the nearest one in a folder above each session's
recording (so the simulation reads the manifest, not the corpora configuration).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edu_affect_data.annotation.options import SimulateConfig, SimulatedAnnotator
from edu_affect_data.core.vocabulary import ABSTAIN, CLASSES, SYNTH_TRUTH_FILE
from edu_affect_data.corpora.plugin import synthetic_truth

#: Role numbers in the seed: annotators 0..N-1, their lead times (500 + index), the reviewer,
#: the assignment draw.
_LEAD_TIME_ROLE = 500
_REVIEWER_ROLE = 1000
_ASSIGNMENT_ROLE = 1001


class TruthError(ValueError):
    """The synthetic truth is missing, malformed, or does not cover a session."""


def truth_path(simulate: SimulateConfig, recording: Path) -> Path:
    """``simulate.truth``, else the nearest ``synth_truth.json`` in a folder above ``recording``."""
    if simulate.truth is not None:
        return Path(simulate.truth)
    found = synthetic_truth(Path(recording).parent)
    if found is not None:
        return found
    raise TruthError(
        f"annotation.simulate.truth is not set and no folder above {recording} holds {SYNTH_TRUTH_FILE}"
    )


def session_truths(simulate: SimulateConfig, sessions: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """session_id -> true emotion of manifest ``sessions``, each from the truth file of its recording."""
    by_file: dict[Path, list[Mapping[str, Any]]] = {}
    for session in sessions:
        recording = session["audio_path"] or session["video_path"]
        if recording is None:
            raise TruthError(f"session {session['session_id']}: the manifest names no recording")
        by_file.setdefault(truth_path(simulate, Path(recording)), []).append(session)
    truths: dict[str, str] = {}
    for path, group in sorted(by_file.items()):
        truths.update(session_emotions(group, load_unit_emotions(path)))
    return truths


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
    annotator: SimulatedAnnotator, index: int, truth: str, *, seed: int, session_id: str, vote_number: int = 1
) -> str:
    """One simulated annotator's vote on one session (see the module docstring).

    ``vote_number`` is this annotator's count of votes including this one: past ``drift.after`` a
    drifting annotator answers with ``drift.accuracy`` instead of ``accuracy``.
    """
    rng = _rng(seed, index, session_id)
    accuracy = annotator.accuracy
    if annotator.drift is not None and vote_number > annotator.drift.after:
        accuracy = annotator.drift.accuracy
    if rng.random() < annotator.cannot_tell:
        return ABSTAIN
    if rng.random() < accuracy:
        return truth
    wrong = [label for label in CLASSES if label != truth]
    if annotator.bias in wrong and rng.random() < 0.5:
        return str(annotator.bias)
    return str(rng.choice(wrong))


def lead_time(index: int, *, seed: int, session_id: str) -> float:
    """Seconds annotator ``index`` spends on a session (Label Studio's ``lead_time``), 15-90 s."""
    return float(_rng(seed, _LEAD_TIME_ROLE + index, session_id).uniform(15.0, 90.0))


def reviewer_vote(accuracy: float, truth: str, *, seed: int, session_id: str) -> str:
    """The simulated reviewer's decision: right with ``accuracy``, never an abstention."""
    rng = _rng(seed, _REVIEWER_ROLE, session_id)
    if rng.random() < accuracy:
        return truth
    return str(rng.choice([label for label in CLASSES if label != truth]))


def assigned_annotators(n_annotators: int, needed: int, *, initial: int, seed: int, session_id: str) -> list[int]:
    """Which simulated annotators label a session that needs ``needed`` annotations, in voting order.

    One seeded order of all annotators per session: the first ``initial`` of it (sorted) vote
    first, and a task raised to more annotations (adaptive overlap, gold) goes to the next ones in
    that order, so raising a task never changes who already voted on it.
    """
    if n_annotators < needed:
        raise ValueError(
            f"annotation.simulate has {n_annotators} annotator(s) but a task needs {needed} annotations "
            "(annotation.overlap.max, annotation.gold.overlap)"
        )
    order = [int(i) for i in _rng(seed, _ASSIGNMENT_ROLE, session_id).choice(n_annotators, n_annotators, replace=False)]
    first = sorted(order[: min(initial, needed)])
    return first + order[len(first) : needed]
