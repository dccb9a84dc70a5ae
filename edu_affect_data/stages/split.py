"""Stage `split`: balance the labelled sessions per class, then split them by speaker.

Why speakers and not sessions: a model that has heard a voice in training recognises the voice,
not the emotion, so one speaker's sessions must all fall in one split (a hard invariant, checked
before anything is written). Speakers come in very different sizes (IEMOCAP: 10 actors with
hundreds of sessions each; MOSEI: one speaker per video), so exact ratios are not always
reachable; a seeded search over speaker assignments minimises one cost, which beats
`StratifiedGroupKFold` when there are only a handful of large groups and three unequal splits:

* the ratio error (sessions per split against the target ratios);
* per stratified column (`split.stratify_by`, default label and corpus), the distribution error
  (sessions of each value per split against its share of the targets) and every point by which a
  value's share of a split strays more than `split.max_share_gap` from its overall share;
* a ruinous penalty for an empty split and for a value missing from a split although it has a
  speaker for every split.

Why the corpus too: the corpora differ in recording, speech style and label distribution, and a
split by speaker alone can leave a corpus out of validation (IEMOCAP has 10 speakers), so that
models are selected on a corpus they barely train on. A corpus with fewer speakers than splits
cannot be in all of them, and a corpus of a few large speakers cannot always be shared within the
gap: the split report and the stage's message then name it (`stratification_warnings`).

Balancing draws each class round-robin over its speakers (one session from every speaker per
round, speakers and sessions in seeded order), so the cap removes sessions from the
most-represented speakers first and keeps as many speakers as possible.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor
from typing import Literal, Protocol

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
from edu_affect_data.stages.split_search import assign_speakers, speaker_table

#: Columns of the labelled sessions a split can be stratified by.
StratifyKey = Literal["label", "corpus"]


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
    stratify_by: list[StratifyKey] = Field(
        ["label", "corpus"],
        description="Columns whose distribution each split (and fold) should follow: `label`, `corpus`; [] = session ratios only.",
    )
    max_share_gap: float = Field(
        0.10, ge=0, le=1,
        description="Largest gap between a stratified value's share of a split and its overall share before the search pays for it (0.10 = 10 points).",
    )

    @model_validator(mode="after")
    def _distinct(self) -> SplitConfig:
        if len(set(self.stratify_by)) != len(self.stratify_by):
            raise ValueError(f"stratify_by names a column twice: {self.stratify_by}")
        return self


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


def load_labelled_sessions(paths: BuildPaths) -> pd.DataFrame:
    """Kept sessions that carry a final label: session_id, speaker_id, corpus, label (validated)."""
    for needed in (paths.sessions, paths.labels):
        if not needed.exists():
            raise SplitError(f"{needed}: missing (run the previous stage first)")
    sessions = read_table(paths.sessions, ["session_id", "speaker_id", "corpus", "status"]).to_pandas()
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
    return merged[["session_id", "speaker_id", "corpus", "label"]].sort_values(
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


def build_assignment(labelled: pd.DataFrame, config: SplitSettings) -> pd.DataFrame:
    """Every labelled session with its split (or `excluded`, reason `balance`) and CV fold.

    The columns of `labelled` (which must hold every `split.stratify_by` column) are kept beside
    the assignment's; `run_split` writes the assignment's.
    """
    absent = [key for key in config.split.stratify_by if key not in labelled.columns]
    if absent:
        raise SplitError(f"split.stratify_by: the labelled sessions have no column {', '.join(absent)}")
    kept = balance(labelled, config.balance.per_class, config.seed)
    assignment = labelled.assign(
        split=EXCLUDED, reason="balance", fold=pd.array([None] * len(labelled), dtype="Int32")
    )
    assignment.loc[kept, "reason"] = ""
    balanced = labelled.loc[kept]
    table = speaker_table(balanced, config.split.stratify_by)
    ratios, gap = _ratios(config.split.ratios), config.split.max_share_gap
    split_of = dict(zip(table.speakers, assign_speakers(table, ratios, config.seed, gap), strict=True))
    assignment.loc[kept, "split"] = balanced["speaker_id"].map(lambda s: SPLITS[split_of[s]])
    if config.split.folds:
        k = config.split.folds
        if len(table.speakers) < k:
            raise SplitError(
                f"split.folds={k} needs at least {k} speakers, the balanced data has {len(table.speakers)}"
            )
        fold_of = dict(
            zip(table.speakers, assign_speakers(table, [1.0 / k] * k, config.seed + 1, gap), strict=True)
        )
        assignment.loc[kept, "fold"] = balanced["speaker_id"].map(fold_of).astype("Int32")
    return assignment.reset_index(drop=True)


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


def sessions_and_speakers(rows: pd.DataFrame, key: str, values: Sequence[str]) -> tuple[dict[str, int], dict[str, int]]:
    """Sessions and distinct speakers of `rows` per value of column `key` (every value of `values`, 0 when absent)."""
    grouped = rows.groupby(key)
    sessions, speakers = grouped.size(), grouped["speaker_id"].nunique()
    return ({v: int(sessions.get(v, 0)) for v in values}, {v: int(speakers.get(v, 0)) for v in values})


def _values(used: pd.DataFrame, key: str) -> list[str]:
    return list(CLASSES) if key == "label" else sorted(str(v) for v in used[key].unique())


def stratification_warnings(assignment: pd.DataFrame, config: SplitSettings) -> list[str]:
    """One line per stratified value missing from a split, or whose share of a split strays more than
    `split.max_share_gap` from its overall share, with how many speakers it has (why it could not
    be placed better)."""
    used = assignment.loc[assignment["split"] != EXCLUDED]
    gap = config.split.max_share_gap
    warnings = []
    for key in config.split.stratify_by:
        overall_sessions, overall_speakers = sessions_and_speakers(used, key, _values(used, key))
        for value, count in overall_sessions.items():
            if not count:
                continue
            speakers = overall_speakers[value]
            why = (f"its {speakers} speaker{'s' if speakers != 1 else ''} cannot fill {len(SPLITS)} splits"
                   if speakers < len(SPLITS) else f"the search found no better split of its {speakers} speakers")
            overall = count / len(used)
            for split in SPLITS:
                rows = used.loc[used["split"] == split]
                share = float((rows[key] == value).mean()) if len(rows) else 0.0
                if len(rows) and not share:
                    warnings.append(f"{key} {value}: no session in {split} ({why})")
                elif len(rows) and abs(share - overall) > gap + 1e-9:
                    warnings.append(f"{key} {value}: {share:.2f} of {split} against {overall:.2f} overall, "
                                    f"more than {100 * gap:g} points off ({why})")
    return warnings


def _composition(used: pd.DataFrame, key: str, title: str) -> list[str]:
    """The report's table of sessions (speakers) per split and value of `key`, with each value's share."""
    values = _values(used, key)
    lines = [f"## {title} per split: sessions (speakers), share of the split's sessions", "",
             "| split | " + " | ".join(values) + " |", "|---|" + "---|" * len(values)]
    for split in [*SPLITS, "all"]:
        rows = used if split == "all" else used.loc[used["split"] == split]
        sessions, speakers = sessions_and_speakers(rows, key, values)
        cells = [f"{sessions[v]} ({speakers[v]}), {sessions[v] / max(len(rows), 1):.2f}" for v in values]
        lines.append(f"| {split} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def split_report(assignment: pd.DataFrame, config: SplitSettings) -> str:
    """Markdown: achieved ratios against the targets, then sessions and speakers per split by corpus
    and by class, the stratification warnings, folds and each split's speakers."""
    used = assignment.loc[assignment["split"] != EXCLUDED]
    total = max(len(used), 1)
    targets = dict(zip(SPLITS, _ratios(config.split.ratios), strict=True))
    stratified = ", ".join(config.split.stratify_by) or "nothing (session ratios only)"
    lines = [
        "# Balance and speaker-independent split",
        "",
        f"Labelled sessions: {len(assignment)}; kept after balancing: {len(used)}; "
        f"excluded (reason `balance`): {int((assignment['split'] == EXCLUDED).sum())}; "
        f"cap per class: {config.balance.per_class if config.balance.per_class is not None else 'smallest class'}; seed {config.seed}. "
        f"Stratified by {stratified} (largest share gap sought: {100 * config.split.max_share_gap:g} points).",
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
    lines += ["", *_composition(used, "corpus", "Corpora"), *_composition(used, "label", "Classes")]
    warnings = stratification_warnings(assignment, config)
    if warnings:
        lines += ["## Warnings", "", *(f"- **{w}**" for w in warnings), ""]
    if config.split.folds:
        lines += [
            f"## {config.split.folds} cross-validation folds (by speaker)",
            "",
            "| fold | sessions | speakers |",
            "|---|---|---|",
        ]
        for fold, rows in used.groupby("fold"):
            lines.append(f"| {fold} | {len(rows)} | {rows['speaker_id'].nunique()} |")
        lines.append("")
    lines += ["## Speakers per split", ""]
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
    table = pa.Table.from_pandas(assignment[list(ASSIGNMENT_SCHEMA.names)], schema=ASSIGNMENT_SCHEMA, preserve_index=False)
    save_table(table, paths.assignment)
    atomic_write_text(paths.split_report, split_report(assignment, config))
    counts = assignment["split"].value_counts()
    stats: dict[str, float | int | str] = {s: int(counts.get(s, 0)) for s in (*SPLITS, EXCLUDED)}
    message = ", ".join(f"{s} {stats[s]}" for s in (*SPLITS, EXCLUDED))
    warnings = stratification_warnings(assignment, config)
    stats["warnings"] = len(warnings)
    if warnings:
        message += f"; warning: {warnings[0]}" + (f" (+{len(warnings) - 1} more in {paths.split_report})" if len(warnings) > 1 else "")
    return StageOutcome(True, f"split: {message}", (paths.assignment, paths.split_report), stats)


def split_of_sessions(assignment: pd.DataFrame, splits: Iterable[str] = SPLITS) -> pd.DataFrame:
    """The assigned (non-excluded) rows, ordered by split then session id: the dataset's row order."""
    wanted = list(splits)
    rows = assignment.loc[assignment["split"].isin(wanted)].copy()
    rows["_order"] = rows["split"].map({s: i for i, s in enumerate(wanted)})
    return rows.sort_values(["_order", "session_id"], ignore_index=True).drop(columns="_order")
