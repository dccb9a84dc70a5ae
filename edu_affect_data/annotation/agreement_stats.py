"""Agreement statistics written as functions of per-session sums, so a bootstrap is a matrix product.

Cohen's kappa (per pair, overall and one-vs-rest), percent agreement, Fleiss' kappa and
Krippendorff's alpha all depend on the data only through sums over sessions: contingency tables,
category counts, coincidence matrices. A bootstrap resample is a vector of session multiplicities
``w``, and every resampled sum is ``w @ C`` for the matrix ``C`` of per-session contributions. B
resamples are therefore one ``(B x S) @ (S x m)`` product plus elementwise algebra, with no Python
loop over resamples or sessions: 1000 resamples of a few hundred sessions take milliseconds. The
multiplicities and the percentile interval are ``edu_affect_data.core.stats``'s, as for every bootstrap.

The reported point estimates come from scikit-learn, statsmodels and krippendorff (see
``agreement.py``); these formulas are checked against them in the tests and used for the intervals.
All formulas are written so that integer-valued inputs give exact zeros where a statistic is
undefined (one category only), which then yields NaN rather than a division by a rounding error.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

#: Code of a missing rating in a sessions x annotators code matrix.
MISSING = -1


def annotator_pairs(n_annotators: int) -> list[tuple[int, int]]:
    """Every unordered annotator pair, in a fixed order (the column order of the pair statistics)."""
    return list(combinations(range(n_annotators), 2))


def category_counts(codes: np.ndarray, n_classes: int) -> np.ndarray:
    """(S, A) codes -> (S, K) number of ratings per category (missing ratings ignored)."""
    counts = np.zeros((codes.shape[0], n_classes))
    rows, cols = np.nonzero(codes != MISSING)
    np.add.at(counts, (rows, codes[rows, cols]), 1.0)
    return counts


def modal_rater_count(counts: np.ndarray) -> int:
    """Most frequent number of ratings among sessions rated at least twice (ties: the larger)."""
    per_session = counts.sum(axis=1).astype(int)
    usable = per_session[per_session >= 2]
    if usable.size == 0:
        return 0
    values, frequency = np.unique(usable, return_counts=True)
    return int(values[frequency == frequency.max()].max())


@dataclass(frozen=True)
class SessionContributions:
    """Additive per-session pieces of every statistic, flattened into one (S, m) matrix."""

    pair_tables: (
        np.ndarray
    )  # (S, P, K, K): one-hot contingency cell of each pair, zero if not both rated
    fleiss_member: np.ndarray  # (S,): 1 for sessions with the modal number of ratings
    fleiss_counts: np.ndarray  # (S, K): category counts of those sessions, zero elsewhere
    fleiss_agreement: np.ndarray  # (S,): Fleiss' P_i of those sessions, zero elsewhere
    coincidences: np.ndarray  # (S, K, K): Krippendorff coincidences of sessions with >= 2 ratings
    fleiss_raters: int

    @classmethod
    def from_codes(cls, codes: np.ndarray, n_classes: int) -> SessionContributions:
        """Build every contribution from a (sessions x annotators) code matrix, MISSING where unrated."""
        n_sessions, n_annotators = codes.shape
        pairs = annotator_pairs(n_annotators)
        tables = np.zeros((n_sessions, len(pairs), n_classes, n_classes))
        for index, (a, b) in enumerate(pairs):
            both = np.flatnonzero((codes[:, a] != MISSING) & (codes[:, b] != MISSING))
            tables[both, index, codes[both, a], codes[both, b]] = 1.0
        counts = category_counts(codes, n_classes)
        raters = counts.sum(axis=1)
        modal = modal_rater_count(counts)
        member = (raters == modal).astype(float) if modal else np.zeros(n_sessions)
        with np.errstate(divide="ignore", invalid="ignore"):
            agreement = ((counts**2).sum(axis=1) - raters) / (raters * (raters - 1))
            pairable = raters >= 2
            coincidences = counts[:, :, None] * counts[:, None, :] - counts[:, :, None] * np.eye(
                n_classes
            )
            coincidences = np.where(
                pairable[:, None, None], coincidences / (raters - 1)[:, None, None], 0.0
            )
        return cls(
            pair_tables=tables,
            fleiss_member=member,
            fleiss_counts=counts * member[:, None],
            fleiss_agreement=np.where(member > 0, agreement, 0.0),
            coincidences=coincidences,
            fleiss_raters=modal,
        )

    def matrix(self) -> np.ndarray:
        """All contributions side by side: (S, m) with m = P*K*K + 1 + K + 1 + K*K."""
        n = self.pair_tables.shape[0]
        return np.concatenate(
            [
                self.pair_tables.reshape(n, -1),
                self.fleiss_member[:, None],
                self.fleiss_counts,
                self.fleiss_agreement[:, None],
                self.coincidences.reshape(n, -1),
            ],
            axis=1,
        )

    def statistics(self, weights: np.ndarray) -> Statistics:
        """Every statistic for each row of ``weights`` (B, S) of session multiplicities."""
        sums = weights @ self.matrix()
        n_pairs, n_classes = self.pair_tables.shape[1], self.pair_tables.shape[2]
        ends = np.cumsum([n_pairs * n_classes**2, 1, n_classes, 1, n_classes**2])
        tables, member, counts, agreement, coincidences = np.split(sums, ends[:-1], axis=1)
        tables = tables.reshape(len(weights), n_pairs, n_classes, n_classes)
        return Statistics(
            pair_kappa=kappa_from_table(tables),
            pair_class_kappa=one_vs_rest_kappa(tables),
            pair_agreement=percent_agreement(tables),
            pair_n=tables.sum(axis=(-2, -1)),
            fleiss_kappa=fleiss_from_sums(
                member[:, 0], counts, agreement[:, 0], self.fleiss_raters
            ),
            krippendorff_alpha=alpha_from_coincidences(
                coincidences.reshape(len(weights), n_classes, n_classes)
            ),
        )


@dataclass(frozen=True)
class Statistics:
    """Statistics for a batch of B weightings (B = 1 for the unweighted data)."""

    pair_kappa: np.ndarray  # (B, P)
    pair_class_kappa: np.ndarray  # (B, P, K)
    pair_agreement: np.ndarray  # (B, P)
    pair_n: np.ndarray  # (B, P)
    fleiss_kappa: np.ndarray  # (B,)
    krippendorff_alpha: np.ndarray  # (B,)

    @property
    def mean_kappa(self) -> np.ndarray:
        """Mean Cohen's kappa over the pairs where it is defined, (B,)."""
        return nanmean(self.pair_kappa, axis=1)

    @property
    def class_kappa(self) -> np.ndarray:
        """One-vs-rest kappa per class averaged over pairs, (B, K)."""
        return nanmean(self.pair_class_kappa, axis=1)

    @property
    def observed_agreement(self) -> np.ndarray:
        """Mean over pairs of the share of common sessions labelled alike, (B,)."""
        return nanmean(self.pair_agreement, axis=1)


