"""Paired tests of the full model against every other model, as the paper states them.

The paper (Tables I-II) backs its gains with paired t-tests over the three training seeds. Here:
- **paired t-test over seeds** (`scipy.stats.ttest_rel`) on a test metric, paired by seed (only
  seeds both models have), with **Holm's** correction over the family of comparisons of one metric
  (`statsmodels` `multipletests(method="holm")`): it measures how much the gain varies with the
  initialisation, not with the test sample; with one common seed it is not computed.
- **paired bootstrap over test sessions** (same seeds): each resample draws test sessions with
  replacement, scores both models on it for every seed and averages the difference over seeds.
  It measures how much the gain depends on which sessions happen to be in the test split, which
  the seed t-test ignores (40 demo test sessions separate nothing 3-5 points apart).

Every statistic is computed from counts: a resample is a (B, N) matrix of how often each session
was drawn, so a metric of B resamples is a few matrix products instead of B Python calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edu_affect_data.core.stats import bootstrap
from edu_affect_data.core.vocabulary import CLASSES
from edu_emotionnet.evaluate import TEST_OUTPUTS
from edu_emotionnet.runs import ModelRuns

ALPHA = 0.05
RESAMPLES = 4000
METRICS = ("macro_f1", "accuracy")
METRIC_TITLES = {"macro_f1": "macro-F1", "accuracy": "accuracy"}


# --- the bootstrap (edu_affect_data.core.stats: resampling, interval, p) -----------------------------


def bootstrap_mean_ci(values: np.ndarray, resamples: int = 1000, seed: int = 0) -> tuple[float, float, float]:
    """Mean of `values` (N,) and its 95 % percentile-bootstrap interval over the N items.

    A NaN among the values leaves the mean and its interval undefined (`core.stats`' rule).
    """
    values = np.asarray(values, dtype=float)
    means = bootstrap(lambda counts: counts @ values / len(values), len(values), resamples, seed)
    return (float(values.mean()), *means.interval())


def weighted_metric(counts: np.ndarray, labels: np.ndarray, predicted: np.ndarray, metric: str) -> np.ndarray:
    """`metric` of each resample (rows of `counts`), exactly as `evaluate.classification_metrics`
    computes it on the resampled sessions: macro-F1 over all classes, 0 for a class neither true
    nor predicted (sklearn's zero_division=0)."""
    if metric == "accuracy":
        return counts @ (labels == predicted).astype(float) / counts.sum(axis=1)
    classes = np.arange(len(CLASSES))
    truth = (labels[:, None] == classes).astype(float)
    guess = (predicted[:, None] == classes).astype(float)
    tp, true, pred = counts @ (truth * guess), counts @ truth, counts @ guess
    denominator = true + pred
    f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    return f1.mean(axis=1)


# --- the t-test and Holm ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TTest:
    n: int  # paired seeds
    mean_diff: float  # mean over the paired seeds of a - b
    t: float | None  # None: not computed (`reason`)
    p: float | None
    reason: str = ""


def paired_t(a: np.ndarray, b: np.ndarray) -> TTest:
    """`scipy.stats.ttest_rel(a, b)`, two-sided; not computed below two pairs or for constant differences."""
    from scipy.stats import ttest_rel

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diff = a - b
    mean = float(diff.mean()) if len(diff) else math.nan
    if len(diff) < 2:
        return TTest(len(diff), mean, None, None, f"{len(diff)} paired seed{'s' if len(diff) != 1 else ''}: the t-test needs at least 2")
    if np.allclose(diff, diff[0], rtol=0, atol=1e-12):
        return TTest(len(diff), mean, None, None, "the difference is the same for every seed: t is undefined")
    result = ttest_rel(a, b)
    return TTest(len(diff), mean, float(result.statistic), float(result.pvalue))


def holm(pvalues: list[float], alpha: float = ALPHA) -> list[float]:
    """Holm-adjusted p-values (statsmodels), in the given order."""
    if not pvalues:
        return []
    from statsmodels.stats.multitest import multipletests

    return [float(p) for p in multipletests(pvalues, alpha=alpha, method="holm")[1]]


# --- the test outputs of one run, by session ---------------------------------------------------------


@dataclass(frozen=True)
class SessionOutputs:
    """What a run's `test_outputs.npz` says per test session (`evaluate.save_test_outputs`)."""

    session_ids: tuple[str, ...]
    labels: np.ndarray  # (N,)
    predicted: np.ndarray  # (N,) argmax of the session probabilities (what the metrics score)
    step_probs: np.ndarray  # (N, T, C), NaN beyond a session's end
    weights: np.ndarray | None  # (N, T, M) MIE weights, None for a model without them
    modalities: tuple[str, ...]
    #: "kind:rate" -> (N,) predictions under that missing-input pass (newer runs only).
    robustness: dict[str, np.ndarray]

    @classmethod
    def load(cls, run_dir: Path) -> SessionOutputs:
        with np.load(Path(run_dir) / TEST_OUTPUTS) as z:
            keys = [str(k) for k in z["robustness_keys"]] if "robustness_keys" in z else []
            return cls(
                tuple(str(s) for s in z["session_ids"]), z["labels"].astype(int), z["session_probs"].argmax(1),
                z["step_probs"], z["weights"] if bool(z["has_weights"]) else None, tuple(str(m) for m in z["modalities"]),
                dict(zip(keys, z["robustness_predicted"], strict=True)) if keys else {},
            )

    def rows(self, ids: list[str]) -> np.ndarray:
        index = {s: i for i, s in enumerate(self.session_ids)}
        return np.array([index[s] for s in ids], dtype=int)


def by_seed(runs: ModelRuns) -> dict[int, tuple[dict[str, Any], Path]]:
    """seed -> (results.json, run folder) of one configuration."""
    return {int(r["seed"]): (r, d) for r, d in zip(runs.results, runs.run_dirs, strict=True)}


def load_outputs(runs: ModelRuns, seeds: list[int]) -> dict[int, SessionOutputs] | str:
    """The test outputs of `seeds`, or why they cannot be read."""
    dirs = by_seed(runs)
    missing = [s for s in seeds if not (dirs[s][1] / TEST_OUTPUTS).exists()]
    if missing:
        return f"{runs.name} seed(s) {missing} have no {TEST_OUTPUTS}"
    return {s: SessionOutputs.load(dirs[s][1]) for s in seeds}


def common_sessions(outputs: list[SessionOutputs]) -> list[str]:
    """Session ids every output has, in the first one's order."""
    shared = set(outputs[0].session_ids).intersection(*(o.session_ids for o in outputs[1:]))
    return [s for s in outputs[0].session_ids if s in shared]


# --- the comparisons ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bootstrap:
    observed: float  # mean over seeds of a - b on the matched sessions
    low: float
    high: float
    p: float
    sessions: int
    seeds: int


def paired_bootstrap(
    labels: np.ndarray, predicted_a: np.ndarray, predicted_b: np.ndarray, metric: str, resamples: int = RESAMPLES, seed: int = 0
) -> Bootstrap:
    """(S, N) labels and predictions of two models for S seeds on the same N sessions: per resample of
    sessions, `metric`(a) - `metric`(b) averaged over the seeds; percentile 95 % interval, two-sided p."""
    labels, predicted_a, predicted_b = (np.atleast_2d(x) for x in (labels, predicted_a, predicted_b))
    seeds, n = labels.shape

    def difference(counts: np.ndarray) -> np.ndarray:
        return np.mean([weighted_metric(counts, labels[s], predicted_a[s], metric)
                        - weighted_metric(counts, labels[s], predicted_b[s], metric) for s in range(seeds)], axis=0)

    distribution = bootstrap(difference, n, resamples, seed)
    return Bootstrap(distribution.estimate, *distribution.interval(), distribution.p_value(), n, seeds)


@dataclass(frozen=True)
class Comparison:
    """The full model against one other model on one test metric (differences: full - other)."""

    other: str
    kind: str  # "baseline" or "ablation"
    metric: str
    seeds: tuple[int, ...]
    t: TTest
    boot: Bootstrap | None
    boot_reason: str = ""
    p_holm: float | None = None
    boot_p_holm: float | None = None

    @property
    def basis(self) -> str | None:
        """The tests a verdict rests on: every one that could be computed."""
        tests = [name for name, p in (("t-test", self.p_holm), ("bootstrap", self.boot_p_holm)) if p is not None]
        return " and ".join(tests) or None

    def significant(self, alpha: float = ALPHA) -> bool | None:
        """Holm-adjusted p < alpha on every computed test (None when none could be computed).

        Both when both exist: the seed t-test ignores which sessions are in the test split and the
        session bootstrap ignores the initialisation; a gain either one explains away is not shown.
        """
        computed = [p for p in (self.p_holm, self.boot_p_holm) if p is not None]
        return all(p < alpha for p in computed) if computed else None


def compare(full: ModelRuns, other: ModelRuns, metric: str, resamples: int = RESAMPLES, seed: int = 0) -> Comparison:
    """Unadjusted tests of `full` against `other` (Holm is applied over the family by `compare_all`)."""
    mine, theirs = by_seed(full), by_seed(other)
    seeds = sorted(set(mine) & set(theirs))
    t = paired_t(np.array([mine[s][0]["test"][metric] for s in seeds]), np.array([theirs[s][0]["test"][metric] for s in seeds]))
    kind = "ablation" if other.is_ablation else "baseline"
    if not seeds:
        return Comparison(other.name, kind, metric, (), t, None, "no seed in common")
    a, b = load_outputs(full, seeds), load_outputs(other, seeds)
    if isinstance(a, str) or isinstance(b, str):
        return Comparison(other.name, kind, metric, tuple(seeds), t, None, a if isinstance(a, str) else str(b))
    ids = common_sessions([*a.values(), *b.values()])
    rows_a, rows_b = [a[s].rows(ids) for s in seeds], [b[s].rows(ids) for s in seeds]
    labels = np.stack([a[s].labels[r] for s, r in zip(seeds, rows_a, strict=True)])
    other_labels = np.stack([b[s].labels[r] for s, r in zip(seeds, rows_b, strict=True)])
    if not ids or not np.array_equal(labels, other_labels):
        reason = "no test session in common" if not ids else "the runs disagree on the test labels (different datasets?)"
        return Comparison(other.name, kind, metric, tuple(seeds), t, None, reason)
    boot = paired_bootstrap(
        labels, np.stack([a[s].predicted[r] for s, r in zip(seeds, rows_a, strict=True)]),
        np.stack([b[s].predicted[r] for s, r in zip(seeds, rows_b, strict=True)]), metric, resamples, seed,
    )
    return Comparison(other.name, kind, metric, tuple(seeds), t, boot)


def with_holm(comparisons: list[Comparison], alpha: float = ALPHA) -> list[Comparison]:
    """Holm over the family: the computed t-test p-values, and separately the bootstrap p-values."""
    from dataclasses import replace

    t_index = [i for i, c in enumerate(comparisons) if c.t.p is not None]
    b_index = [i for i, c in enumerate(comparisons) if c.boot is not None]
    t_adjusted = dict(zip(t_index, holm([comparisons[i].t.p for i in t_index], alpha), strict=True))  # type: ignore[misc]
    b_adjusted = dict(zip(b_index, holm([comparisons[i].boot.p for i in b_index], alpha), strict=True))  # type: ignore[union-attr]
    return [replace(c, p_holm=t_adjusted.get(i), boot_p_holm=b_adjusted.get(i)) for i, c in enumerate(comparisons)]


def compare_all(groups: list[ModelRuns], resamples: int = RESAMPLES, seed: int = 0, alpha: float = ALPHA) -> dict[str, list[Comparison]]:
    """metric -> the full model against every other configuration (runs order), Holm-adjusted per metric."""
    full = next((g for g in groups if g.is_full_model), None)
    if full is None:
        return {}
    others = [g for g in groups if g is not full]
    return {metric: with_holm([compare(full, g, metric, resamples, seed) for g in others], alpha) for metric in METRICS}


# --- the report's section ----------------------------------------------------------------------------


def _p(p: float | None) -> str:
    if p is None:
        return "–"
    return f"{p:.2g}" if p >= 0.001 else f"{p:.1e}"


def _verdict(p: float | None, alpha: float, reason: str) -> str:
    if p is None:
        return f"not computed ({reason})" if reason else "not computed"
    return f"significant at {alpha:g}" if p < alpha else f"**not significant at {alpha:g}**"


def render(comparisons: dict[str, list[Comparison]], full_name: str, alpha: float = ALPHA) -> list[str]:
    """Markdown of the paired tests: one table per metric, then what the verdicts rest on."""
    if not comparisons:
        return ["No full-model run: no paired test."]
    lines: list[str] = []
    for metric, rows in comparisons.items():
        title = METRIC_TITLES[metric]
        lines += [
            f"### Test {title}: {full_name} − other (percentage points)", "",
            "| comparison | paired seeds | mean Δ | t | p | p (Holm) | t-test | bootstrap 95 % CI | bootstrap p | p (Holm) | bootstrap |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for c in rows:
            t = "–" if c.t.t is None else f"{c.t.t:.2f}"
            ci = f"[{100 * c.boot.low:+.1f}, {100 * c.boot.high:+.1f}] ({c.boot.sessions} sessions)" if c.boot else "–"
            lines.append(
                f"| {full_name} vs {c.other} ({c.kind}) | {len(c.seeds)} | {100 * c.t.mean_diff:+.1f} | {t} | {_p(c.t.p)} | "
                f"{_p(c.p_holm)} | {_verdict(c.p_holm, alpha, c.t.reason)} | {ci} | {_p(c.boot.p if c.boot else None)} | "
                f"{_p(c.boot_p_holm)} | {_verdict(c.boot_p_holm, alpha, c.boot_reason)} |"
            )
        tested = sum(c.p_holm is not None for c in rows)
        not_significant = sum(c.p_holm is not None and c.p_holm >= alpha for c in rows)
        boot_ns = sum(c.boot_p_holm is not None and c.boot_p_holm >= alpha for c in rows)
        lines += ["", f"t-tests: {tested} of {len(rows)} computed, {not_significant} of them not significant at {alpha:g} "
                  f"after Holm; bootstrap: {boot_ns} of {sum(c.boot is not None for c in rows)} not significant at {alpha:g} after Holm.", ""]
    lines += [
        f"Paired t-test over seeds (scipy `ttest_rel`, two-sided), paired by seed on the seeds both runs have; Holm's "
        f"correction over the comparisons of each table (statsmodels), t-tests and bootstrap separately. Paired "
        f"bootstrap over test sessions ({RESAMPLES} resamples, same seeds): per resample of the test sessions, the "
        f"difference averaged over seeds; percentile 95 % interval and a two-sided p (twice the smaller tail at 0). "
        f"The t-test sees only the spread over initialisations, the bootstrap only the spread over test sessions.",
        "",
    ]
    return lines
