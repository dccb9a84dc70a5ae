"""Live agreement of a running campaign: per annotator, against each other and against the majority.

Label Studio Community computes nothing while a campaign runs; a lab finds a tired or careless
annotator only after the fact. This module turns the votes pulled so far (``export.read_votes``'s
valid table, in time order = annotation id order) into what ``edu-data annotate status`` shows:

- **Pairwise Cohen's kappa** of every annotator pair on the sessions both labelled so far, with
  bootstrap intervals, from ``agreement.compute_agreement`` itself, so the live kappas are by
  construction the post-hoc ones of ``edu-data agreement`` on the same votes. An annotator's *mean
  kappa* is the plain mean of their defined pair kappas.
- **Agreement with the majority.** Each class vote is compared with the strict majority
  (``majority.strict_majority``, the one rule) of the *other* annotators' valid votes on its
  session. Leaving the annotator out is what makes it honest: with three raters, a majority that
  includes the vote itself agrees with it whenever one other person does, which inflates everyone
  and hides a bad annotator behind their own votes. ``min_votes`` is 1 here, not
  ``aggregation.min_votes``: that threshold counts the annotator's own vote, and on a session
  finished at two ratings (adaptive overlap) the reference is then the one other vote, i.e. plain
  pairwise agreement. Only sessions the annotators are *done* with are scored (``complete``): on a
  session still collecting votes the reference is one vote where it will later be a majority of
  two, which agrees less often, so a window of recent votes, mostly on unfinished sessions, would
  look worse than the past for a perfectly steady annotator. A vote without a reference (the others
  split, abstained, or are not there yet) and a "Cannot tell" vote are not scored; abstentions are
  counted per annotator and show in the class distribution.
- **Class distribution**: each answer's share of the annotator's votes (Wilson interval) against
  its share among the *other* annotators' votes (the pool), "Cannot tell" included.
- **Drift flag.** The scored votes among an annotator's last ``drift.window`` votes (a window of
  *votes*, so a drop is judged within that many of their votes whatever share of them is scored)
  are compared with (a) their own earlier scored votes and (b) every scored vote of the other
  annotators. (b) catches someone who was weak from the start, who never falls below their own
  past; it also flags a steady annotator who simply agrees less than the others, which is why the
  flag says which comparison fired. Each comparison is a one-sided Fisher exact test on the 2x2
  table agree/disagree x recent/reference (``scipy.stats.fisher_exact``, ``alternative="less"``:
  exact, so valid for the 20-30 votes of a window where a normal approximation is not). The
  p-values of every test run (two per tested annotator) are Holm-corrected together
  (``statsmodels`` ``multipletests``), so one status run wrongly flags anyone with probability at
  most ``drift.alpha``, however many annotators there are (each later run is another look, with
  its own ``alpha``). Annotators with fewer than ``window + min_earlier`` votes are not tested
  (the output says so) and never flagged.

Everything here is a pure function of the votes table; ``plot_agreement_over_time`` draws the
rolling agreement on a ``matplotlib.figure.Figure`` with the Agg canvas (no pyplot state).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.stats import fisher_exact
from statsmodels.stats.multitest import multipletests

from edu_affect_data.annotation.agreement import compute_agreement
from edu_affect_data.annotation.agreement_report import Estimate, GoldAccuracy, PairKappa
from edu_affect_data.annotation.estimators import VotesTableError, check_votes_table
from edu_affect_data.annotation.majority import UNDECIDED, strict_majority, vote_counts
from edu_affect_data.annotation.options import DriftConfig
from edu_affect_data.core.atomic import atomic_write
from edu_affect_data.core.stats import Proportion, format_number, json_number
from edu_affect_data.core.vocabulary import ABSTAIN, CLASSES

Comparison = Literal["earlier", "pool"]
_COLUMNS = ("session_id", "annotator", "label")


@dataclass(frozen=True)
class ClassShare:
    """One answer's share of an annotator's votes, against its share among the other annotators'."""

    label: str
    annotator: Proportion
    pool: float

    @property
    def differs(self) -> bool:
        """The others' share lies outside this annotator's 95% Wilson interval."""
        return bool(self.annotator.n) and math.isfinite(self.pool) and not (
            self.annotator.ci_low <= self.pool <= self.annotator.ci_high
        )

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, **self.annotator.to_json(), "pool_share": json_number(self.pool), "differs": self.differs}


