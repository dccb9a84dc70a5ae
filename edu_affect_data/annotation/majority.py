"""The one strict-majority rule: what "the annotators agree on a label" means everywhere.

A session's votes decide a class when that class holds *more than half of all its votes*, and the
session has at least ``min_votes`` valid votes (votes naming a class). "Cannot tell"
(``vocabulary.ABSTAIN``) is a vote that counts in the denominator but can never win: two "Cannot
tell" against one "Bored" is no majority for Bored, and neither is one "Bored" against one "Cannot
tell".

Three places apply it and must agree, so they all call this module: the majority estimator of
``aggregate`` (the published label of a session the reviewer did not decide), the adjudication
queue (``aggregate.needs_adjudication``: the sessions this rule leaves undecided) and the
consensus of the agreement report (``agreement``: the rows of its confusion matrices).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from edu_affect_data.core.vocabulary import ABSTAIN, CLASSES

#: Index returned by ``strict_majority`` for a session without a majority.
UNDECIDED = -1


def strict_majority(class_counts: np.ndarray, abstentions: np.ndarray, *, min_votes: int) -> np.ndarray:
    """Winning class index per session, ``UNDECIDED`` where the rule decides nothing.

    ``class_counts`` is (S, K): votes per class; ``abstentions`` is (S,): "Cannot tell" votes.
    A class wins with ``2 * count > class votes + abstentions`` and ``class votes >= min_votes``;
    two classes can never both pass, so there are no ties to break.
    """
    if min_votes < 1:
        raise ValueError(f"min_votes must be >= 1, got {min_votes}")
    counts = np.asarray(class_counts, dtype=float)
    if counts.ndim != 2:
        raise ValueError(f"class_counts must be (sessions, classes), got shape {counts.shape}")
    if counts.shape[1] == 0:
        return np.full(counts.shape[0], UNDECIDED, dtype=int)
    valid = counts.sum(axis=1)
    total = valid + np.asarray(abstentions, dtype=float)
    top = counts.max(axis=1)
    decided = (2 * top > total) & (valid >= min_votes)
    return np.where(decided, counts.argmax(axis=1), UNDECIDED).astype(int)


def vote_counts(
    votes: pd.DataFrame, *, item: str, label: str, classes: Sequence[str] = CLASSES, abstain: str = ABSTAIN
) -> tuple[pd.DataFrame, pd.Series]:
    """(items x classes vote counts, abstentions per item) of a tidy votes table, items sorted.

    Every item of ``votes`` gets a row, one with abstentions only included. Labels other than
    ``classes`` and ``abstain`` must have been refused by the caller (``check_votes_table``).
    """
    items = pd.Index(sorted(votes[item].unique()), name=item)
    counts = (
        pd.crosstab(votes[item], votes[label])
        .reindex(index=items, columns=[*classes, abstain], fill_value=0)
        .astype(int)
    )
    return counts[list(classes)], counts[abstain].rename("abstentions")


def majority_labels(
    votes: pd.DataFrame,
    *,
    item: str,
    label: str,
    min_votes: int = 1,
    classes: Sequence[str] = CLASSES,
    abstain: str = ABSTAIN,
) -> pd.Series:
    """item -> the strict-majority class of its votes, NaN where undecided (items sorted)."""
    counts, abstentions = vote_counts(votes, item=item, label=label, classes=classes, abstain=abstain)
    winners = strict_majority(counts.to_numpy(), abstentions.to_numpy(), min_votes=min_votes)
    labels = pd.Series(index=counts.index, dtype=object, name="agg_label")
    decided = winners != UNDECIDED
    labels[decided] = np.asarray(classes, dtype=object)[winners[decided]]
    return labels
