"""Inter-annotator agreement of an annotation round, with bootstrap intervals over sessions.

Point estimates come from the reference implementations: ``sklearn.metrics.cohen_kappa_score``
(per pair, and one-vs-rest per class), ``statsmodels.stats.inter_rater.fleiss_kappa`` and
``krippendorff.alpha`` (nominal). Intervals resample *sessions* (the unit that was sampled, so the
dependence between one session's ratings is kept) with the seeded bootstrap of ``core.stats``
(its percentile interval leaves out resamples where a statistic is undefined) and evaluate the
same statistics with the vectorised formulas of ``agreement_stats``.

Conventions:

- The classes are data: ``classes`` (the build's four by default), or with ``classes=None`` every
  label found in the table except the abstention.
- The abstention (``abstain``, "Cannot tell" by default) is left out of every statistic (as a
  missing rating) and counted per annotator. Pass ``classes`` including it to treat it as a
  category instead.
- Sessions may have unequal numbers of ratings (adaptive overlap: 2, or 3 when the first two
  disagree). The report counts them (``ratings_per_session``); every statistic is defined for it.
- Fleiss' kappa assumes every subject has the same number of raters; with unequal numbers it is
  computed on the sessions having the modal number of ratings (ties: the larger number), and the
  report says how many. Cohen's kappa and Krippendorff's alpha use every session, alpha natively
  handling missing ratings.
- The consensus (``AgreementReport.consensus``, the rows of the confusion matrices) is the one
  strict-majority rule of ``majority``, the rule that publishes a label: "Cannot tell" counts in
  its denominator and never wins, and ``min_votes`` valid votes are needed (the annotator's own
  vote is included). Sessions without a consensus are left out of the matrices. So with
  ``aggregation.method: majority`` the consensus of every session the reviewer did not decide is
  its published label.
- Gold sessions (``gold``: known labels) measure the annotators: accuracy with a Wilson interval.
  Their votes are left out of every other figure unless ``include_gold``, so that the agreement
  describes the sessions whose labels are published.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import fields, replace
from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa

from edu_affect_data.annotation.agreement_files import new_report_dir, write_agreement_report
from edu_affect_data.annotation.agreement_input import (
    COLUMNS,
    allowed_labels,
    load_export,
    load_ratings,
)
from edu_affect_data.annotation.agreement_report import (
    AgreementReport,
    Estimate,
    GoldAccuracy,
    PairKappa,
)
from edu_affect_data.annotation.agreement_stats import (
    MISSING,
    SessionContributions,
    Statistics,
    annotator_pairs,
    category_counts,
    nanmean,
)
from edu_affect_data.annotation.estimators import VotesTableError, check_votes_table
from edu_affect_data.annotation.majority import UNDECIDED, strict_majority
from edu_affect_data.core.artifacts import BuildPaths
from edu_affect_data.core.stats import BootstrapDistribution, Proportion, resample_weights
from edu_affect_data.core.vocabulary import ABSTAIN, CLASSES

#: Bootstrap resamples behind the agreement intervals (the aggregate stage and `annotate status`).
AGREEMENT_BOOTSTRAP = 1000
#: Resamples evaluated at a time: bounds the (block, pairs, K, K) tables of the statistics.
_BOOTSTRAP_BLOCK = 250

__all__ = [
    "AGREEMENT_BOOTSTRAP",
    "AgreementReport",
    "agreement_for_file",
    "compute_agreement",
    "found_classes",
    "load_export",
    "load_ratings",
    "write_agreement_report",
]


def _code_matrix(
    table: pd.DataFrame, classes: Sequence[str]
) -> tuple[np.ndarray, list[str], list[str]]:
    """Tidy votes -> (sessions x annotators) class codes; MISSING where unrated or abstained.

    Every session and annotator of the table gets a row/column, even one with abstentions only.
    """
    sessions = sorted(table["session_id"].unique())
    annotators = sorted(table["annotator"].unique())
    codes = np.full((len(sessions), len(annotators)), MISSING, dtype=int)
    rows = pd.Index(sessions).get_indexer(table["session_id"])
    columns = pd.Index(annotators).get_indexer(table["annotator"])
    class_votes = table["label"].where(table["label"].isin(list(classes)))  # abstentions -> NaN
    codes[rows, columns] = pd.Categorical(class_votes, categories=list(classes)).codes  # NaN -> -1
    return codes, sessions, annotators


def _library_kappas(codes: np.ndarray, n_classes: int) -> tuple[list[float], list[int], np.ndarray]:
    """Pairwise kappa, overlap n and one-vs-rest kappa (P, K) with scikit-learn, NaN where undefined."""
    kappas, overlaps, per_class = [], [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        for a, b in annotator_pairs(codes.shape[1]):
            both = (codes[:, a] != MISSING) & (codes[:, b] != MISSING)
            first, second = codes[both, a], codes[both, b]
            overlaps.append(int(both.sum()))
            if not both.any():
                kappas.append(np.nan)
                per_class.append([np.nan] * n_classes)
                continue
            kappas.append(
                float(
                    cohen_kappa_score(
                        first, second, labels=list(range(n_classes)), replace_undefined_by=np.nan
                    )
                )
            )
            per_class.append(
                [
                    float(
                        cohen_kappa_score(
                            first == k,
                            second == k,
                            labels=[False, True],
                            replace_undefined_by=np.nan,
                        )
                    )
                    for k in range(n_classes)
                ]
            )
    return kappas, overlaps, np.asarray(per_class, dtype=float).reshape(-1, n_classes)


def _library_fleiss(contributions: SessionContributions) -> float:
    table = contributions.fleiss_counts[contributions.fleiss_member > 0]
    if table.shape[0] == 0 or contributions.fleiss_raters < 2:
        return float("nan")
    shares = table.sum(axis=0) / table.sum()
    if np.isclose((shares**2).sum(), 1.0):
        return float("nan")  # one category only: chance agreement is 1, kappa undefined
    return float(fleiss_kappa(table, method="fleiss"))


def _library_alpha(codes: np.ndarray, n_classes: int) -> float:
    reliability = np.where(codes == MISSING, np.nan, codes.astype(float)).T
    pairable = (codes != MISSING).sum(axis=1) >= 2
    values = codes[pairable][codes[pairable] != MISSING]
    if np.unique(values).size < 2:
        return float("nan")  # no pairable values, or one category only: alpha undefined
    return float(
        krippendorff.alpha(
            reliability_data=reliability,
            value_domain=list(range(n_classes)),
            level_of_measurement="nominal",
        )
    )


def _consensus(
    table: pd.DataFrame,
    codes: np.ndarray,
    sessions: list[str],
    classes: list[str],
    min_votes: int,
    abstain: str,
) -> np.ndarray:
    """Each session's consensus class index (``UNDECIDED`` where none) by the one majority rule.

    Abstentions are votes of the rule even where they are missing ratings of the statistics; with
    ``abstain`` passed as a category it is still an abstention here (it never wins).
    """
    counts = category_counts(codes, len(classes))
    abstained = table.loc[table["label"] == abstain, "session_id"].value_counts()
    abstentions = abstained.reindex(sessions, fill_value=0).to_numpy(dtype=float)
    if abstain in classes:
        counts[:, classes.index(abstain)] = 0.0
    return strict_majority(counts, abstentions, min_votes=min_votes)


def _consensus_confusion(
    consensus: np.ndarray, codes: np.ndarray, annotators: list[str], n_classes: int
) -> dict[str, list[list[int]]]:
    """Each annotator's labels against the sessions' consensus labels."""
    confusion = {}
    for index, name in enumerate(annotators):
        keep = (consensus != UNDECIDED) & (codes[:, index] != MISSING)
        matrix = np.zeros((n_classes, n_classes), dtype=int)
        np.add.at(matrix, (consensus[keep], codes[keep, index]), 1)
        confusion[name] = matrix.tolist()
    return confusion


def _bootstrap(
    contributions: SessionContributions, n_sessions: int, n_boot: int, seed: int
) -> Statistics | None:
    """Statistics of ``n_boot`` session resamples, stacked; None when there is nothing to resample."""
    if n_boot <= 0 or n_sessions == 0:
        return None
    parts = [
        contributions.statistics(weights)
        for weights in resample_weights(n_sessions, n_boot, seed, block=_BOOTSTRAP_BLOCK)
    ]
    return Statistics(
        *(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Statistics))
    )


def _ci(estimate: float, samples: np.ndarray | None) -> tuple[float, float]:
    """The percentile interval of `core.stats` (undefined resamples left out); NaN without resamples."""
    return BootstrapDistribution(float(estimate), samples).interval() if samples is not None else (np.nan, np.nan)


def _interval(estimate: float, samples: np.ndarray | None) -> Estimate:
    return Estimate(float(estimate), *_ci(estimate, samples))


def _mean_over_pairs(values: np.ndarray) -> np.ndarray:
    """Mean over the pair axis (0) of the defined values; NaN where no pair is defined."""
    return nanmean(values, axis=0) if values.shape[0] else np.full(values.shape[1:], np.nan)


def found_classes(table: pd.DataFrame, abstain: str = ABSTAIN) -> list[str]:
    """The labels of a votes table other than the abstention, sorted (so row order never matters)."""
    return sorted({label for label in table["label"].dropna().unique() if label != abstain}, key=str)


def _per_session(counts: pd.Series) -> dict[int, int]:
    """Votes per session -> {number of votes: number of sessions}, ascending."""
    return {int(k): int(v) for k, v in sorted(Counter(counts.to_numpy().tolist()).items())}


def _gold_accuracy(
    table: pd.DataFrame, gold: Mapping[str, str], classes: list[str], abstain: str
) -> list[GoldAccuracy]:
    """Every annotator's correct / rated class votes on gold sessions, with Wilson 95% intervals."""
    on_gold = table[table["session_id"].isin(list(gold))]
    truth = on_gold["session_id"].map(dict(gold))
    rated = on_gold["label"].isin(classes) & (on_gold["label"] != abstain)
    accuracy = []
    for name in sorted(table["annotator"].unique()):
        mine = on_gold["annotator"] == name
        n_rated = int((mine & rated).sum())
        correct = int((mine & rated & (on_gold["label"] == truth)).sum())
        abstained = int((mine & (on_gold["label"] == abstain)).sum())
        accuracy.append(GoldAccuracy(name, Proportion.of(correct, n_rated), abstained))
    return accuracy


