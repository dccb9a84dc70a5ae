"""From several annotators' votes to one label per session.

Three rules decide a session's label, in this order of authority:

1. the senior reviewer's adjudication (always final, method ``adjudicated``);
2. the configured estimator: a *strict* majority vote (``majority``) or Dawid-Skene (``dawid_skene``);
3. nothing: a session that neither decides stays out of the labels and is listed as unresolved.

"Cannot tell" is an abstention, not a fifth class. The majority vote is the one rule of
``majority`` (shared with the adjudication queue and the agreement report): the abstention counts
in the denominator, can never win, and is not a *valid* vote for ``min_votes``. Dawid-Skene models
annotator confusions between classes only, so it drops abstentions before fitting.

The estimators follow crowd-kit's interface (``fit(data) -> self``, ``labels_``, ``fit_predict``) on a
tidy ``task, worker, label`` table (Dawid-Skene is crowd-kit's), so they can be swapped or compared.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Self, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
from crowdkit.aggregation import DawidSkene as _CrowdKitDawidSkene
from pydantic import BaseModel, Field

from edu_affect_data.annotation.majority import majority_labels, vote_counts
from edu_affect_data.annotation.methods import build_estimator
from edu_affect_data.core.artifacts import LABELS_SCHEMA
from edu_affect_data.core.strict_config import NoOptions, StrictModel
from edu_affect_data.core.vocabulary import ABSTAIN, ADJUDICATED, ANSWERS, CLASSES

if TYPE_CHECKING:
    from edu_affect_data.annotation.options import AggregationConfig

_TIDY = ("task", "worker", "label")
_Fitted = TypeVar("_Fitted")


class VotesTableError(ValueError):
    """A votes/annotations table that cannot be aggregated; the message names source, column and row."""


def check_votes_table(
    frame: pd.DataFrame,
    *,
    source: str,
    columns: tuple[str, str, str],
    labels: Collection[str],
    row_offset: int = 0,
) -> None:
    """Refuse a table with a missing column, an empty cell, an unknown label or a repeated vote.

    ``columns`` names (item, rater, label). ``row_offset`` shifts the reported row numbers so a
    caller that read a CSV can point at file lines (header = line 1, so offset 2).
    """
    item, rater, label = columns
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise VotesTableError(
            f"{source}: missing column(s) {', '.join(map(repr, missing))}; found {list(frame.columns)}"
        )
    for column in columns:
        empty = np.flatnonzero(frame[column].isna().to_numpy())
        if empty.size:
            raise VotesTableError(
                f"{source}: column {column!r}, row {empty[0] + row_offset}: empty value"
            )
    unknown = np.flatnonzero(~frame[label].isin(list(labels)).to_numpy())
    if unknown.size:
        row = unknown[0]
        raise VotesTableError(
            f"{source}: column {label!r}, row {row + row_offset}: unknown label {frame[label].iloc[row]!r}; "
            f"expected one of {list(labels)}"
        )
    repeated = np.flatnonzero(frame.duplicated([item, rater]).to_numpy())
    if repeated.size:
        row = repeated[0]
        raise VotesTableError(
            f"{source}: row {row + row_offset}: {rater} {frame[rater].iloc[row]!r} voted twice on "
            f"{item} {frame[item].iloc[row]!r}"
        )


def _tidy(data: pd.DataFrame) -> pd.DataFrame:
    """Validate a ``task, worker, label`` table and sort it so results never depend on row order."""
    check_votes_table(data, source="votes table", columns=_TIDY, labels=ANSWERS)
    return (
        data.loc[:, list(_TIDY)]
        .sort_values(["task", "worker"], kind="stable")
        .reset_index(drop=True)
    )


@contextmanager
def _quiet_crowdkit() -> Iterator[None]:
    """crowd-kit 1.4 calls pandas APIs that pandas 3 deprecates; those warnings are not ours to fix."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        yield


def _fitted(value: _Fitted | None, attribute: str) -> _Fitted:
    """crowd-kit types fitted attributes as optional; after ``fit`` they must be there."""
    if value is None:
        raise RuntimeError(f"crowd-kit left {attribute} unset after fit")
    return value


def _valid_vote_counts(data: pd.DataFrame, abstain: str) -> pd.Series:
    """Votes naming a class, per task (0 for a task with abstentions only)."""
    tasks = pd.Index(data["task"].unique(), name="task")
    valid = data.loc[data["label"] != abstain, "task"].value_counts()
    return valid.reindex(tasks, fill_value=0).rename("valid_votes")