@dataclass(frozen=True)
class DriftTest:
    """One one-sided Fisher test: recent agreement below the ``reference`` one."""

    comparison: Comparison
    recent: Proportion
    reference: Proportion
    p_value: float
    p_holm: float
    fired: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "comparison": self.comparison,
            "recent": self.recent.to_json(),
            "reference": self.reference.to_json(),
            "p_value": json_number(self.p_value),
            "p_holm": json_number(self.p_holm),
            "fired": self.fired,
        }

    def describe(self) -> str:
        what = "their earlier votes" if self.comparison == "earlier" else "the rest of the pool"
        return (
            f"recent {format_number(self.recent.estimate, 2)} ({self.recent.count}/{self.recent.n} scored) "
            f"< {what} {format_number(self.reference.estimate, 2)} ({self.reference.count}/{self.reference.n}), "
            f"one-sided Fisher p={self.p_value:.2g}, Holm p={self.p_holm:.2g}"
        )


@dataclass(frozen=True)
class Drift:
    """The drift verdict of one annotator: the tests run, or why none was."""

    tested: bool
    note: str
    window: int
    tests: tuple[DriftTest, ...] = ()

    @property
    def flagged(self) -> bool:
        return any(test.fired for test in self.tests)

    @property
    def fired(self) -> list[DriftTest]:
        return [test for test in self.tests if test.fired]

    def describe(self) -> str:
        if not self.tested:
            return f"not tested: {self.note}"
        if self.flagged:
            return f"DRIFT over the last {self.window} votes: " + "; ".join(test.describe() for test in self.fired)
        return f"ok over the last {self.window} votes: " + "; ".join(
            test.describe().replace(" < ", " vs ", 1) for test in self.tests
        )

    def short(self) -> str:
        """A table cell: "DRIFT: pool p=..." / "ok" / "not tested (12/50 votes)"."""
        if not self.tested:
            return f"not tested ({self.note.split(';')[0]})"
        if self.flagged:
            return "DRIFT: " + ", ".join(f"below {t.comparison} p={t.p_holm:.1g}" for t in self.fired)
        return "ok"

    def to_json(self) -> dict[str, Any]:
        return {
            "summary": self.describe(),
            "tested": self.tested,
            "flagged": self.flagged,
            "note": self.note,
            "comparisons_fired": [test.comparison for test in self.fired],
            "tests": [test.to_json() for test in self.tests],
        }


@dataclass(frozen=True)
class AnnotatorLive:
    annotator: str
    #: Valid votes ("Cannot tell" included) and, of them, abstentions.
    votes: int
    abstentions: int
    #: Scored votes that agree with the majority of the others (see the module docstring).
    majority: Proportion
    #: Mean of the annotator's defined pairwise kappas (NaN when none is defined).
    mean_kappa: float
    classes: tuple[ClassShare, ...]
    drift: Drift

    def to_json(self) -> dict[str, Any]:
        return {
            "annotator": self.annotator,
            "votes": self.votes,
            "abstentions": self.abstentions,
            "agreement_with_majority": self.majority.to_json(),
            "mean_kappa": json_number(self.mean_kappa),
            "classes": [share.to_json() for share in self.classes],
            "drift": self.drift.to_json(),
        }


