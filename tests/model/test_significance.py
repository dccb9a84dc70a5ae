"""Paired t-test, Holm and the paired session bootstrap: against scipy/statsmodels, textbook values
and constructed cases whose bootstrap distribution is known."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from edu_emotionnet.evaluate import classification_metrics
from edu_emotionnet.runs import collect_runs
from edu_emotionnet.significance import (
    compare_all,
    holm,
    paired_bootstrap,
    paired_t,
    render,
    weighted_metric,
)
from scipy import stats
from sklearn.metrics import f1_score
from statsmodels.stats.multitest import multipletests

from edu_affect_data.core.stats import bootstrap, resample_weights
from tests.model.fabricated_runs import write_run


def test_paired_t_matches_scipy_and_the_textbook() -> None:
    a, b = np.array([3.0, 5.0, 7.0]), np.array([2.0, 3.0, 4.0])  # differences 1, 2, 3
    result = paired_t(a, b)
    reference = stats.ttest_rel(a, b)
    assert (result.t, result.p) == (float(reference.statistic), float(reference.pvalue))
    # By hand: mean 2, sd 1, t = 2 / (1 / sqrt 3); with 2 degrees of freedom p = 1 - t / sqrt(2 + t^2).
    assert result.t == pytest.approx(2 * math.sqrt(3), rel=1e-12)
    assert result.p == pytest.approx(1 - math.sqrt(12 / 14), rel=1e-9)
    assert (result.n, result.mean_diff) == (3, 2.0)
    scores = stats.ttest_rel([0.81, 0.84, 0.86, 0.80], [0.78, 0.80, 0.85, 0.79])
    assert paired_t(np.array([0.81, 0.84, 0.86, 0.80]), np.array([0.78, 0.80, 0.85, 0.79])).p == float(scores.pvalue)


def test_paired_t_is_not_computed_on_one_seed_or_constant_differences() -> None:
    one = paired_t(np.array([0.8]), np.array([0.7]))
    assert one.t is None and one.p is None and "needs at least 2" in one.reason
    assert one.mean_diff == pytest.approx(0.1)
    constant = paired_t(np.array([0.8, 0.9, 0.7]), np.array([0.7, 0.8, 0.6]))
    assert constant.p is None and "same for every seed" in constant.reason


def test_holm_textbook_and_statsmodels() -> None:
    # Sorted 0.01, 0.03, 0.04 -> 3 x 0.01 = 0.03, max(0.03, 2 x 0.03) = 0.06, max(0.06, 1 x 0.04) = 0.06.
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06], abs=1e-15)
    p = [0.002, 0.2, 0.011, 0.04, 0.6]
    assert holm(p) == pytest.approx(list(multipletests(p, alpha=0.05, method="holm")[1]), abs=0)
    assert holm([]) == []


def test_weighted_metric_equals_the_evaluation_metrics_on_a_resample() -> None:
    rng = np.random.default_rng(3)
    labels, predicted = rng.integers(0, 4, 60), rng.integers(0, 4, 60)
    ones = np.ones((1, 60))
    for metric in ("macro_f1", "accuracy"):
        assert weighted_metric(ones, labels, predicted, metric)[0] == pytest.approx(classification_metrics(labels, predicted)[metric], abs=1e-12)
    counts = next(resample_weights(60, 5, seed=1))
    draws = np.random.default_rng(1).integers(0, 60, (5, 60))  # the same draws resample_weights counted
    for r in range(5):
        assert np.array_equal(counts[r], np.bincount(draws[r], minlength=60))
        expected = f1_score(labels[draws[r]], predicted[draws[r]], labels=[0, 1, 2, 3], average="macro", zero_division=0)
        assert weighted_metric(counts[r : r + 1], labels, predicted, "macro_f1")[0] == pytest.approx(expected, abs=1e-12)


def test_bootstrap_of_a_constant_difference() -> None:
    labels = np.zeros((2, 30), dtype=int)  # one class present: a perfect model scores macro-F1 1/4
    a = np.zeros((2, 30), dtype=int)
    b = np.stack([np.ones(30, dtype=int), np.zeros(30, dtype=int)])  # seed 0: all wrong (0), seed 1: = a
    result = paired_bootstrap(labels, a, b, "macro_f1", resamples=500, seed=0)
    # Every resample: seed 0 differs by 1/4, seed 1 by 0; averaged over seeds 1/8, whatever the draw.
    assert (result.observed, result.low, result.high) == (0.125, 0.125, 0.125)
    assert result.p == 2 / 501 and (result.sessions, result.seeds) == (30, 2)
    same = paired_bootstrap(labels, a, a, "macro_f1", resamples=500)
    assert (same.observed, same.low, same.high, same.p) == (0.0, 0.0, 0.0, 1.0)


def test_bootstrap_interval_is_the_binomial_one() -> None:
    """a is always right, b right on 40 of 50 sessions: over resamples, b's accuracy is K/50 with
    K ~ Binomial(50, 0.8), so the difference 1 - K/50 has known 2.5 % and 97.5 % quantiles."""
    n, right, draws = 50, 40, 20000
    labels = np.zeros(n, dtype=int)
    b = np.where(np.arange(n) < right, 0, 1)
    result = paired_bootstrap(labels, labels, b, "accuracy", resamples=draws, seed=5)
    assert result.observed == pytest.approx(0.2)
    k_low, k_high = stats.binom.ppf([0.025, 0.975], n, right / n)
    # Percentiles of a discrete distribution from 20000 draws: the binomial quantile, within one step.
    assert 1 - (k_high + 1) / n <= result.low <= 1 - (k_high - 1) / n
    assert 1 - (k_low + 1) / n <= result.high <= 1 - (k_low - 1) / n
    # P(difference <= 0) = P(K = 50) = 0.8^50 ~ 1.4e-5: almost no resample reaches 0.
    assert result.p < 0.002
    # macro-F1 on the same case: F1 of b = 2K / (50 + K) on class 0 (class 1 never true), /4 classes.
    f1 = paired_bootstrap(labels, labels, b, "macro_f1", resamples=draws, seed=5)
    assert f1.observed == pytest.approx(0.25 - (2 * right / (n + right)) / 4)
    assert f1.low == pytest.approx(np.percentile(0.25 - bootstrap(lambda c: c @ (b == 0) * 2 / (n + c @ (b == 0)) / 4, n, draws, 5).resampled, 2.5))


def _world(root: Path, seeds: list[int], data: Path) -> None:
    """Full model right on 36 of 40 sessions; late fusion right on 30 + seed; -MIE equal to the full model but on seed 1."""
    labels = np.arange(40) % 4
    for s in seeds:
        full = labels.copy()
        full[:4] = (labels[:4] + 1) % 4
        late = labels.copy()
        late[: 10 - s] = (labels[: 10 - s] + 1) % 4
        no_mie = full.copy()
        if s == 1:
            no_mie[4:6] = (labels[4:6] + 1) % 4
        write_run(root / "edu_emotionnet", "edu_emotionnet.yaml", s, labels, full, data=data)
        write_run(root / "late_fusion", "baseline_late_fusion.yaml", s, labels, late, data=data)
        write_run(root / "no_mie", "ablation_no_mie.yaml", s, labels, no_mie, data=data)


@pytest.mark.slow
def test_compare_all_on_runs(tmp_path: Path) -> None:
    _world(tmp_path / "runs", [0, 1, 2], tmp_path / "data")
    groups = collect_runs([tmp_path / "runs"])
    comparisons = compare_all(groups, resamples=300)
    late, no_mie = comparisons["accuracy"]
    assert (late.other, no_mie.other, late.kind, no_mie.kind) == ("late_fusion", "no_mie", "baseline", "ablation")
    assert late.seeds == (0, 1, 2)
    full_acc = [36 / 40] * 3
    late_acc = [(30 + s) / 40 for s in range(3)]
    reference = stats.ttest_rel(full_acc, late_acc)
    assert late.t.p == pytest.approx(float(reference.pvalue), rel=1e-12)
    no_mie_p = stats.ttest_rel(full_acc, [36 / 40, 34 / 40, 36 / 40]).pvalue
    adjusted = multipletests([reference.pvalue, no_mie_p], method="holm")[1]
    assert (late.p_holm, no_mie.p_holm) == pytest.approx(tuple(adjusted), rel=1e-12)
    assert late.boot is not None and late.boot.observed == pytest.approx(np.mean(np.subtract(full_acc, late_acc)))
    text = "\n".join(render(comparisons, "edu_emotionnet"))
    assert "edu_emotionnet vs no_mie (ablation) | 3 |" in text
    assert "**not significant at 0.05**" in text  # -MIE differs on one seed by 2 sessions


def test_one_seed_says_the_t_test_is_not_computed(tmp_path: Path) -> None:
    _world(tmp_path / "runs", [0], tmp_path / "data")
    comparisons = compare_all(collect_runs([tmp_path / "runs"]), resamples=300)
    late = comparisons["macro_f1"][0]
    assert late.t.p is None and late.p_holm is None and late.basis == "bootstrap"
    text = "\n".join(render(comparisons, "edu_emotionnet"))
    assert "not computed (1 paired seed: the t-test needs at least 2)" in text