def _checked(
    annotations: pd.DataFrame,
    classes: Sequence[str] | None,
    abstain: str,
    gold: Mapping[str, str] | None,
) -> tuple[pd.DataFrame, list[str]]:
    """The table's three columns, checked, and the classes (``classes``, or those found)."""
    check_votes_table(
        annotations,
        source="annotations",
        columns=COLUMNS,
        labels=allowed_labels(annotations, classes, abstain),
    )
    if annotations.empty:
        raise VotesTableError("annotations: no ratings (the table has no rows)")
    table = annotations.loc[:, list(COLUMNS)]
    chosen = list(classes) if classes is not None else found_classes(table, abstain)
    if not chosen:
        raise VotesTableError(f"annotations: every vote is {abstain!r}: there is no class to agree on")
    for session, label in (gold or {}).items():
        if label not in chosen or label == abstain:
            given = "the classes" if classes is not None else "the classes found in the votes"
            raise VotesTableError(
                f"gold: session {session!r} has label {label!r}, not one of {given} {chosen}"
            )
    return table, chosen


def first_ratings(table: pd.DataFrame, first: int) -> pd.DataFrame:
    """Each session's first ``first`` rows, abstentions included: by ``annotation_id`` when the table
    has it (the order Label Studio received them), else in table order."""
    ordered = table.sort_values("annotation_id", kind="stable") if "annotation_id" in table.columns else table
    return ordered.groupby("session_id", sort=False).head(first).sort_index()