@dataclass(frozen=True)
class LiveAgreement:
    """Everything ``annotate status`` shows about agreement so far."""

    annotators: list[AnnotatorLive]
    pairwise: list[PairKappa]
    #: Mean pairwise kappa with its bootstrap interval; None before there is any vote.
    kappa_mean: Estimate | None
    drift: DriftConfig
    #: The counted votes in time order: ``position`` (their index), annotator, scored, agrees.
    votes: pd.DataFrame = field(repr=False)
    #: Accuracy on the gold sessions (``compute_agreement``'s), empty without gold.
    gold_accuracy: list[GoldAccuracy] = field(default_factory=list)

    @property
    def flagged(self) -> list[str]:
        return [a.annotator for a in self.annotators if a.drift.flagged]

    def to_json(self) -> dict[str, Any]:
        return {
            "drift_window": self.drift.window,
            "drift_min_earlier": self.drift.min_earlier,
            "drift_alpha": self.drift.alpha,
            "flagged": self.flagged,
            "kappa_mean": self.kappa_mean.to_json() if self.kappa_mean else None,
            "pairwise_kappa": [pair.to_json() for pair in self.pairwise],
            "annotators": [a.to_json() for a in self.annotators],
            "gold_accuracy": [entry.to_json() for entry in self.gold_accuracy],
        }


def _checked(votes: pd.DataFrame, classes: Sequence[str]) -> pd.DataFrame:
    """The votes in time order, refused (``VotesTableError``) when they cannot be scored."""
    check_votes_table(votes, source="votes", columns=_COLUMNS, labels=[*classes, ABSTAIN])
    if "annotation_id" not in votes.columns:
        raise VotesTableError(f"votes: missing column 'annotation_id' (the time order); found {list(votes.columns)}")
    ids = pd.to_numeric(votes["annotation_id"], errors="coerce")
    if ids.isna().any() or ids.duplicated().any():
        row = int(np.flatnonzero((ids.isna() | ids.duplicated()).to_numpy())[0])
        raise VotesTableError(f"votes: row {row}: annotation_id {votes['annotation_id'].iloc[row]} is empty or repeated")
    table = votes.assign(annotation_id=ids.astype(np.int64)).sort_values("annotation_id", kind="stable")
    return table.reset_index(drop=True)


def score_votes(
    votes: pd.DataFrame, *, complete: Collection[str], classes: Sequence[str] = CLASSES
) -> pd.DataFrame:
    """Each vote in time order with ``reference`` (the others' strict majority, None if none) and
    ``scored`` / ``agrees`` (see the module docstring for which votes are scored and why)."""
    table = _checked(votes, classes)
    counts, abstentions = vote_counts(table, item="session_id", label="label", classes=classes, abstain=ABSTAIN)
    rows = counts.index.get_indexer(pd.Index(table["session_id"]))
    others = counts.to_numpy(dtype=float)[rows]
    others_abstained = abstentions.to_numpy(dtype=float)[rows]
    own = pd.Index(list(classes)).get_indexer(pd.Index(table["label"]))  # "Cannot tell" -> -1
    is_class = own >= 0
    others[np.flatnonzero(is_class), own[is_class]] -= 1.0
    others_abstained[~is_class] -= 1.0
    reference = strict_majority(others, others_abstained, min_votes=1)
    scored = is_class & (reference != UNDECIDED) & table["session_id"].isin(set(complete)).to_numpy()
    names = np.asarray(classes, dtype=object)
    return table.assign(
        position=np.arange(len(table)),
        reference=pd.Series(names[np.maximum(reference, 0)]).where(reference != UNDECIDED, None),
        scored=scored,
        agrees=scored & (own == reference),
    )


def _fisher_less(recent: Proportion, reference: Proportion) -> float:
    """One-sided exact p-value of "recent agreement is lower than the reference's" (1 when a side is empty)."""
    if recent.n == 0 or reference.n == 0:
        return 1.0
    table = [[recent.count, recent.n - recent.count], [reference.count, reference.n - reference.count]]
    return float(fisher_exact(table, alternative="less").pvalue)


