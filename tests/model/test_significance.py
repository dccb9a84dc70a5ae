"""Paired t-test, Holm and the paired session bootstrap: against scipy/statsmodels, textbook values
and constructed cases whose bootstrap distribution is known."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from edu_emotionnet.evaluate import classification_metrics
from edu_emotionnet.runs import DuplicateRunError, collect_runs
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
from tests.model.fabricated_runs import write_places, write_run


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
    # The same difference on every resample: no spread, p 0 (1 for a difference of exactly 0).
    assert result.p == 0.0 and (result.sessions, result.seeds, result.clusters) == (30, 2, 30)
    same = paired_bootstrap(labels, a, a, "macro_f1", resamples=500)
    assert (same.observed, same.low, same.high, same.p) == (0.0, 0.0, 0.0, 1.0)


def test_bootstrap_interval_is_the_t_test_one_for_independent_sessions() -> None:
    """a is always right, b right on 40 of 50 sessions, each session its own unit: the accuracy
    difference is the mean of 0/1 per-session differences, so the cluster t interval is the one-sample
    t-test's interval on them (bootstrap SE x sqrt(n/(n-1)) = sd/sqrt(n)), up to Monte-Carlo error."""
    n, right, draws = 50, 40, 20000
    labels = np.zeros(n, dtype=int)
    b = np.where(np.arange(n) < right, 0, 1)
    result = paired_bootstrap(labels, labels, b, "accuracy", resamples=draws, seed=5)
    assert result.observed == pytest.approx(0.2) and result.clusters == n
    per_session = (labels == labels).astype(float) - (b == labels)
    reference = stats.ttest_1samp(per_session, 0.0)
    low, high = reference.confidence_interval(0.95)
    half = (high - low) / 2
    assert result.low == pytest.approx(low, abs=0.02 * half) and result.high == pytest.approx(high, abs=0.02 * half)
    assert result.p == pytest.approx(reference.pvalue, rel=0.2)
    # macro-F1 on the same case: F1 of b = 2K / (50 + K) on class 0 (class 1 never true), /4 classes.
    f1 = paired_bootstrap(labels, labels, b, "macro_f1", resamples=draws, seed=5)
    assert f1.observed == pytest.approx(0.25 - (2 * right / (n + right)) / 4)
    spread = np.std(bootstrap(lambda c: c @ (b == 0) * 2 / (n + c @ (b == 0)) / 4, n, draws, 5).resampled, ddof=1)
    assert f1.high - f1.observed == pytest.approx(stats.t.ppf(0.975, n - 1) * spread * np.sqrt(n / (n - 1)), rel=1e-9)


def test_the_speaker_bootstrap_resamples_speakers_not_sessions() -> None:
    """8 speakers of 5 sessions; b is wrong on every session of speakers 0 and 1 only. Over speakers
    the difference is the mean of the per-speaker differences (1, 1, 0, ..., 0): its t interval is
    the t-test's over those 8 values, far wider than over 40 sessions as if independent."""
    speakers = np.repeat(np.arange(8), 5)
    labels = np.zeros(40, dtype=int)
    b = np.where(speakers < 2, 1, 0)
    by_speaker = paired_bootstrap(labels, labels, b, "accuracy", resamples=20000, seed=1, groups=speakers)
    by_session = paired_bootstrap(labels, labels, b, "accuracy", resamples=20000, seed=1)
    assert (by_speaker.clusters, by_speaker.sessions, by_session.clusters) == (8, 40, 40)
    assert by_speaker.units == "8 speakers, 40 sessions" and by_session.units == "40 sessions (no speaker ids)"
    reference = stats.ttest_1samp(np.array([1.0, 1.0, 0, 0, 0, 0, 0, 0]), 0.0)
    low, high = reference.confidence_interval(0.95)
    assert by_speaker.observed == pytest.approx(0.25)
    assert (by_speaker.low, by_speaker.high) == pytest.approx((low, high), abs=0.02 * (high - low))
    assert by_speaker.p == pytest.approx(reference.pvalue, rel=0.1) and by_speaker.p > 0.05  # 2 of 8 speakers
    assert by_session.p < 0.001  # the session bootstrap calls the same data significant


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