class MajorityVote:
    """The strict-majority rule of ``majority`` as an estimator; undecided (NaN) where it decides nothing.

    crowd-kit's ``MajorityVote`` breaks ties arbitrarily, which would silently turn a 1-1-1 split
    into a label, so the decision is ``majority.majority_labels`` (more than half of *all* votes,
    never the abstention, at least ``min_votes`` valid votes). ``probas_`` keeps every answer's
    share of the votes, abstention included, for inspection.
    """

    #: The strict majority has no options of its own (`aggregation.options` must be empty).
    options: ClassVar[type[BaseModel]] = NoOptions

    def __init__(self, *, min_votes: int = 1, abstain: str = ABSTAIN) -> None:
        if min_votes < 1:
            raise ValueError(f"min_votes must be >= 1, got {min_votes}")
        self.min_votes = min_votes
        self.abstain = abstain

    def fit(self, data: pd.DataFrame) -> Self:
        """Fit on a tidy ``task, worker, label`` table (one vote per worker and task)."""
        votes = _tidy(data)
        self.valid_votes_ = _valid_vote_counts(votes, self.abstain)
        counts, abstentions = vote_counts(votes, item="task", label="label", abstain=self.abstain)
        every = counts.assign(**{self.abstain: abstentions})
        self.probas_ = every.div(every.sum(axis=1), axis=0).reindex(self.valid_votes_.index)
        self.labels_ = (
            majority_labels(votes, item="task", label="label", min_votes=self.min_votes, abstain=self.abstain)
            .reindex(self.valid_votes_.index)
        )
        return self

    def fit_predict(self, data: pd.DataFrame) -> pd.Series:
        """``fit(data).labels_``: task -> label, NaN where undecided."""
        return self.fit(data).labels_


class DawidSkeneOptions(StrictModel):
    """`aggregation.options` of `dawid_skene`: when EM stops."""

    n_iter: int = Field(100, ge=1, description="Most EM iterations.")
    tol: float = Field(1e-5, gt=0, description="EM stops when an iteration changes its loss by less than this.")


class DawidSkene:
    """crowd-kit's Dawid-Skene EM on class votes, undecided (NaN) below ``min_votes`` valid votes.

    EM starts from the majority-vote posteriors and has no random step, so on the sorted input it is
    fully deterministic for given ``n_iter`` and ``tol``. ``errors_`` holds each worker's estimated
    confusion matrix, ``priors_`` the class priors.
    """

    options: ClassVar[type[BaseModel]] = DawidSkeneOptions

    def __init__(
        self,
        *,
        n_iter: int = 100,
        tol: float = 1e-5,
        min_votes: int = 1,
        abstain: str = ABSTAIN,
    ) -> None:
        if min_votes < 1:
            raise ValueError(f"min_votes must be >= 1, got {min_votes}")
        self.n_iter = n_iter
        self.tol = tol
        self.min_votes = min_votes
        self.abstain = abstain

    def fit(self, data: pd.DataFrame) -> Self:
        """Fit on a tidy ``task, worker, label`` table; abstentions are dropped before EM."""
        votes = _tidy(data)
        self.valid_votes_ = _valid_vote_counts(votes, self.abstain)
        class_votes = votes[votes["label"] != self.abstain]
        labels = pd.Series(index=self.valid_votes_.index, dtype=object, name="agg_label")
        if class_votes.empty:
            self.probas_ = pd.DataFrame(index=self.valid_votes_.index, dtype=float)
            self.labels_ = labels
            return self
        model = _CrowdKitDawidSkene(n_iter=self.n_iter, tol=self.tol)
        with _quiet_crowdkit():
            model.fit(class_votes)
        self.probas_ = _fitted(model.probas_, "probas_").reindex(self.valid_votes_.index)
        self.errors_ = model.errors_
        self.priors_ = model.priors_
        decided = self.valid_votes_ >= self.min_votes
        estimated = (
            _fitted(model.labels_, "labels_").reindex(self.valid_votes_.index).astype(object)
        )
        labels[decided] = estimated[decided]
        self.labels_ = labels
        return self

    def fit_predict(self, data: pd.DataFrame) -> pd.Series:
        """``fit(data).labels_``: task -> label, NaN where undecided."""
        return self.fit(data).labels_


_ANNOTATION_COLUMNS = ("session_id", "annotator", "label")


