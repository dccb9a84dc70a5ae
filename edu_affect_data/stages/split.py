"""Stage `split`: balance the labelled sessions per class, then split them by speaker.

Why speakers and not sessions: a model that has heard a voice in training recognises the voice,
not the emotion, so one speaker's sessions must all fall in one split (a hard invariant, checked
before anything is written). Speakers come in very different sizes (IEMOCAP: 10 actors with
hundreds of sessions each; MOSEI: one speaker per video), so exact ratios are not always
reachable; a seeded search over speaker assignments minimises the ratio error plus the per-class
distribution error, which beats `StratifiedGroupKFold` when there are only a handful of large
groups and three unequal splits.

Balancing draws each class round-robin over its speakers (one session from every speaker per
round, speakers and sessions in seeded order), so the cap removes sessions from the
most-represented speakers first and keeps as many speakers as possible.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
from pydantic import Field, model_validator

from edu_affect_data.core.artifacts import ASSIGNMENT_SCHEMA, BuildPaths
from edu_affect_data.core.atomic import atomic_write_text
from edu_affect_data.core.parquet import read_table, save_table
from edu_affect_data.core.stage import StageOutcome
from edu_affect_data.core.strict_config import StrictModel
from edu_affect_data.core.vocabulary import CLASSES, EXCLUDED, SPLITS

#: Weight of the class-distribution error relative to the session-ratio error.
CLASS_ERROR_WEIGHT = 0.5
#: Randomised greedy starts of the speaker search; each is refined by local moves.
SEARCH_RESTARTS = 16


class BalanceConfig(StrictModel):
    per_class: int | None = Field(None, ge=1, description="Sessions kept per class (paper: 1250); null = the smallest class count.")


class SplitRatios(StrictModel):
    train: float = Field(0.7, gt=0, description="Share of the balanced sessions (whole speakers) for training.")
    validation: float = Field(0.1, gt=0, description="Share for model selection.")
    test: float = Field(0.2, gt=0, description="Share touched once, for the reported figures.")

    @model_validator(mode="after")
    def _sum_one(self) -> SplitRatios:
        if abs(self.train + self.validation + self.test - 1.0) > 1e-6:
            raise ValueError("split ratios must sum to 1")
        return self


class SplitConfig(StrictModel):
    ratios: SplitRatios = SplitRatios()
    folds: int | None = Field(None, ge=2, description="Also write K speaker-independent cross-validation folds.")


class SplitSettings(Protocol):
    """What the split stage reads of the pipeline configuration (its `StageSpec` keys)."""

    @property
    def seed(self) -> int: ...

    @property
    def balance(self) -> BalanceConfig: ...

    @property
    def split(self) -> SplitConfig: ...


class SplitError(ValueError):
    """Inputs that cannot be balanced or split; the message names the session or speaker."""


@dataclass(frozen=True)
class SpeakerTable:
    """Per-speaker class counts: the only thing the assignment search needs."""

    speakers: tuple[str, ...]
    counts: np.ndarray  # (n_speakers, n_classes) int


def load_labelled_sessions(paths: BuildPaths) -> pd.DataFrame:
    """Kept sessions that carry a final label: session_id, speaker_id, label (validated)."""
    for needed in (paths.sessions, paths.labels):
        if not needed.exists():
            raise SplitError(f"{needed}: missing (run the previous stage first)")
    sessions = read_table(paths.sessions, ["session_id", "speaker_id", "status"]).to_pandas()
    labels = read_table(paths.labels, ["session_id", "label"]).to_pandas()
    bad = labels.loc[~labels["label"].isin(CLASSES)]
    if len(bad):
        row = bad.iloc[0]
        raise SplitError(
            f"{paths.labels}: session {row.session_id}: label {row.label!r} is not one of {CLASSES}"
        )
    duplicated = labels.loc[labels["session_id"].duplicated()]
    if len(duplicated):
        raise SplitError(f"{paths.labels}: session {duplicated.iloc[0].session_id} labelled twice")
    merged = labels.merge(sessions, on="session_id", how="left")
    unknown = merged.loc[merged["status"].isna()]
    if len(unknown):
        raise SplitError(
            f"{paths.labels}: session {unknown.iloc[0].session_id} is not in {paths.sessions}"
        )
    not_kept = merged.loc[merged["status"] != "kept"]
    if len(not_kept):
        row = not_kept.iloc[0]
        raise SplitError(
            f"{paths.labels}: session {row.session_id} has status {row.status!r}, only kept sessions can be labelled"
        )
    return merged[["session_id", "speaker_id", "label"]].sort_values(
        "session_id", ignore_index=True
    )


def balance(labelled: pd.DataFrame, per_class: int | None, seed: int) -> pd.Series:
    """Boolean mask of the sessions kept by the per-class cap (round-robin over speakers)."""
    present = labelled["label"].value_counts()
    cap = per_class if per_class is not None else int(present.min()) if len(present) else 0
    keep = pd.Series(False, index=labelled.index)
    for class_index, label in enumerate(CLASSES):
        rows = labelled.loc[labelled["label"] == label].sort_values("session_id")
        rng = np.random.default_rng([seed, class_index])
        queues: dict[str, list[int]] = defaultdict(list)
        for speaker, group in rows.groupby("speaker_id", sort=True):
            order = rng.permutation(len(group))
            queues[str(speaker)] = [int(group.index[i]) for i in order]
        ordered = sorted(queues)
        speakers = [ordered[i] for i in rng.permutation(len(ordered))]
        taken = 0
        round_index = 0
        while taken < cap and any(round_index < len(queues[s]) for s in speakers):
            for speaker in speakers:
                if taken >= cap:
                    break
                if round_index < len(queues[speaker]):
                    keep[queues[speaker][round_index]] = True
                    taken += 1
            round_index += 1
    return keep


def speaker_table(balanced: pd.DataFrame) -> SpeakerTable:
    """Class counts per speaker, speakers sorted so the search is independent of row order."""
    pivot = (
        balanced.assign(label=pd.Categorical(balanced["label"], categories=CLASSES))
        .pivot_table(
            index="speaker_id",
            columns="label",
            values="session_id",
            aggfunc="count",
            observed=False,
        )
        .reindex(columns=list(CLASSES))
        .fillna(0)
        .sort_index()
    )
    return SpeakerTable(tuple(str(s) for s in pivot.index), pivot.to_numpy(dtype=np.int64))


def _cost(split_counts: np.ndarray, targets: np.ndarray, total: float, require_all: bool) -> float:
    """Ratio error + weighted class-distribution error, in shares of the total; empty splits are ruinous."""
    ratio_error = np.abs(split_counts.sum(axis=1) - targets.sum(axis=1)).sum() / total
    class_error = np.abs(split_counts - targets).sum() / total
    empty = int(require_all) * int((split_counts.sum(axis=1) == 0).sum())
    return float(ratio_error + CLASS_ERROR_WEIGHT * class_error + 10.0 * empty)


def assign_speakers(table: SpeakerTable, ratios: Sequence[float], seed: int) -> np.ndarray:
    """Group index per speaker minimising `_cost`: randomised greedy starts plus local moves.

    Deterministic for a given table, ratios and seed.
    """
    n_speakers, n_groups = len(table.speakers), len(ratios)
    if n_speakers == 0:
        return np.zeros(0, dtype=np.int64)
    counts = table.counts.astype(np.float64)
    total = float(counts.sum())
    targets = np.outer(np.asarray(ratios, dtype=np.float64), counts.sum(axis=0))
    require_all = n_speakers >= n_groups
    rng = np.random.default_rng(seed)
    sizes = counts.sum(axis=1)
    best: tuple[float, np.ndarray] | None = None
    for restart in range(SEARCH_RESTARTS):
        # Largest speakers first (first start exactly so), later starts perturb the order.
        jitter = rng.random(n_speakers) * (0.0 if restart == 0 else sizes.max() * 0.5)
        order = np.argsort(-(sizes + jitter), kind="stable")
        groups = np.full(n_speakers, -1, dtype=np.int64)
        split_counts = np.zeros((n_groups, counts.shape[1]))
        identity = np.eye(n_groups)[:, :, None]
        for speaker in order:
            # Cost of each choice at once: (choice, group, class) counts after adding the speaker.
            trials = split_counts[None] + identity * counts[speaker][None, None, :]
            ratio_error = np.abs(trials.sum(axis=2) - targets.sum(axis=1)).sum(axis=1)
            class_error = np.abs(trials - targets[None]).sum(axis=(1, 2))
            chosen = int(np.argmin(ratio_error + CLASS_ERROR_WEIGHT * class_error))
            groups[speaker] = chosen
            split_counts[chosen] += counts[speaker]
        groups, cost = _improve(groups, counts, targets, total, require_all)
        if best is None or cost < best[0] - 1e-12:
            best = (cost, groups)
    assert best is not None
    return best[1]


def _improve(
    groups: np.ndarray, counts: np.ndarray, targets: np.ndarray, total: float, require_all: bool
) -> tuple[np.ndarray, float]:
    """Hill-climb with single-speaker moves and pairwise swaps until no move lowers the cost."""
    n_groups = targets.shape[0]
    split_counts = np.zeros_like(targets)
    for speaker, group in enumerate(groups):
        split_counts[group] += counts[speaker]
    cost = _cost(split_counts, targets, total, require_all)
    improved = True
    while improved:
        improved = False
        for speaker in range(len(groups)):
            here = groups[speaker]
            for there in range(n_groups):
                if there == here:
                    continue
                split_counts[here] -= counts[speaker]
                split_counts[there] += counts[speaker]
                new = _cost(split_counts, targets, total, require_all)
                if new < cost - 1e-12:
                    groups[speaker], cost, here, improved = there, new, there, True
                else:
                    split_counts[there] -= counts[speaker]
                    split_counts[here] += counts[speaker]
        if improved or len(groups) > 200:
            continue
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                ga, gb = groups[a], groups[b]
                if ga == gb:
                    continue
                delta = counts[a] - counts[b]
                split_counts[ga] -= delta
                split_counts[gb] += delta
                new = _cost(split_counts, targets, total, require_all)
                if new < cost - 1e-12:
                    groups[a], groups[b], cost, improved = gb, ga, new, True
                else:
                    split_counts[ga] += delta
                    split_counts[gb] -= delta
    return groups, cost


def build_assignment(labelled: pd.DataFrame, config: SplitSettings) -> pd.DataFrame:
    """Every labelled session with its split (or `excluded`, reason `balance`) and CV fold."""
    kept = balance(labelled, config.balance.per_class, config.seed)
    assignment = labelled.assign(
        split=EXCLUDED, reason="balance", fold=pd.array([None] * len(labelled), dtype="Int32")
    )
    assignment.loc[kept, "reason"] = ""
    balanced = labelled.loc[kept]
    table = speaker_table(balanced)
    ratios = _ratios(config.split.ratios)
    split_of = dict(zip(table.speakers, assign_speakers(table, ratios, config.seed), strict=True))
    assignment.loc[kept, "split"] = balanced["speaker_id"].map(lambda s: SPLITS[split_of[s]])
    if config.split.folds:
        k = config.split.folds
        if len(table.speakers) < k:
            raise SplitError(
                f"split.folds={k} needs at least {k} speakers, the balanced data has {len(table.speakers)}"
            )
        fold_of = dict(
            zip(table.speakers, assign_speakers(table, [1.0 / k] * k, config.seed + 1), strict=True)
        )
        assignment.loc[kept, "fold"] = balanced["speaker_id"].map(fold_of).astype("Int32")
    return assignment[list(ASSIGNMENT_SCHEMA.names)].reset_index(drop=True)


def _ratios(ratios: SplitRatios) -> list[float]:
    return [ratios.train, ratios.validation, ratios.test]


def check_speaker_independent(assignment: pd.DataFrame) -> None:
    """Raise when a speaker appears in two splits or two folds, or a session appears twice."""
    used = assignment.loc[assignment["split"] != EXCLUDED]
    splits_per_speaker = used.groupby("speaker_id")["split"].nunique()
    leaked = splits_per_speaker[splits_per_speaker > 1]
    if len(leaked):
        raise SplitError(f"speaker {leaked.index[0]} appears in more than one split")
    folds_per_speaker = used.dropna(subset=["fold"]).groupby("speaker_id")["fold"].nunique()
    if (folds_per_speaker > 1).any():
        raise SplitError(
            f"speaker {folds_per_speaker[folds_per_speaker > 1].index[0]} appears in more than one fold"
        )
    if assignment["session_id"].duplicated().any():
        raise SplitError(
            f"session {assignment.loc[assignment['session_id'].duplicated(), 'session_id'].iloc[0]} assigned twice"
        )


def split_report(assignment: pd.DataFrame, config: SplitSettings) -> str:
    """Markdown: achieved ratios against the targets, speakers and class counts per split."""
    used = assignment.loc[assignment["split"] != EXCLUDED]
    total = max(len(used), 1)
    targets = dict(zip(SPLITS, _ratios(config.split.ratios), strict=True))
    lines = [
        "# Balance and speaker-independent split",
        "",
        f"Labelled sessions: {len(assignment)}; kept after balancing: {len(used)}; "
        f"excluded (reason `balance`): {int((assignment['split'] == EXCLUDED).sum())}; "
        f"cap per class: {config.balance.per_class if config.balance.per_class is not None else 'smallest class'}; seed {config.seed}.",
        "",
        "| split | sessions | share | target | speakers | " + " | ".join(CLASSES) + " |",
        "|---|---|---|---|---|" + "---|" * len(CLASSES),
    ]
    for split in SPLITS:
        rows = used.loc[used["split"] == split]
        per_class = [int((rows["label"] == c).sum()) for c in CLASSES]
        lines.append(
            f"| {split} | {len(rows)} | {len(rows) / total:.3f} | {targets[split]:.3f} | {rows['speaker_id'].nunique()} | "
            + " | ".join(str(n) for n in per_class)
            + " |"
        )
    labelled_counts = assignment["label"].value_counts()
    missing = [c for c in CLASSES if labelled_counts.get(c, 0) == 0]
    if missing:
        lines += ["", f"**No labelled session for: {', '.join(missing)}.**"]
    if config.split.folds:
        lines += [
            "",
            f"## {config.split.folds} cross-validation folds (by speaker)",
            "",
            "| fold | sessions | speakers |",
            "|---|---|---|",
        ]
        for fold, rows in used.groupby("fold"):
            lines.append(f"| {fold} | {len(rows)} | {rows['speaker_id'].nunique()} |")
    lines += ["", "## Speakers per split", ""]
    for split in SPLITS:
        speakers = sorted(used.loc[used["split"] == split, "speaker_id"].unique())
        lines.append(f"- {split}: {', '.join(speakers) if speakers else '(none)'}")
    return "\n".join(lines) + "\n"


def run_split(
    config: SplitSettings, paths: BuildPaths, *, executor: Executor | None = None
) -> StageOutcome:
    """Balance + split; writes splits/assignment.parquet and splits/report.md.

    `executor` is accepted for the uniform stage signature; the search is cheap and serial.
    """
    del executor
    assignment = build_assignment(load_labelled_sessions(paths), config)
    check_speaker_independent(assignment)
    table = pa.Table.from_pandas(assignment, schema=ASSIGNMENT_SCHEMA, preserve_index=False)
    save_table(table, paths.assignment)
    atomic_write_text(paths.split_report, split_report(assignment, config))
    counts = assignment["split"].value_counts()
    stats: dict[str, float | int | str] = {s: int(counts.get(s, 0)) for s in (*SPLITS, EXCLUDED)}
    message = ", ".join(f"{s} {stats[s]}" for s in (*SPLITS, EXCLUDED))
    return StageOutcome(True, f"split: {message}", (paths.assignment, paths.split_report), stats)


def split_of_sessions(assignment: pd.DataFrame, splits: Iterable[str] = SPLITS) -> pd.DataFrame:
    """The assigned (non-excluded) rows, ordered by split then session id: the dataset's row order."""
    wanted = list(splits)
    rows = assignment.loc[assignment["split"].isin(wanted)].copy()
    rows["_order"] = rows["split"].map({s: i for i, s in enumerate(wanted)})
    return rows.sort_values(["_order", "session_id"], ignore_index=True).drop(columns="_order")