# --- pairing guards and speakers -----------------------------------------------------------------------


def test_two_runs_with_one_seed_are_an_error_naming_both(tmp_path: Path) -> None:
    labels = np.arange(8) % 4
    first = write_run(tmp_path / "a" / "edu_emotionnet", "edu_emotionnet.yaml", 0, labels, labels, data=tmp_path / "data")
    second = write_run(tmp_path / "b" / "edu_emotionnet", "edu_emotionnet.yaml", 0, labels, labels, data=tmp_path / "data")
    with pytest.raises(DuplicateRunError) as caught:
        collect_runs([tmp_path / "a", tmp_path / "b"])
    assert str(first) in str(caught.value) and str(second) in str(caught.value) and "seed 0" in str(caught.value)
    runs = collect_runs([tmp_path / "a"])[0]
    runs.results.append(runs.results[0])  # built by hand, around `add`
    runs.run_dirs.append(second)
    with pytest.raises(DuplicateRunError, match="seed 0"):
        runs.by_seed()


def test_sessions_not_scored_by_every_run_are_left_out_and_named(tmp_path: Path) -> None:
    """late_fusion seed 1 scored 36 of the 40 sessions: both tests use the 36 all runs scored, the
    t-test on metrics recomputed there, and the comparison says which sessions were left out."""
    _world(tmp_path / "runs", [0, 1, 2], tmp_path / "data")
    late = tmp_path / "runs" / "late_fusion" / "seed1" / "test_outputs.npz"
    with np.load(late) as z:
        kept = {k: (z[k][4:] if k in ("labels", "session_probs", "step_probs", "weights", "session_ids", "speaker_ids") else z[k])
                for k in z.files if not k.startswith("robustness")}
    np.savez_compressed(late, **kept)
    accuracy = {c.other: c for c in compare_all(collect_runs([tmp_path / "runs"]), resamples=300)["accuracy"]}
    late_fusion = accuracy["late_fusion"]
    assert late_fusion.boot is not None and late_fusion.boot.sessions == 36
    assert late_fusion.note == ("4 test sessions left out, not scored by every run (test_0000, test_0001, test_0002, ...; "
                                "missing from late_fusion seed 1); compared on 36")
    # On sessions 4..39 the full model is always right, late fusion wrong on sessions 4..(9 - s).
    on_common = [(36 - max(0, 6 - s)) / 36 for s in range(3)]
    assert late_fusion.t.mean_diff == pytest.approx(1.0 - np.mean(on_common), abs=1e-12)
    assert accuracy["no_mie"].boot is not None and accuracy["no_mie"].boot.sessions == 40  # its runs are complete
    text = "\n".join(render({"accuracy": list(accuracy.values())}, "edu_emotionnet"))
    assert f"- vs late_fusion: {late_fusion.note}." in text


def test_old_outputs_take_speakers_from_the_dataset_or_say_they_have_none(tmp_path: Path) -> None:
    """Test outputs written before speaker ids: the speakers come from the run's dataset, with a note;
    without a dataset the sessions are resampled alone, and the comparison says so."""
    data = tmp_path / "data"
    write_places(data, [{"session_id": f"test_{i:04d}", "speaker_id": f"spk{i // 5}"} for i in range(40)])
    _world(tmp_path / "runs", [0, 1], data)
    for npz in (tmp_path / "runs").rglob("test_outputs.npz"):
        with np.load(npz) as z:
            kept = {k: z[k] for k in z.files if k != "speaker_ids"}
        np.savez_compressed(npz, **kept)
    late = compare_all(collect_runs([tmp_path / "runs"]), resamples=300)["accuracy"][0]
    assert late.boot is not None and (late.boot.clusters, late.boot.units) == (8, "8 speakers, 40 sessions")
    assert late.note == (f"test_outputs.npz without speaker ids (written before they were saved): speakers read from "
                         f"dataset {data}: edu_emotionnet seed 0 and 3 other runs")
    shutil.rmtree(data)
    late = compare_all(collect_runs([tmp_path / "runs"]), resamples=300)["accuracy"][0]
    assert late.boot is not None and late.boot.units == "40 sessions (no speaker ids)"
    assert "no speaker ids: sessions resampled as independent units" in late.note
    assert f"dataset {data} cannot give them" in late.note


