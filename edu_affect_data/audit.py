"""What happened to each candidate session, read from the build's artifacts: `edu-data why` and `sessions`.

A session's fate is spread over the stages' tables: the manifest (status, reason, gaps), the pulled
votes and the reviewer's decisions, the labels, the split assignment, the features index and the
published shards. This module reads them (never a server, never the corpora) and puts one
session's story in one place, with gap times both in recording seconds (as the manifest stores
them) and in seconds from the session's start (as the dataset's times are). A table a stage has
not written yet is reported as not reached, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edu_affect_data.core.artifacts import BuildPaths
from edu_affect_data.core.parquet import read_table
from edu_affect_data.core.vocabulary import MODALITIES

#: Columns of `session_table`, in order.
SESSION_COLUMNS = ("session_id", "corpus", "speaker_id", "source_id", "start_s", "end_s", "status", "reason", "label", "split")


class AuditError(ValueError):
    """The build folder has no manifest, or the session is not a candidate of it."""


@dataclass(frozen=True)
class GapNote:
    """The longest stretch without usable signal in one modality (the one the gap filter judged)."""

    modality: str
    duration_s: float
    #: Where it starts, in seconds of the recording (the manifest's clock).
    recording_s: float
    #: Where it starts, in seconds from the session's start (the dataset's clock).
    session_s: float


@dataclass(frozen=True)
class SessionFate:
    """One candidate session across the stages; None where a stage has not decided (or not run)."""

    session_id: str
    corpus: str
    source_id: str
    speaker_id: str
    start_s: float
    end_s: float
    units: int
    status: str
    reason: str
    gaps: tuple[GapNote, ...]
    #: (annotator pseudonym, answer) of every valid pulled vote; None: no votes pulled in this build.
    votes: tuple[tuple[str, str], ...] | None
    #: (reviewer pseudonym, label) when the senior reviewer decided the session.
    adjudication: tuple[str, str] | None
    label: str | None
    label_method: str | None
    agreement: float | None
    #: train | validation | test | excluded; None: not labelled, or the split stage has not run.
    split: str | None
    split_reason: str | None
    #: Extractors whose parts the features index lists for the session.
    features: tuple[str, ...] = ()
    #: The published split holding the session's row, None when it is not in `dataset/`.
    published: str | None = None
    #: Which tables were there to read (stage artifact -> present).
    read: dict[str, bool] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def _table(path: Path, columns: Iterable[str] | None = None) -> list[dict[str, Any]] | None:
    """The rows of a stage's table, or None when that stage has not written it."""
    if not path.is_file():
        return None
    return read_table(path, list(columns) if columns is not None else None).to_pylist()


def _sessions(paths: BuildPaths) -> list[dict[str, Any]]:
    rows = _table(paths.sessions)
    if rows is None:
        raise AuditError(f"{paths.sessions}: no manifest (is {paths.out} a build folder? run `edu-data build` first)")
    return rows


def _by_session(rows: list[dict[str, Any]] | None) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows or []:
        grouped.setdefault(str(row["session_id"]), []).append(row)
    return grouped


def _published(paths: BuildPaths) -> dict[str, str] | None:
    """session id -> split of the published shards; None when there is no dataset."""
    shards = sorted((paths.dataset / "data").glob("*.parquet"))
    if not shards:
        return None
    where: dict[str, str] = {}
    for shard in shards:
        split = shard.name.split("-")[0]
        for session_id in read_table(shard, ["session_id"]).column("session_id").to_pylist():
            where[str(session_id)] = split
    return where


def _gaps(row: dict[str, Any]) -> tuple[GapNote, ...]:
    notes = []
    for modality in MODALITIES:
        duration, start = row.get(f"gap_{modality}_s"), row.get(f"gap_{modality}_start_s")
        if duration and start is not None:
            notes.append(GapNote(modality, float(duration), float(start), float(start) - float(row["start_s"])))
    return tuple(notes)


