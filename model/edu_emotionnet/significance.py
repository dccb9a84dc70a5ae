"""Paired tests of the full model against every other model, as the paper states them.

The paper (Tables I-II) backs its gains with paired t-tests over the three training seeds. Here:
- **paired t-test over seeds** (`scipy.stats.ttest_rel`) on a test metric, paired by seed (only
  seeds both models have), with **Holm's** correction over the family of comparisons of one metric
  (`statsmodels` `multipletests(method="holm")`): it measures how much the gain varies with the
  initialisation, not with the test sample; with one common seed it is not computed.
- **paired speaker bootstrap** (same seeds): each resample draws test *speakers* with replacement,
  each bringing all of its test sessions, scores both models on them for every seed and averages
  the difference over seeds. It measures how much the gain depends on which speakers happen to be
  in the test split, which the seed t-test ignores. Speakers, not sessions: sessions are windows
  of one speaker's turns and the split is by speaker, so the speaker is the independent unit; a
  bootstrap over sessions gave 0.17-0.30 false positives at nominal 0.05 on simulated clustered
  data (`bench/cluster_bootstrap.py`). The interval and p are `core.stats`' cluster t (bootstrap
  standard error against t with G-1 degrees of freedom), calibrated where speakers are few, which
  a percentile interval is not. Every interval is printed with its number of speakers.

**Pairing.** Runs are paired by seed (`ModelRuns.by_seed`: a repeated seed is an error) and
compared on the test sessions every compared run scored; sessions not scored by all of them are
left out of both tests and named in the comparison's note, and two runs that disagree on a
session's label or speaker are not compared.

Every statistic is computed from counts: a resample is a (B, N) matrix of how often each session
was drawn, so a metric of B resamples is a few matrix products instead of B Python calls.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from edu_affect_data.core.stats import bootstrap
from edu_affect_data.core.vocabulary import CLASSES
from edu_emotionnet.evaluate import TEST_OUTPUTS, classification_metrics, session_speakers
from edu_emotionnet.runs import ModelRuns

ALPHA = 0.05
RESAMPLES = 4000
#: The resampling unit of an interval: speakers, or sessions where no speaker is known (old runs).
SPEAKERS, SESSIONS = "speakers", "sessions"
METRICS = ("macro_f1", "accuracy")
METRIC_TITLES = {"macro_f1": "macro-F1", "accuracy": "accuracy"}


# --- the bootstrap (edu_affect_data.core.stats: resampling, interval, p) -----------------------------


def bootstrap_mean_ci(values: np.ndarray, resamples: int = 1000, seed: int = 0) -> tuple[float, float, float]:
    """Mean of `values` (N,) and its 95 % percentile-bootstrap interval over the N items (a descriptive
    band: the figures' per-step weights). Tests and claims use `mean_interval` over speakers.

    A NaN among the values leaves the mean and its interval undefined (`core.stats`' rule).
    """
    values = np.asarray(values, dtype=float)
    means = bootstrap(lambda counts: counts @ values / len(values), len(values), resamples, seed)
    return (float(values.mean()), *means.interval())


@dataclass(frozen=True)
class Interval:
    """A statistic over test sessions with its 95 % cluster-t interval and two-sided p (`core.stats`)."""

    estimate: float
    low: float
    high: float
    p: float
    sessions: int
    clusters: int  # resampled units: speakers (sessions where speakers are unknown: `unit`)
    unit: str = SPEAKERS

    @property
    def units(self) -> str:
        """What was resampled, for the report: "8 speakers, 40 sessions"."""
        return resampled_units(self.clusters, self.unit, self.sessions)


def resampled_units(clusters: int, unit: str, sessions: int) -> str:
    """"8 speakers, 40 sessions", or "40 sessions (no speaker ids)" where sessions stood in for speakers."""
    return f"{clusters} speakers, {sessions} sessions" if unit == SPEAKERS else f"{sessions} sessions (no speaker ids)"


def mean_interval(
    values: np.ndarray, groups: np.ndarray, resamples: int = RESAMPLES, seed: int = 0, *, unit: str = SPEAKERS
) -> Interval:
    """The mean of per-session `values` (N,) with speakers `groups` (N,) resampled whole.

    The resampled statistic is the mean over the drawn sessions (a speaker drawn twice counts
    twice), the estimate the plain mean. `unit`: what `groups` are (`SESSIONS` when each session
    stands for itself because its speaker is unknown).
    """
    values = np.asarray(values, dtype=float)
    means = bootstrap(lambda counts: counts @ values / counts.sum(axis=1), len(values), resamples, seed, groups=groups)
    return Interval(means.estimate, *means.t_interval(), means.t_p_value(), len(values), int(means.units or 0), unit)


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
    #: Each session's speaker; None when the outputs predate speaker ids and no dataset gave them.
    speaker_ids: tuple[str, ...] | None = None
    #: Where `speaker_ids` came from when not from the outputs themselves (a note for the report).
    speakers_from: str = ""

    @classmethod
    def load(cls, run_dir: Path, data: Path | None = None) -> SessionOutputs:
        """The outputs of `run_dir`; an older file without `speaker_ids` takes them from the dataset
        `data` (its test split), and keeps None, with the reason in `speakers_from`, when it cannot."""
        with np.load(Path(run_dir) / TEST_OUTPUTS) as z:
            keys = [str(k) for k in z["robustness_keys"]] if "robustness_keys" in z else []
            outputs = cls(
                tuple(str(s) for s in z["session_ids"]), z["labels"].astype(int), z["session_probs"].argmax(1),
                z["step_probs"], z["weights"] if bool(z["has_weights"]) else None, tuple(str(m) for m in z["modalities"]),
                dict(zip(keys, z["robustness_predicted"], strict=True)) if keys else {},
                tuple(str(s) for s in z["speaker_ids"]) if "speaker_ids" in z else None,
            )
        if outputs.speaker_ids is not None:
            return outputs
        where = f"{TEST_OUTPUTS} without speaker ids (written before they were saved)"
        if data is None:
            return replace(outputs, speakers_from=f"{where} and no dataset named")
        try:
            speakers = session_speakers(data, outputs.session_ids)
        except (OSError, ValueError) as exc:
            return replace(outputs, speakers_from=f"{where} and dataset {data} cannot give them ({exc})")
        return replace(outputs, speaker_ids=speakers, speakers_from=f"{where}: speakers read from dataset {data}")

    def rows(self, ids: list[str]) -> np.ndarray:
        index = {s: i for i, s in enumerate(self.session_ids)}
        return np.array([index[s] for s in ids], dtype=int)


def load_outputs(runs: ModelRuns, seeds: list[int], data: Path | None = None) -> dict[int, SessionOutputs] | str:
    """The test outputs of `seeds`, or why they cannot be read. `data`: the dataset folder for
    outputs without speaker ids (default: each run's own, `ModelRuns.dataset_of`)."""
    dirs = runs.by_seed()
    missing = [s for s in seeds if not (dirs[s][1] / TEST_OUTPUTS).exists()]
    if missing:
        return f"{runs.name} seed(s) {missing} have no {TEST_OUTPUTS}"
    outputs = {}
    for s in seeds:
        result, folder = dirs[s]
        found = runs.dataset_of(folder, data)
        configured = result.get("config", {}).get("data")
        # Not found: the path the config names, which the note then says cannot give the speakers.
        dataset = found if isinstance(found, Path) else Path(configured) if configured else None
        outputs[s] = SessionOutputs.load(folder, dataset)
    return outputs


@dataclass(frozen=True)
class Matched:
    """The test sessions a set of runs is compared on, and the speakers they are resampled by."""

    ids: list[str]  # sessions every run scored, in the first run's order
    groups: np.ndarray  # (len(ids),) each session's speaker (its own id where no speaker is known)
    notes: tuple[str, ...]  # sessions left out, speakers not from the outputs: what a reader must know
    unit: str = SPEAKERS  # SESSIONS when no run knew the speakers

    @property
    def clusters(self) -> int:
        return len(np.unique(self.groups)) if len(self.groups) else 0

    @property
    def note(self) -> str:
        return "; ".join(self.notes)


def match_sessions(outputs: Mapping[str, SessionOutputs]) -> Matched | str:
    """Pair the outputs of several runs (name -> outputs) on their common test sessions, or say why not.

    Sessions not scored by every run are left out and named in a note (never silently); runs that
    disagree on a common session's label or speaker are not comparable (different datasets?).
    """
    named = list(outputs.items())
    first = named[0][1]
    shared = set(first.session_ids).intersection(*(o.session_ids for _, o in named[1:]))
    ids = [s for s in first.session_ids if s in shared]
    if not ids:
        return "no test session in common"
    notes = []
    every = sorted(set().union(*(o.session_ids for _, o in named)) - shared)
    if every:
        lacking = [name for name, o in named if len(o.session_ids) < len(shared) + len(every)]
        notes.append(f"{len(every)} test sessions left out, not scored by every run ({', '.join(every[:3])}"
                     f"{', ...' if len(every) > 3 else ''}; missing from {', '.join(lacking)}); compared on {len(ids)}")
    labels = {name: o.labels[o.rows(ids)] for name, o in named}
    disagree = [name for name, lab in labels.items() if not np.array_equal(lab, labels[named[0][0]])]
    if disagree:
        return f"{named[0][0]} and {disagree[0]} disagree on the test labels (different datasets?)"
    speakers = {name: np.asarray(o.speaker_ids)[o.rows(ids)] for name, o in named if o.speaker_ids is not None}
    known = next(iter(speakers.values()), None)
    if known is not None and any(not np.array_equal(v, known) for v in speakers.values()):
        other = next(name for name, v in speakers.items() if not np.array_equal(v, known))
        return f"{next(iter(speakers))} and {other} disagree on the test sessions' speakers (different datasets?)"
    fallbacks: dict[str, list[str]] = {}
    for name, o in named:
        if o.speakers_from:
            fallbacks.setdefault(o.speakers_from, []).append(name)
    sources = [f"{source}: {_runs(names)}" for source, names in sorted(fallbacks.items())]
    if known is not None and len(np.unique(known)) < 2:
        return f"the {len(ids)} common test sessions are of one speaker: no interval over speakers"
    if known is None:
        notes.append("no speaker ids: sessions resampled as independent units, which understates the uncertainty "
                     f"of clustered data ({'; '.join(sources)}; evaluate the runs again)")
        return Matched(ids, np.asarray(ids), tuple(notes), SESSIONS)
    return Matched(ids, known, (*notes, *sources))


def _runs(names: list[str]) -> str:
    """"a seed 0", "a seed 0 and b seed 1", "a seed 0 and 5 other runs"."""
    return names[0] if len(names) == 1 else f"{names[0]} and {names[1]}" if len(names) == 2 else f"{names[0]} and {len(names) - 1} other runs"


# --- the comparisons ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bootstrap:
    observed: float  # mean over seeds of a - b on the matched sessions
    low: float
    high: float
    p: float
    sessions: int
    seeds: int
    clusters: int  # speakers resampled (sessions, where speakers are unknown: `unit`)
    unit: str = SPEAKERS

    @property
    def units(self) -> str:
        return resampled_units(self.clusters, self.unit, self.sessions)


def paired_difference(
    labels: np.ndarray, predicted_a: np.ndarray, predicted_b: np.ndarray, metric: str
) -> Callable[[np.ndarray], np.ndarray]:
    """The statistic `paired_bootstrap` resamples: (B, N) session multiplicities -> (B,) `metric`(a) -
    `metric`(b), averaged over the S seeds of the (S, N) labels and predictions."""
    labels, predicted_a, predicted_b = (np.atleast_2d(x) for x in (labels, predicted_a, predicted_b))

    def difference(counts: np.ndarray) -> np.ndarray:
        return np.mean([weighted_metric(counts, labels[s], predicted_a[s], metric)
                        - weighted_metric(counts, labels[s], predicted_b[s], metric) for s in range(len(labels))], axis=0)

    return difference


def paired_bootstrap(
    labels: np.ndarray, predicted_a: np.ndarray, predicted_b: np.ndarray, metric: str, resamples: int = RESAMPLES, seed: int = 0,
    *, groups: np.ndarray | None = None, unit: str = SPEAKERS,
) -> Bootstrap:
    """(S, N) labels and predictions of two models for S seeds on the same N sessions, `groups` (N,)
    each session's speaker (None: every session its own): per resample of speakers, `metric`(a) -
    `metric`(b) averaged over the seeds; 95 % cluster-t interval and its two-sided p."""
    labels = np.atleast_2d(labels)
    seeds, n = labels.shape
    distribution = bootstrap(paired_difference(labels, predicted_a, predicted_b, metric), n, resamples, seed, groups=groups)
    return Bootstrap(distribution.estimate, *distribution.t_interval(), distribution.t_p_value(), n, seeds,
                     int(distribution.units or 0), unit if groups is not None else SESSIONS)


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
    note: str = ""  # sessions left out, speakers not from the outputs (`Matched.note`)

    @property
    def basis(self) -> str | None:
        """The tests a verdict rests on: every one that could be computed."""
        tests = [name for name, p in (("t-test", self.p_holm), ("bootstrap", self.boot_p_holm)) if p is not None]
        return " and ".join(tests) or None

    def significant(self, alpha: float = ALPHA) -> bool | None:
        """Holm-adjusted p < alpha on every computed test (None when none could be computed).

        Both when both exist: the seed t-test ignores which speakers are in the test split and the
        speaker bootstrap ignores the initialisation; a gain either one explains away is not shown.
        """
        computed = [p for p in (self.p_holm, self.boot_p_holm) if p is not None]
        return all(p < alpha for p in computed) if computed else None


def _seed_scores(runs: ModelRuns, seeds: list[int], metric: str) -> np.ndarray:
    return np.array([runs.by_seed()[s][0]["test"][metric] for s in seeds], dtype=float)


def _recomputed(labels: np.ndarray, predicted: np.ndarray, metric: str) -> np.ndarray:
    """(S,) `metric` per seed from (S, N) labels and predictions, as `evaluate` scores a run."""
    return np.array([classification_metrics(labels[i], predicted[i])[metric] for i in range(len(labels))], dtype=float)


def compare(
    full: ModelRuns, other: ModelRuns, metric: str, resamples: int = RESAMPLES, seed: int = 0, data: Path | None = None
) -> Comparison:
    """Unadjusted tests of `full` against `other` (Holm is applied over the family by `compare_all`).

    Both tests use the same test sessions: when some were not scored by every run, the seed t-test
    runs on each seed's metric recomputed on the common sessions, not on results.json's.
    """
    mine, theirs = full.by_seed(), other.by_seed()
    seeds = sorted(set(mine) & set(theirs))
    kind = "ablation" if other.is_ablation else "baseline"
    scores = _seed_scores(full, seeds, metric), _seed_scores(other, seeds, metric)
    if not seeds:
        return Comparison(other.name, kind, metric, (), paired_t(*scores), None, "no seed in common")
    a, b = load_outputs(full, seeds, data), load_outputs(other, seeds, data)
    if isinstance(a, str) or isinstance(b, str):
        reason = a if isinstance(a, str) else str(b)
        sizes = sorted({int(r[0]["test"]["n"]) for runs in (mine, theirs) for s, r in runs.items() if s in seeds})
        t = paired_t(*scores)
        if len(sizes) > 1:  # scored on different sessions, and nothing says which: no test
            t = replace(t, t=None, p=None, reason=f"the runs scored different numbers of test sessions {sizes} and {reason}")
        return Comparison(other.name, kind, metric, tuple(seeds), t, None, reason,
                          note="" if len(sizes) > 1 else "test sessions matched by count only (no test outputs)")
    matched = match_sessions({**{f"{full.name} seed {s}": a[s] for s in seeds}, **{f"{other.name} seed {s}": b[s] for s in seeds}})
    if isinstance(matched, str):
        return Comparison(other.name, kind, metric, tuple(seeds), paired_t(*scores), None, matched)
    rows_a, rows_b = [a[s].rows(matched.ids) for s in seeds], [b[s].rows(matched.ids) for s in seeds]
    labels = np.stack([a[s].labels[r] for s, r in zip(seeds, rows_a, strict=True)])
    guess_a = np.stack([a[s].predicted[r] for s, r in zip(seeds, rows_a, strict=True)])
    guess_b = np.stack([b[s].predicted[r] for s, r in zip(seeds, rows_b, strict=True)])
    if any(len(o.session_ids) != len(matched.ids) for o in (*a.values(), *b.values())):
        scores = (_recomputed(labels, guess_a, metric), _recomputed(labels, guess_b, metric))
    boot = paired_bootstrap(labels, guess_a, guess_b, metric, resamples, seed, groups=matched.groups, unit=matched.unit)
    return Comparison(other.name, kind, metric, tuple(seeds), paired_t(*scores), boot, note=matched.note)


def with_holm(comparisons: list[Comparison], alpha: float = ALPHA) -> list[Comparison]:
    """Holm over the family: the computed t-test p-values, and separately the bootstrap p-values."""
    t_index = [i for i, c in enumerate(comparisons) if c.t.p is not None]
    b_index = [i for i, c in enumerate(comparisons) if c.boot is not None]
    t_adjusted = dict(zip(t_index, holm([comparisons[i].t.p for i in t_index], alpha), strict=True))  # type: ignore[misc]
    b_adjusted = dict(zip(b_index, holm([comparisons[i].boot.p for i in b_index], alpha), strict=True))  # type: ignore[union-attr]
    return [replace(c, p_holm=t_adjusted.get(i), boot_p_holm=b_adjusted.get(i)) for i, c in enumerate(comparisons)]


def compare_all(
    groups: list[ModelRuns], resamples: int = RESAMPLES, seed: int = 0, alpha: float = ALPHA, data: Path | None = None
) -> dict[str, list[Comparison]]:
    """metric -> the full model against every other configuration (runs order), Holm-adjusted per metric.

    `data`: the dataset folder for test outputs without speaker ids (default: each run's `config.data`).
    """
    full = next((g for g in groups if g.is_full_model), None)
    if full is None:
        return {}
    others = [g for g in groups if g is not full]
    return {metric: with_holm([compare(full, g, metric, resamples, seed, data) for g in others], alpha) for metric in METRICS}


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
            "| comparison | paired seeds | mean Δ | t | p | p (Holm) | t-test | speaker-bootstrap 95 % CI (clusters) | bootstrap p | p (Holm) | bootstrap |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for c in rows:
            t = "–" if c.t.t is None else f"{c.t.t:.2f}"
            ci = f"[{100 * c.boot.low:+.1f}, {100 * c.boot.high:+.1f}] ({c.boot.units})" if c.boot else "–"
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
        noted = [c for c in rows if c.note]
        lines += [f"- vs {c.other}: {c.note}." for c in noted] + ([""] if noted else [])
    lines += [
        f"Paired t-test over seeds (scipy `ttest_rel`, two-sided), paired by seed on the seeds both runs have; Holm's "
        f"correction over the comparisons of each table (statsmodels), t-tests and bootstrap separately. Paired "
        f"speaker bootstrap ({RESAMPLES} resamples, same seeds): each resample draws test speakers with replacement, "
        f"each with all of its test sessions, and takes the difference averaged over seeds; 95 % interval = the "
        f"difference ± t(G−1) × the bootstrap standard error × √(G/(G−1)), G speakers, and its two-sided p "
        f"(`core.stats`: calibrated where speakers are few, as measured by `bench/cluster_bootstrap.py`). Both tests "
        f"use only the test sessions every compared run scored. The t-test sees only the spread over initialisations, "
        f"the bootstrap only the spread over test speakers.",
        "",
    ]
    return lines