def _as_tidy(annotations: pd.DataFrame) -> pd.DataFrame:
    """ANNOTATIONS_SCHEMA rows -> crowd-kit's ``task, worker, label`` (validated, named as the source)."""
    check_votes_table(
        annotations, source="annotations", columns=_ANNOTATION_COLUMNS, labels=ANSWERS
    )
    return annotations.rename(columns={"session_id": "task", "annotator": "worker"})[list(_TIDY)]


def needs_adjudication(annotations: pd.DataFrame, min_votes: int) -> list[str]:
    """Sessions the senior reviewer must decide: those the strict-majority rule of ``majority`` leaves
    undecided (no majority, a "Cannot tell" majority, fewer than ``min_votes`` valid votes). Sorted."""
    labels = MajorityVote(min_votes=min_votes).fit_predict(_as_tidy(annotations))
    return sorted(labels.index[labels.isna()])


@dataclass(frozen=True)
class AggregatedLabels:
    """What ``aggregate_labels`` decided.

    ``labels`` has the LABELS_SCHEMA columns, one row per decided session, sorted by session_id.
    ``unresolved`` lists the sessions with neither a decision nor an adjudication: they are not
    labelled and must go (back) to the reviewer.
    """

    labels: pd.DataFrame
    unresolved: list[str] = field(default_factory=list)

    def to_arrow(self) -> pa.Table:
        """The labels as an Arrow table validated against LABELS_SCHEMA (what labels.parquet holds)."""
        columns = {name: self.labels[name].tolist() for name in LABELS_SCHEMA.names}
        return pa.Table.from_pydict(columns, schema=LABELS_SCHEMA)


def _check_adjudications(adjudications: pd.DataFrame, sessions: Iterable[str]) -> pd.Series:
    """Reviewer decisions as session_id -> label, refusing unknown sessions, labels or repeats."""
    check_votes_table(
        adjudications.assign(_row=range(len(adjudications))),
        source="adjudications",
        columns=("session_id", "_row", "label"),
        labels=CLASSES,
    )
    repeated = np.flatnonzero(adjudications["session_id"].duplicated().to_numpy())
    if repeated.size:
        session = adjudications["session_id"].iloc[repeated[0]]
        raise VotesTableError(
            f"adjudications: row {repeated[0]}: session {session!r} adjudicated twice"
        )
    strangers = sorted(set(adjudications["session_id"]) - set(sessions))
    if strangers:
        raise VotesTableError(f"adjudications: session(s) without annotations: {strangers[:5]}")
    return adjudications.set_index("session_id")["label"]


def aggregate_labels(
    annotations: pd.DataFrame, adjudications: pd.DataFrame | None, cfg: AggregationConfig
) -> AggregatedLabels:
    """One label per session: adjudication, else the estimator ``cfg.method`` names (``methods``).

    ``annotations`` needs the ANNOTATIONS_SCHEMA columns ``session_id, annotator, label``;
    ``adjudications`` (or None) ``session_id, label``. ``votes`` lists every vote, abstentions
    included, ordered by annotator; ``agreement`` is the share of class votes equal to the final label
    (NaN for an adjudicated session whose votes were all "Cannot tell").
    """
    tidy = _as_tidy(annotations)
    decided = build_estimator(cfg.method, min_votes=cfg.min_votes, options=cfg.options).fit_predict(tidy)
    method = pd.Series(cfg.method, index=decided.index, dtype=object)
    if adjudications is not None and not adjudications.empty:
        final = _check_adjudications(adjudications, decided.index)
        decided = decided.astype(object)
        decided.loc[final.index] = final
        method.loc[final.index] = ADJUDICATED
    resolved = decided.notna()
    ordered = tidy.sort_values(["task", "worker"], kind="stable")
    votes = ordered.groupby("task", sort=True)["label"].agg(list)
    rows = pd.DataFrame(
        {
            "session_id": decided.index[resolved],
            "label": decided[resolved].to_numpy(),
            "method": method[resolved].to_numpy(),
            "votes": votes.reindex(decided.index[resolved]).to_numpy(),
        }
    ).sort_values("session_id", kind="stable", ignore_index=True)
    rows["agreement"] = [
        _agreement(label, session_votes)
        for label, session_votes in zip(rows["label"], rows["votes"], strict=True)
    ]
    return AggregatedLabels(labels=rows, unresolved=sorted(decided.index[~resolved]))


def _agreement(label: str, votes: list[str]) -> float:
    """Share of class votes (abstentions left out) that name ``label``."""
    valid = [vote for vote in votes if vote != ABSTAIN]
    return float(valid.count(label) / len(valid)) if valid else float("nan")