def _drift_tests(votes: pd.DataFrame, annotators: Sequence[str], drift: DriftConfig) -> dict[str, Drift]:
    """Every annotator's drift verdict, the tests Holm-corrected together at ``drift.alpha``.

    ``votes`` are all valid votes in time order with ``scored`` / ``agrees``. The window is the
    annotator's last ``drift.window`` *votes* (so a drop is judged within that many of their votes),
    of which the scored ones enter the test.
    """
    needed = drift.window + drift.min_earlier
    pending: dict[str, list[tuple[Comparison, Proportion, Proportion, float]]] = {}
    verdicts: dict[str, Drift] = {}
    for name in annotators:
        mine = votes[votes["annotator"] == name]
        if len(mine) < needed:
            verdicts[name] = Drift(
                False,
                f"{len(mine)} votes; needs {needed} (window {drift.window} + {drift.min_earlier} earlier)",
                drift.window,
            )
            continue
        recent_votes, earlier_votes = mine.iloc[-drift.window :], mine.iloc[: -drift.window]
        recent = Proportion.of(int(recent_votes["agrees"].sum()), int(recent_votes["scored"].sum()))
        earlier = Proportion.of(int(earlier_votes["agrees"].sum()), int(earlier_votes["scored"].sum()))
        others = votes[votes["annotator"] != name]
        pool = Proportion.of(int(others["agrees"].sum()), int(others["scored"].sum()))
        comparisons: tuple[tuple[Comparison, Proportion], ...] = (("earlier", earlier), ("pool", pool))
        pending[name] = [
            (comparison, recent, reference, _fisher_less(recent, reference))
            for comparison, reference in comparisons
        ]
    flat = [test for tests in pending.values() for test in tests]
    if flat:
        reject, adjusted, _, _ = multipletests([t[3] for t in flat], alpha=drift.alpha, method="holm")
    index = 0
    for name, tests in pending.items():
        done = []
        for comparison, recent, reference, p_value in tests:
            done.append(
                DriftTest(comparison, recent, reference, p_value, float(adjusted[index]), bool(reject[index]))
            )
            index += 1
        verdicts[name] = Drift(True, f"Holm over {len(flat)} tests at alpha {drift.alpha}", drift.window, tuple(done))
    return verdicts


def _class_shares(table: pd.DataFrame, name: str, answers: Sequence[str]) -> tuple[ClassShare, ...]:
    mine = table.loc[table["annotator"] == name, "label"]
    pool = table.loc[table["annotator"] != name, "label"]
    return tuple(
        ClassShare(
            label,
            Proportion.of(int((mine == label).sum()), len(mine)),
            float((pool == label).mean()) if len(pool) else math.nan,
        )
        for label in answers
    )


def _mean_kappa(pairs: Sequence[PairKappa], name: str) -> float:
    values = [p.kappa for p in pairs if name in (p.a, p.b) and math.isfinite(p.kappa)]
    return float(np.mean(values)) if values else math.nan