def compute_agreement(
    annotations: pd.DataFrame,
    *,
    seed: int = 0,
    n_boot: int = 1000,
    classes: Sequence[str] | None = CLASSES,
    abstain: str = ABSTAIN,
    min_votes: int = 1,
    gold: Mapping[str, str] | None = None,
    include_gold: bool = False,
    first: int | None = None,
) -> AgreementReport:
    """Agreement statistics of a ``session_id, annotator, label`` table (see the module docstring).

    ``classes`` None: the labels found in the table other than ``abstain``. ``min_votes`` is the
    majority rule's ``aggregation.min_votes``, so that the consensus is the rule the build
    publishes labels with. ``gold`` (session_id -> known label) adds each annotator's accuracy on
    those sessions and, unless ``include_gold``, leaves their votes out of everything else.
    ``first``: only each session's first ``first`` ratings count (``first_ratings``), the
    unbiased design under adaptive overlap.
    """
    table, classes = _checked(annotations, classes, abstain, gold)
    later = 0
    sizes = table.groupby("session_id").size().to_numpy()
    campaign_mix = dict(zip(*(v.tolist() for v in np.unique(sizes, return_counts=True)), strict=True))
    if first is not None:  # on the checked table's rows, ordered by the caller's annotation ids
        kept = table.index.isin(first_ratings(annotations, first).index)
        later = int((~kept).sum())
        table = table.loc[kept]
    gold = dict(gold or {})
    gold_accuracy = _gold_accuracy(table, gold, classes, abstain) if gold else []
    on_gold = table["session_id"].isin(list(gold))
    gold_sessions = int(table.loc[on_gold, "session_id"].nunique())
    left_out = 0 if include_gold else gold_sessions
    if left_out:
        table = table.loc[~on_gold]
        if table.empty:
            raise VotesTableError(
                f"annotations: every session is one of the {left_out} gold sessions, which are left out "
                "of the agreement (include them to measure it on gold)"
            )
    rated = table["label"].isin(classes)
    codes, sessions, annotators = _code_matrix(table, classes)
    n_classes = len(classes)
    contributions = SessionContributions.from_codes(codes, n_classes)
    kappas, overlaps, per_class = _library_kappas(codes, n_classes)
    boot = _bootstrap(contributions, len(sessions), n_boot, seed)
    pairs = [
        PairKappa(
            annotators[a],
            annotators[b],
            kappas[i],
            overlaps[i],
            *_ci(kappas[i], boot.pair_kappa[:, i] if boot else None),
        )
        for i, (a, b) in enumerate(annotator_pairs(len(annotators)))
    ]
    unit = np.ones((1, len(sessions)))
    class_kappa = _mean_over_pairs(per_class)
    fleiss_sessions = int(contributions.fleiss_member.sum())
    fleiss_left_out = int(((codes != MISSING).sum(axis=1) >= 2).sum()) - fleiss_sessions
    notes = []
    if fleiss_left_out:
        notes.append(
            f"Fleiss' kappa uses the {fleiss_sessions} sessions with {contributions.fleiss_raters} "
            f"ratings; {fleiss_left_out} session(s) with another number of ratings are left out of it."
        )
    if (~rated).any():
        notes.append(f"{int((~rated).sum())} '{abstain}' votes are treated as missing ratings.")
    if first is not None:
        mix = ", ".join(f"{count} with {n}" for n, count in campaign_mix.items())
        notes.append(
            f"Only the first {first} ratings of every session count ({later} later rating(s) left out; "
            f"sessions by number of votes in the campaign: {mix}): under "
            "adaptive overlap a session gets more ratings because its first ones disagreed, so with them "
            "the sessions that kept their first ratings agree by construction and every figure is biased; "
            f"the first {first} were collected before any escalation and are a fair sample."
        )
    if left_out:
        notes.append(
            f"{left_out} gold session(s) are left out of every agreement figure (they measure "
            "the annotators: see the accuracy on gold)."
        )
    consensus = _consensus(table, codes, sessions, classes, min_votes, abstain)
    return AgreementReport(
        classes=classes,
        annotators=annotators,
        n_sessions=len(sessions),
        n_ratings=int(rated.sum()),
        cohen_kappa_mean=_interval(
            float(_mean_over_pairs(np.asarray(kappas))), boot.mean_kappa if boot else None
        ),
        cohen_kappa_pairwise=pairs,
        per_class_kappa={
            label: _interval(class_kappa[k], boot.class_kappa[:, k] if boot else None)
            for k, label in enumerate(classes)
        },
        fleiss_kappa=_interval(_library_fleiss(contributions), boot.fleiss_kappa if boot else None),
        fleiss_n_sessions=fleiss_sessions,
        fleiss_raters=contributions.fleiss_raters,
        krippendorff_alpha=_interval(
            _library_alpha(codes, n_classes), boot.krippendorff_alpha if boot else None
        ),
        observed_agreement=_interval(
            contributions.statistics(unit).observed_agreement[0],
            boot.observed_agreement if boot else None,
        ),
        confusion=_consensus_confusion(consensus, codes, annotators, n_classes),
        consensus={
            session: classes[k] for session, k in zip(sessions, consensus, strict=True) if k != UNDECIDED
        },
        ratings_per_annotator={
            name: int((codes[:, i] != MISSING).sum()) for i, name in enumerate(annotators)
        },
        cannot_tell={
            name: int(((table["annotator"] == name) & ~rated).sum()) for name in annotators
        },
        n_boot=max(n_boot, 0),
        seed=seed,
        notes=notes,
        abstain=abstain,
        ratings_per_session=_per_session(pd.Series((codes != MISSING).sum(axis=1))),
        votes_per_session=_per_session(table.groupby("session_id").size()),
        gold_accuracy=gold_accuracy,
        gold_sessions=gold_sessions,
        gold_left_out=left_out,
        gold_included=bool(gold) and include_gold,
        coincidence=contributions.coincidences.sum(axis=0).tolist(),
        first_ratings=first,
    )


