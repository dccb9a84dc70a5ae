"""The split's search: which split (or fold) each speaker goes to, one cost minimised.

`assign_speakers` places whole speakers so that the splits come as close as the speakers allow to
the target ratios and, per stratified column (label, corpus), to each value's overall share; the
cost is described in `edu_affect_data.stages.split`. The search is a few seeded greedy starts
(largest speakers first, later starts perturbed) each refined by local moves and swaps until no
move lowers the cost; every candidate move of a speaker is scored at once (numpy), so a thousand
speakers take seconds. Deterministic for a given table, ratios and seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from edu_affect_data.core.vocabulary import CLASSES

#: Weight of each stratified column's distribution error relative to the session-ratio error.
STRATUM_ERROR_WEIGHT = 0.5
#: Cost of one point (0.01) of share beyond `max_share_gap`, against 0.01 for 1 % of the sessions
#: in the wrong split: a share out of bounds is worth moving several sessions for.
SHARE_GAP_WEIGHT = 5.0
#: Cost of an empty split, or of a value missing from a split although it has speakers enough.
MISSING_PENALTY = 10.0
#: Randomised greedy starts of the speaker search; each is refined by local moves.
SEARCH_RESTARTS = 16
@dataclass(frozen=True)
class SpeakerTable:
    """Per-speaker session counts: all the assignment search needs.

    `counts[i, j]` is speaker i's sessions with value `columns[j]` = (column, value) of a stratified
    column; `sizes[i]` its sessions.
    """

    speakers: tuple[str, ...]
    sizes: np.ndarray  # (n_speakers,) int
    counts: np.ndarray  # (n_speakers, len(columns)) int
    columns: tuple[tuple[str, str], ...] = ()


def speaker_table(balanced: pd.DataFrame, stratify_by: Sequence[str] = ("label",)) -> SpeakerTable:
    """Session counts per speaker and per value of each `stratify_by` column, speakers sorted so the
    search is independent of row order. Labels keep the order of `CLASSES`; other values are sorted."""
    speakers = sorted(str(s) for s in balanced["speaker_id"].unique())
    sizes = balanced.groupby("speaker_id").size().reindex(speakers).to_numpy(dtype=np.int64)
    blocks, columns = [], []
    for key in stratify_by:
        values = list(CLASSES) if key == "label" else sorted(str(v) for v in balanced[key].unique())
        pivot = pd.crosstab(balanced["speaker_id"], balanced[key].astype(str)).reindex(index=speakers, columns=values, fill_value=0)
        blocks.append(pivot.to_numpy(dtype=np.int64))
        columns += [(key, v) for v in values]
    counts = np.hstack(blocks) if blocks else np.zeros((len(speakers), 0), dtype=np.int64)
    return SpeakerTable(tuple(speakers), sizes, counts, tuple(columns))


@dataclass(frozen=True)
class _Targets:
    """What `_cost` compares a candidate with: the ideal counts per split and the penalties' scope."""

    sizes: np.ndarray  # (groups,) ideal sessions per split
    counts: np.ndarray  # (groups, columns) ideal sessions per split and stratified value
    shares: np.ndarray  # (columns,) each value's share of all sessions (within its stratum)
    required: np.ndarray  # (columns,) bool: the value has at least one speaker per split
    require_all: bool  # there are at least as many speakers as splits
    total: float
    max_gap: float


def _targets(table: SpeakerTable, ratios: Sequence[float], max_gap: float) -> _Targets:
    weights = np.asarray(ratios, dtype=np.float64)
    total = float(table.sizes.sum())
    column_totals = table.counts.sum(axis=0).astype(np.float64)
    speakers_with = (table.counts > 0).sum(axis=0)
    return _Targets(
        weights * total, np.outer(weights, column_totals), column_totals / max(total, 1.0),
        speakers_with >= len(weights), len(table.speakers) >= len(weights), max(total, 1.0), max_gap,
    )


def _cost(sizes: np.ndarray, counts: np.ndarray, targets: _Targets, *, partial: bool = False) -> np.ndarray:
    """The search's cost (module docstring) of candidates given by their per-split `sizes` (..., G) and
    per-split value `counts` (..., G, K), in shares of all sessions; one cost per candidate.

    `partial`: the candidates are assignments still being built (the greedy start), whose shares
    and missing values mean nothing yet: only the count errors.
    """
    ratio_error = np.abs(sizes - targets.sizes).sum(axis=-1)
    stratum_error = np.abs(counts - targets.counts).sum(axis=(-2, -1))
    if partial:
        return (ratio_error + STRATUM_ERROR_WEIGHT * stratum_error) / targets.total
    filled = np.maximum(sizes, 1.0)[..., None]
    gap = np.maximum(np.abs(counts / filled - targets.shares) - targets.max_gap, 0.0) * (sizes > 0)[..., None]
    missing = (counts == 0) & targets.required
    empty = (sizes == 0).sum(axis=-1) * targets.require_all
    return ((ratio_error + STRATUM_ERROR_WEIGHT * stratum_error) / targets.total + SHARE_GAP_WEIGHT * gap.sum(axis=(-2, -1))
            + MISSING_PENALTY * (missing.sum(axis=(-2, -1)) + empty))