def nanmean(values: np.ndarray, axis: int) -> np.ndarray:
    """Mean of the finite entries; NaN (without a warning) where there are none."""
    finite = np.isfinite(values)
    total = np.where(finite, values, 0.0).sum(axis=axis)
    count = finite.sum(axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count > 0, total / count, np.nan)


def kappa_from_table(table: np.ndarray) -> np.ndarray:
    """Cohen's kappa of (..., K, K) contingency tables; NaN when empty or one category only.

    kappa = 1 - n (n - trace) / (n^2 - sum_k row_k col_k), i.e. (p_o - p_e) / (1 - p_e).
    """
    n = table.sum(axis=(-2, -1))
    trace = np.trace(table, axis1=-2, axis2=-1)
    expected = n**2 - (table.sum(axis=-1) * table.sum(axis=-2)).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(expected > 0, 1.0 - n * (n - trace) / expected, np.nan)


def one_vs_rest_kappa(table: np.ndarray) -> np.ndarray:
    """(..., K, K) tables -> (..., K) kappa of "class k or not" for each k."""
    n = table.sum(axis=(-2, -1))[..., None]
    both = np.diagonal(table, axis1=-2, axis2=-1)
    first_only = table.sum(axis=-1) - both
    second_only = table.sum(axis=-2) - both
    neither = n - both - first_only - second_only
    binary = np.stack([np.stack([both, first_only], -1), np.stack([second_only, neither], -1)], -2)
    return kappa_from_table(binary)


def percent_agreement(table: np.ndarray) -> np.ndarray:
    """Share of the table's sessions on the diagonal; NaN for an empty table."""
    n = table.sum(axis=(-2, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, np.trace(table, axis1=-2, axis2=-1) / n, np.nan)


def fleiss_from_sums(
    n_sessions: np.ndarray, counts: np.ndarray, agreement: np.ndarray, raters: int
) -> np.ndarray:
    """Fleiss' kappa from summed session count, category counts (B, K) and P_i, all with ``raters`` ratings."""
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_agreement = agreement / n_sessions
        shares = counts / (n_sessions * raters)[:, None]
        expected = (shares**2).sum(axis=1)
        kappa = (mean_agreement - expected) / (1.0 - expected)
    return np.where((n_sessions > 0) & (expected < 1.0) & (raters >= 2), kappa, np.nan)


def alpha_from_coincidences(coincidences: np.ndarray) -> np.ndarray:
    """Krippendorff's nominal alpha from (..., K, K) coincidence matrices.

    alpha = 1 - (n - 1) * (off-diagonal coincidences) / (sum over c != k of n_c n_k).
    """
    per_class = coincidences.sum(axis=-1)
    n = per_class.sum(axis=-1)
    disagreement = n - np.trace(coincidences, axis1=-2, axis2=-1)
    expected = n**2 - (per_class**2).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(expected > 0, 1.0 - (n - 1.0) * disagreement / expected, np.nan)