def default_report_base(path: Path) -> Path:
    """Where a report of ``path`` goes by default: beside it, or, for a build's own pulled table
    (``OUT/annotation/annotations.parquet``), in ``OUT``: never in the folder the aggregate stage
    owns (``OUT/annotation/agreement/``, which the dataset card reads)."""
    folder = Path(path).parent
    build = BuildPaths(folder.parent)
    return build.out if build.annotation_dir == folder and build.build_state.is_file() else folder


def agreement_for_file(
    path: Path,
    report_dir: Path | None = None,
    *,
    seed: int = 0,
    n_boot: int = 1000,
    classes: Sequence[str] | None = None,
    abstain: str = ABSTAIN,
    control: str | None = None,
    gold: Path | Mapping[str, str] | None = None,
    include_gold: bool = False,
    first: int | None = None,
    level: int | None = None,
) -> tuple[AgreementReport, list[Path]]:
    """Load a ratings table or a Label Studio ``.json`` export, compute the agreement, write the report.

    The report goes to ``report_dir``, or (None) to a new folder (`new_report_dir`) in
    `default_report_base`. ``classes`` None: the labels found. ``control``: the export's Choices
    control (needed when it has several). ``gold``: a ``session_id,label`` CSV (its labels must be
    among the classes, and some of its sessions among the rated ones) or an in-memory mapping.
    """
    from edu_affect_data.annotation.gold import read_gold_file

    path = Path(path)
    dropped: dict[str, int] = {}
    notes: list[str] = []
    if path.suffix.lower() == ".json":
        loaded = load_export(path, control=control, classes=classes, abstain=abstain, level=level)
        table, dropped, notes = loaded.table, loaded.dropped, loaded.notes
    else:
        if control is not None or level is not None:
            flag = "--control" if control is not None else "--level"
            raise VotesTableError(f"{path}: {flag} applies to a Label Studio .json export only, not to a table")
        table = load_ratings(path, classes=classes, abstain=abstain)
    if isinstance(gold, (str, Path)):
        resolved = list(classes) if classes is not None else found_classes(table, abstain)
        gold_file, gold = Path(gold), read_gold_file(Path(gold), [c for c in resolved if c != abstain])
        if gold and not set(gold) & set(table["session_id"].astype(str)):
            raise VotesTableError(
                f"{gold_file}: none of its {len(gold)} gold sessions is among the "
                f"{table['session_id'].nunique()} rated sessions of {path} (a gold file of another campaign?)"
            )
    report = compute_agreement(
        table,
        seed=seed,
        n_boot=n_boot,
        classes=classes,
        abstain=abstain,
        gold=gold,
        include_gold=include_gold,
        first=first,
    )
    report = replace(report, dropped=dropped, notes=[*notes, *report.notes])
    written = write_agreement_report(report, report_dir if report_dir is not None else new_report_dir(default_report_base(path)))
    return report, written
