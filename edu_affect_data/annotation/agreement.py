"""Inter-annotator agreement of an annotation round, with bootstrap intervals over sessions.

Point estimates come from the reference implementations: ``sklearn.metrics.cohen_kappa_score``
(per pair, and one-vs-rest per class), ``statsmodels.stats.inter_rater.fleiss_kappa`` and
``krippendorff.alpha`` (nominal). Intervals resample *sessions* (the unit that was sampled, so the
dependence between one session's ratings is kept) with a seeded numpy Generator and evaluate the
same statistics with the vectorised formulas of ``agreement_stats``.

Conventions:

- "Cannot tell" is an abstention: it is left out of every statistic (as a missing rating) and
  counted per annotator. Pass ``classes`` including it to treat it as a category instead.
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
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa

from edu_affect_data.annotation.aggregate import VotesTableError, check_votes_table
from edu_affect_data.annotation.agreement_report import (
    AgreementReport,
    Estimate,
    PairKappa,
    write_agreement_report,
)
from edu_affect_data.annotation.agreement_stats import (
    MISSING,
    SessionContributions,
    Statistics,
    annotator_pairs,
    bootstrap_weights,
    category_counts,
    nanmean,
    percentile_interval,
)
from edu_affect_data.annotation.majority import UNDECIDED, strict_majority
from edu_affect_data.vocabulary import ABSTAIN, ANSWERS, CLASSES

__all__ = ["AgreementReport", "compute_agreement", "load_ratings", "write_agreement_report"]

_COLUMNS = ("session_id", "annotator", "label")


def load_ratings(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet ratings table and check it, errors naming the file, column and line/row.

    Every way the file can be unusable is a `VotesTableError` naming it: missing, empty, only a
    header, undecodable text, malformed CSV, a corrupt or truncated Parquet file.
    """
    path = Path(path)
    if not path.is_file():
        raise VotesTableError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix not in {".parquet", ".csv", ".tsv"}:
        raise VotesTableError(
            f"{path}: expected a .csv, .tsv or .parquet table of session_id, annotator, label"
        )
    if path.stat().st_size == 0:
        raise VotesTableError(f"{path}: the file is empty (expected a header session_id, annotator, label and rows)")
    offset = 0 if suffix == ".parquet" else 2
    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(
                path,
                sep="\t" if suffix == ".tsv" else ",",
                dtype=str,
                keep_default_na=False,
                na_values=[""],
            )
    except (pa.ArrowException, OSError) as exc:
        raise VotesTableError(f"{path}: not a readable Parquet file: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise VotesTableError(f"{path}: not UTF-8 text (byte offset {exc.start}): {exc.reason}") from exc
    except pd.errors.EmptyDataError as exc:
        raise VotesTableError(f"{path}: no header (expected session_id, annotator, label)") from exc
    except pd.errors.ParserError as exc:
        raise VotesTableError(f"{path}: not a readable {suffix[1:].upper()} table: {' '.join(str(exc).split())}") from exc
    where = f"{path} (rows counted as file lines)" if offset else f"{path} (rows counted from 0)"
    check_votes_table(
        frame, source=where, columns=_COLUMNS, labels=ANSWERS, row_offset=offset
    )
    if frame.empty:
        raise VotesTableError(f"{path}: no ratings (a header but no rows)")
    return frame


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
    table: pd.DataFrame, codes: np.ndarray, sessions: list[str], classes: list[str], min_votes: int
) -> np.ndarray:
    """Each session's consensus class index (``UNDECIDED`` where none) by the one majority rule.

    Abstentions are votes of the rule even where they are missing ratings of the statistics; with
    "Cannot tell" passed as a category it is still an abstention here (it never wins).
    """
    counts = category_counts(codes, len(classes))
    abstained = table.loc[table["label"] == ABSTAIN, "session_id"].value_counts()
    abstentions = abstained.reindex(sessions, fill_value=0).to_numpy(dtype=float)
    if ABSTAIN in classes:
        counts[:, classes.index(ABSTAIN)] = 0.0
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
    rng = np.random.default_rng(seed)
    parts = [
        contributions.statistics(weights) for weights in bootstrap_weights(rng, n_sessions, n_boot)
    ]
    return Statistics(
        *(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Statistics))
    )


def _interval(estimate: float, samples: np.ndarray | None) -> Estimate:
    low, high = percentile_interval(samples) if samples is not None else (np.nan, np.nan)
    return Estimate(float(estimate), low, high)


def _mean_over_pairs(values: np.ndarray) -> np.ndarray:
    """Mean over the pair axis (0) of the defined values; NaN where no pair is defined."""
    return nanmean(values, axis=0) if values.shape[0] else np.full(values.shape[1:], np.nan)


def compute_agreement(
    annotations: pd.DataFrame,
    *,
    seed: int = 0,
    n_boot: int = 1000,
    classes: Sequence[str] = CLASSES,
    min_votes: int = 1,
) -> AgreementReport:
    """Agreement statistics of a ``session_id, annotator, label`` table (see the module docstring).

    ``min_votes`` is the majority rule's ``aggregation.min_votes``, so that the consensus is the
    rule the build publishes labels with.
    """
    classes = list(classes)
    allowed = classes if ABSTAIN in classes else [*classes, ABSTAIN]
    check_votes_table(annotations, source="annotations", columns=_COLUMNS, labels=allowed)
    if annotations.empty:
        raise VotesTableError("annotations: no ratings (the table has no rows)")
    table = annotations.loc[:, list(_COLUMNS)]
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
            *(percentile_interval(boot.pair_kappa[:, i]) if boot else (np.nan, np.nan)),
        )
        for i, (a, b) in enumerate(annotator_pairs(len(annotators)))
    ]
    unit = np.ones((1, len(sessions)))
    class_kappa = _mean_over_pairs(per_class)
    fleiss_sessions = int(contributions.fleiss_member.sum())
    left_out = int(((codes != MISSING).sum(axis=1) >= 2).sum()) - fleiss_sessions
    notes = []
    if left_out:
        notes.append(
            f"Fleiss' kappa uses the {fleiss_sessions} sessions with {contributions.fleiss_raters} "
            f"ratings; {left_out} session(s) with another number of ratings are left out of it."
        )
    if (~rated).any():
        notes.append(f"{int((~rated).sum())} '{ABSTAIN}' votes are treated as missing ratings.")
    consensus = _consensus(table, codes, sessions, classes, min_votes)
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
    )


def agreement_for_file(
    path: Path, report_dir: Path | None = None, *, seed: int = 0, n_boot: int = 1000
) -> tuple[AgreementReport, list[Path]]:
    """Load a ratings table, compute the agreement and write the report (default: ``<table dir>/agreement``)."""
    report = compute_agreement(load_ratings(path), seed=seed, n_boot=n_boot)
    written = write_agreement_report(
        report, report_dir if report_dir is not None else Path(path).parent / "agreement"
    )
    return report, written