def test_runs_that_disagree_on_a_speaker_are_not_compared(tmp_path: Path) -> None:
    labels = np.arange(12) % 4
    speakers = [f"spk{i // 3}" for i in range(12)]
    write_run(tmp_path / "edu_emotionnet", "edu_emotionnet.yaml", 0, labels, labels, data=tmp_path / "d", speakers=speakers)
    write_run(tmp_path / "late_fusion", "baseline_late_fusion.yaml", 0, labels, labels, data=tmp_path / "d", speakers=speakers[::-1])
    late = compare_all(collect_runs([tmp_path]), resamples=100)["macro_f1"][0]
    assert late.boot is None and "disagree on the test sessions' speakers" in late.boot_reason


def test_the_report_opens_with_what_its_dataset_card_says(tmp_path: Path) -> None:
    import yaml
    from edu_emotionnet.report import provenance_lines

    data = tmp_path / "dataset"
    _world(tmp_path / "runs", [0], data)
    groups = collect_runs([tmp_path / "runs"])
    missing = "\n".join(provenance_lines(groups, None))
    assert missing.startswith("## Provenance\n\nReport written by edu-affect-data ")
    assert f"- edu_emotionnet: {tmp_path / 'runs' / 'edu_emotionnet' / 'seed0'}: its dataset is not found" in missing
    data.mkdir()
    assert "Dataset `dataset`: no dataset card" in "\n".join(provenance_lines(groups, None))
    record = {"synthetic_corpora": ["iemocap", "mosei"], "recorded_corpora": [], "simulated_annotators": True,
              "overlap": {"initial": 2, "max": 3, "adaptive": True},
              "labels": {"labelled": 237, "decided_by_reviewer": 5, "in_dataset": 200, "in_dataset_decided_by_reviewer": 3},
              "code": {"version": "0.1.0", "git_commit": "0123456789abcdef", "uncommitted_changes": False}}
    (data / "README.md").write_text("---\n" + yaml.safe_dump({"edu_affect": {"provenance": record}}) + "---\n# card\n")
    text = "\n".join(provenance_lines(groups, None))
    assert "Dataset `dataset`:\n- **Synthetic corpora: iemocap, mosei**" in text
    assert "- **Simulated annotators**" in text and "- Decided by the reviewer: 5 of 237 labelled sessions (3 of the 200 in the dataset)." in text
    assert "- Code: edu-affect-data 0.1.0, commit 0123456789ab." in text
    (data / "README.md").write_text("---\nedu_affect:\n  classes: []\n---\n")
    assert "its card records no provenance (published before it was recorded: publish again)" in "\n".join(provenance_lines(groups, data))


def test_one_test_speaker_gives_no_interval_over_speakers(tmp_path: Path) -> None:
    labels = np.arange(12) % 4
    for name, variant in (("edu_emotionnet", "edu_emotionnet.yaml"), ("late_fusion", "baseline_late_fusion.yaml")):
        write_run(tmp_path / name, variant, 0, labels, labels, data=tmp_path / "d", speakers=["spk0"] * 12)
    late = compare_all(collect_runs([tmp_path]), resamples=100)["accuracy"][0]
    assert late.boot is None and late.boot_reason == "the 12 common test sessions are of one speaker: no interval over speakers"