def assign_speakers(table: SpeakerTable, ratios: Sequence[float], seed: int, max_gap: float = 0.10) -> np.ndarray:
    """Group index per speaker minimising `_cost`: randomised greedy starts plus local moves.

    Deterministic for a given table, ratios and seed.
    """
    n_speakers, n_groups = len(table.speakers), len(ratios)
    if n_speakers == 0:
        return np.zeros(0, dtype=np.int64)
    targets = _targets(table, ratios, max_gap)
    sizes, counts = table.sizes.astype(np.float64), table.counts.astype(np.float64)
    rng = np.random.default_rng(seed)
    identity = np.eye(n_groups)
    best: tuple[float, np.ndarray] | None = None
    for restart in range(SEARCH_RESTARTS):
        # Largest speakers first (first start exactly so), later starts perturb the order.
        jitter = rng.random(n_speakers) * (0.0 if restart == 0 else sizes.max() * 0.5)
        order = np.argsort(-(sizes + jitter), kind="stable")
        groups = np.full(n_speakers, -1, dtype=np.int64)
        split_sizes, split_counts = np.zeros(n_groups), np.zeros((n_groups, counts.shape[1]))
        for speaker in order:
            # The cost of each choice at once: (choice, group) sizes and (choice, group, column) counts.
            trials = _cost(split_sizes + identity * sizes[speaker], split_counts + identity[:, :, None] * counts[speaker], targets, partial=True)
            chosen = int(np.argmin(trials))
            groups[speaker] = chosen
            split_sizes[chosen] += sizes[speaker]
            split_counts[chosen] += counts[speaker]
        groups, cost = _improve(groups, sizes, counts, targets)
        if best is None or cost < best[0] - 1e-12:
            best = (cost, groups)
    assert best is not None
    return best[1]


def _improve(groups: np.ndarray, sizes: np.ndarray, counts: np.ndarray, targets: _Targets) -> tuple[np.ndarray, float]:
    """Hill-climb with single-speaker moves and pairwise swaps until no move lowers the cost."""
    n_groups = len(targets.sizes)
    identity = np.eye(n_groups)
    split_sizes = np.bincount(groups, weights=sizes, minlength=n_groups).astype(np.float64)
    split_counts = np.zeros((n_groups, counts.shape[1]))
    np.add.at(split_counts, groups, counts)
    cost = float(_cost(split_sizes, split_counts, targets))
    improved = True
    while improved:
        improved = False
        for speaker in range(len(groups)):
            here = groups[speaker]
            # Every move of this speaker at once (moving "here" is the current assignment).
            moved_sizes = split_sizes - identity[here] * sizes[speaker] + identity * sizes[speaker]
            moved_counts = split_counts - (identity[here][:, None] * counts[speaker])[None] + identity[:, :, None] * counts[speaker]
            trials = _cost(moved_sizes, moved_counts, targets)
            there = int(np.argmin(trials))
            if there != here and trials[there] < cost - 1e-12:
                groups[speaker], cost, improved = there, float(trials[there]), True
                split_sizes, split_counts = moved_sizes[there], moved_counts[there]
        if improved or len(groups) > 200:
            continue
        for a in range(len(groups)):
            # Every swap of speaker a with a later speaker of another group at once; the best one is taken.
            ga = groups[a]
            others = a + 1 + np.flatnonzero(groups[a + 1 :] != ga)
            if not len(others):
                continue
            gb, rows = groups[others], np.arange(len(others))
            size_delta, count_delta = sizes[a] - sizes[others], counts[a] - counts[others]
            trial_sizes = np.repeat(split_sizes[None], len(others), axis=0)
            trial_counts = np.repeat(split_counts[None], len(others), axis=0)
            trial_sizes[:, ga] -= size_delta
            trial_sizes[rows, gb] += size_delta
            trial_counts[:, ga] -= count_delta
            trial_counts[rows, gb] += count_delta
            trials = _cost(trial_sizes, trial_counts, targets)
            best = int(np.argmin(trials))
            if trials[best] < cost - 1e-12:
                b = others[best]
                groups[a], groups[b], cost, improved = groups[b], ga, float(trials[best]), True
                split_sizes, split_counts = trial_sizes[best], trial_counts[best]
    return groups, cost
