"""Dawid-Skene wrapper: recovers planted truth, deterministic, abstentions and min_votes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from edu_affect_data.annotation.estimators import DawidSkene, MajorityVote
from edu_affect_data.core.vocabulary import ABSTAIN, CLASSES


def planted_votes(seed: int, n_tasks: int = 300) -> tuple[pd.DataFrame, pd.Series]:
    """Two reliable workers and three unreliable ones who, when wrong, mostly answer 'Bored'."""
    rng = np.random.default_rng(seed)
    truth = pd.Series(
        rng.choice(CLASSES, size=n_tasks), index=[f"t{i:03d}" for i in range(n_tasks)]
    )
    accuracy = {"good1": 0.9, "good2": 0.85, "poor1": 0.3, "poor2": 0.3, "poor3": 0.3}
    rows = []
    for task, label in truth.items():
        for worker, p in accuracy.items():
            answer = (
                label
                if rng.random() < p
                else ("Bored" if rng.random() < 0.8 else rng.choice(CLASSES))
            )
            rows.append((task, worker, answer))
    return pd.DataFrame(rows, columns=["task", "worker", "label"]), truth


def test_recovers_planted_truth_better_than_chance_and_majority() -> None:
    data, truth = planted_votes(seed=1)
    estimated = DawidSkene(n_iter=100).fit_predict(data)
    accuracy = (estimated.reindex(truth.index) == truth).mean()
    majority = (MajorityVote().fit_predict(data).reindex(truth.index) == truth).mean()
    assert accuracy > 0.8  # chance is 0.25
    assert accuracy > majority


def test_worker_confusions_reflect_reliability() -> None:
    data, _ = planted_votes(seed=2)
    model = DawidSkene().fit(data)
    errors = model.errors_  # index (worker, observed label), columns true label
    diagonal = {
        worker: np.mean([errors.loc[(worker, c), c] for c in CLASSES])
        for worker in ("good1", "poor1")
    }
    assert diagonal["good1"] > 0.8 > diagonal["poor1"]


def test_deterministic_and_order_independent() -> None:
    data, _ = planted_votes(seed=3, n_tasks=80)
    first = DawidSkene(n_iter=30).fit_predict(data)
    second = DawidSkene(n_iter=30).fit_predict(data.sample(frac=1.0, random_state=0))
    pd.testing.assert_series_equal(first, second)


def test_abstentions_are_dropped_and_min_votes_applies() -> None:
    data = pd.DataFrame(
        [
            ("a", "w1", "Bored"), ("a", "w2", "Bored"), ("a", "w3", ABSTAIN),
            ("b", "w1", ABSTAIN), ("b", "w2", ABSTAIN), ("b", "w3", "Curious"),
            ("c", "w1", ABSTAIN), ("c", "w2", ABSTAIN),
        ],
        columns=["task", "worker", "label"],
    )  # fmt: skip
    labels = DawidSkene(min_votes=2).fit_predict(data)
    assert labels["a"] == "Bored"
    assert pd.isna(labels["b"])  # one valid vote
    assert pd.isna(labels["c"])  # abstentions only
    assert (
        DawidSkene(min_votes=1).fit_predict(data)["b"] in CLASSES
    )  # decided once one vote suffices