def live_agreement(
    votes: pd.DataFrame,
    *,
    complete: Collection[str],
    drift: DriftConfig,
    classes: Sequence[str] = CLASSES,
    seed: int = 0,
    n_boot: int = 1000,
    min_votes: int = 1,
    gold: Mapping[str, str] | None = None,
    include_gold: bool = False,
    first: int | None = None,
) -> LiveAgreement:
    """Live agreement of ``votes`` (session_id, annotator, label, annotation_id; module docstring).

    ``complete``: sessions the annotators are done with (only their votes are scored against the
    majority). ``seed``, ``n_boot``, ``min_votes``, ``gold`` and ``include_gold`` go to
    ``compute_agreement`` unchanged, so the pairwise kappas, their intervals and the gold accuracy
    are the post-hoc report's for the same arguments (``first``: each session's first ratings only,
    as the aggregate stage does under adaptive overlap). Gold sessions' votes are left out of the
    majority agreement, the class distribution and the drift test too, unless ``include_gold``:
    every agreement figure describes the same votes.
    """
    table = _checked(votes, classes)
    gold = dict(gold or {})
    counted = table if include_gold else table[~table["session_id"].isin(list(gold))]
    pairwise: list[PairKappa] = []
    kappa_mean = None
    gold_accuracy: list[GoldAccuracy] = []
    if len(table):
        # With votes on gold sessions only (and gold left out), there is nothing to agree on yet:
        # ask for the gold accuracy alone (compute_agreement refuses an empty agreement table).
        report = compute_agreement(
            table if first is not None else table.loc[:, list(_COLUMNS)],
            seed=seed,
            n_boot=n_boot if len(counted) else 0,
            classes=list(classes),
            min_votes=min_votes,
            gold=gold,
            include_gold=include_gold or not len(counted),
            first=first,
        )
        gold_accuracy = report.gold_accuracy
        if len(counted):
            pairwise, kappa_mean = report.cohen_kappa_pairwise, report.cohen_kappa_mean
    scored_votes = score_votes(counted, complete=complete, classes=classes)
    annotators = sorted(scored_votes["annotator"].unique())
    verdicts = _drift_tests(scored_votes, annotators, drift)
    answers = [*classes, ABSTAIN]
    people = []
    for name in annotators:
        mine = scored_votes.loc[(scored_votes["annotator"] == name) & scored_votes["scored"], "agrees"]
        own_votes = scored_votes.loc[scored_votes["annotator"] == name, "label"]
        people.append(
            AnnotatorLive(
                annotator=name,
                votes=len(own_votes),
                abstentions=int((own_votes == ABSTAIN).sum()),
                majority=Proportion.of(int(mine.sum()), len(mine)),
                mean_kappa=_mean_kappa(pairwise, name),
                classes=_class_shares(scored_votes, name, answers),
                drift=verdicts[name],
            )
        )
    columns = ["position", "annotator", "scored", "agrees"]
    return LiveAgreement(people, pairwise, kappa_mean, drift, scored_votes.loc[:, columns], gold_accuracy)


def plot_agreement_over_time(live: LiveAgreement, path: Path) -> Path:
    """Each annotator's agreement with the majority over their last ``window`` votes, as time goes.

    The curve is what the drift test sees: at each vote, the share agreeing among the scored votes
    of the annotator's last ``window`` votes. x is the campaign's vote index (the counted votes in
    time order), so annotators share one time axis. Before an annotator's first full window the
    line is thin. Flagged annotators are drawn thick, marked with an X and "DRIFT" in the legend,
    with their drift window shaded.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    window = live.drift.window
    figure = Figure(figsize=(9, 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for person in live.annotators:
        mine = live.votes[live.votes["annotator"] == person.annotator]
        x = mine["position"].to_numpy()
        agree = mine["agrees"].astype(float).rolling(window, min_periods=1).sum()
        scored = mine["scored"].astype(float).rolling(window, min_periods=1).sum()
        rolling = (agree / scored.where(scored > 0)).to_numpy()
        flagged = person.drift.flagged
        label = f"{person.annotator}{' DRIFT' if flagged else ''} ({person.majority.count}/{person.majority.n} agree)"
        (line,) = axes.plot(x[:window], rolling[:window], linewidth=0.8, alpha=0.6)
        axes.plot(x[window - 1 :], rolling[window - 1 :], color=line.get_color(),
                  linewidth=2.6 if flagged else 1.4, label=label)  # fmt: skip
        if flagged:
            axes.axvspan(x[-window], x[-1], color=line.get_color(), alpha=0.12)
            axes.plot(x[-1], rolling[-1], marker="X", markersize=11, color="crimson")
    axes.set_ylim(-0.02, 1.02)
    axes.set_xlabel("vote index (the campaign's votes in time order)")
    axes.set_ylabel(f"agreement with the others' majority\n(scored votes among the last {window})")
    axes.set_title(f"Agreement over time; drift flagged: {', '.join(live.flagged) or 'none'}")
    if live.annotators:
        axes.legend(loc="lower left", fontsize=8)
    axes.grid(alpha=0.3)
    return atomic_write(Path(path), lambda partial: figure.savefig(partial, dpi=110))