def explain(paths: BuildPaths, session_id: str) -> SessionFate:
    """The fate of `session_id` across every artifact the build has written so far."""
    rows = {str(r["session_id"]): r for r in _sessions(paths)}
    row = rows.get(session_id)
    if row is None:
        near = sorted(s for s in rows if session_id.lower() in s.lower())[:5]
        hint = f"; did you mean {', '.join(near)}?" if near else f"; `edu-data sessions --out {paths.out}` lists them"
        raise AuditError(f"session {session_id!r} is not a candidate of {paths.sessions}{hint}")
    annotations = _table(paths.annotations, ("session_id", "annotator", "label"))
    adjudications = _by_session(_table(paths.adjudications, ("session_id", "reviewer", "label")))
    labels = _by_session(_table(paths.labels))
    assignment = _by_session(_table(paths.assignment))
    index = _by_session(_table(paths.features_index, ("session_id", "parts")))
    published = _published(paths)
    votes = None
    if annotations is not None:
        votes = tuple((str(a["annotator"]), str(a["label"])) for a in _by_session(annotations).get(session_id, []))
    decided = adjudications.get(session_id)
    label = labels.get(session_id, [None])[0]
    assigned = assignment.get(session_id, [None])[0]
    parts = index.get(session_id, [{"parts": []}])[0]["parts"]
    return SessionFate(
        session_id=session_id,
        corpus=str(row["corpus"]),
        source_id=str(row["source_id"]),
        speaker_id=str(row["speaker_id"]),
        start_s=float(row["start_s"]),
        end_s=float(row["end_s"]),
        units=len(row.get("utterance_ids") or []),
        status=str(row["status"]),
        reason=str(row["reason"]),
        gaps=_gaps(row),
        votes=votes,
        adjudication=(str(decided[0]["reviewer"]), str(decided[0]["label"])) if decided else None,
        label=None if label is None else str(label["label"]),
        label_method=None if label is None else str(label["method"]),
        agreement=None if label is None or label["agreement"] is None else float(label["agreement"]),
        split=None if assigned is None else str(assigned["split"]),
        split_reason=None if assigned is None else str(assigned["reason"]),
        features=tuple(str(p["extractor"]) for p in parts),
        published=None if published is None else published.get(session_id),
        read={
            "annotations": annotations is not None,
            "labels": paths.labels.is_file(),
            "assignment": paths.assignment.is_file(),
            "features": paths.features_index.is_file(),
            "dataset": published is not None,
        },
    )


def session_table(paths: BuildPaths) -> list[dict[str, Any]]:
    """One row per candidate session (`SESSION_COLUMNS`): status and reason, label and split where decided."""
    labels = {str(r["session_id"]): r["label"] for r in _table(paths.labels, ("session_id", "label")) or []}
    splits = {str(r["session_id"]): r["split"] for r in _table(paths.assignment, ("session_id", "split")) or []}
    return [
        {
            **{key: row[key] for key in SESSION_COLUMNS[:8]},
            "label": labels.get(str(row["session_id"])),
            "split": splits.get(str(row["session_id"])),
        }
        for row in _sessions(paths)
    ]


def describe(fate: SessionFate) -> list[str]:
    """The fate as lines a person reads top to bottom, one stage a line."""
    def seconds(value: float) -> str:
        return f"{value:.2f} s"

    lines = [
        f"session {fate.session_id}: {fate.corpus}, recording {fate.source_id}, speaker {fate.speaker_id}",
        f"  window     {fate.start_s:.2f}-{fate.end_s:.2f} s of the recording ({seconds(fate.duration_s)}, "
        f"{fate.units} unit{'s' if fate.units != 1 else ''})",
    ]
    verdict = fate.status if fate.status == "kept" else f"{fate.status}: {fate.reason}"
    lines.append(f"  ingest     {verdict}")
    for gap in fate.gaps:
        lines.append(
            f"             longest {gap.modality} gap {seconds(gap.duration_s)} from {gap.recording_s:.2f} s of the "
            f"recording ({gap.session_s:.2f} s into the session)"
        )
    if fate.status != "kept":
        lines.append("             not kept: never annotated, labelled, split or published")
        return lines
    if fate.votes is None:
        lines.append("  votes      none pulled yet (annotation/annotations.parquet is not there)")
    else:
        shown = ", ".join(f"{answer} ({who})" for who, answer in fate.votes) or "none"
        lines.append(f"  votes      {len(fate.votes)}: {shown}")
    if fate.adjudication is not None:
        lines.append(f"  reviewer   {fate.adjudication[1]} ({fate.adjudication[0]})")
    if fate.label is not None:
        agreement = "" if fate.agreement is None else f", agreement {fate.agreement:.2f}"
        lines.append(f"  label      {fate.label} (by {fate.label_method}{agreement})")
    elif fate.read.get("labels"):
        lines.append("  label      none: unresolved (no majority and no reviewer decision yet)")
    else:
        lines.append("  label      not decided yet (annotation/labels.parquet is not there)")
    if fate.split is not None:
        why = f" (reason: {fate.split_reason})" if fate.split_reason else ""
        lines.append(f"  split      {fate.split}{why}")
    elif fate.read.get("assignment") and fate.label is not None:
        lines.append("  split      not assigned")
    elif not fate.read.get("assignment"):
        lines.append("  split      not run yet")
    if fate.read.get("features"):
        lines.append(f"  features   {', '.join(fate.features) or 'none'}")
    if fate.read.get("dataset"):
        lines.append(f"  dataset    {f'published in {fate.published}' if fate.published else 'not published'}")
    return lines
