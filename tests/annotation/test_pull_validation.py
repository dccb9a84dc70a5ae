"""Pull without a server: snapshots are immutable, invalid votes are excluded with reasons, pseudonyms stay."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from edu_affect_data.annotation.export import (
    FIRST_RATINGS_KEY,
    ExportFormatError,
    annotations_table,
    parse_export,
    read_votes,
    write_excluded,
    write_snapshot,
)
from edu_affect_data.annotation.pseudonyms import PseudonymFileError, Pseudonyms
from edu_affect_data.core.artifacts import ANNOTATIONS_SCHEMA
from edu_affect_data.core.vocabulary import ANSWERS

EMAILS = {7: "kim@uni.example", 8: "lee@uni.example", 9: "max@uni.example"}


def annotation(aid: int, user: int, choices: list[str] | None, *, cancelled: bool = False) -> dict[str, Any]:
    result = [] if choices is None else [
        {"from_name": "affect", "to_name": "video", "type": "choices", "value": {"choices": choices}},
        {"from_name": "confidence", "to_name": "video", "type": "choices", "value": {"choices": ["High"]}},
    ]
    return {"id": aid, "completed_by": user, "result": result, "was_cancelled": cancelled, "lead_time": 12.5,
            "created_at": f"2026-01-01T00:00:{aid:02d}Z", "updated_at": f"2026-01-01T00:00:{aid:02d}Z"}


def export() -> list[dict[str, Any]]:
    return [
        {"id": 2, "data": {"session_id": "s2"}, "annotations": [
            annotation(4, 9, ["Sleepy"]),
            annotation(5, 7, None),
            annotation(6, 8, [], cancelled=True),
            annotation(7, 7, ["Bored", "Curious"]),
        ]},
        {"id": 1, "data": {"session_id": "s1"}, "annotations": [
            annotation(3, 8, ["Curious"]),
            annotation(1, 7, ["Bored"]),
            annotation(2, 7, ["Frustrated"]),
            annotation(8, 42, ["Cannot tell"]),
        ]},
        {"id": 3, "data": {"other": "x"}, "annotations": [annotation(9, 7, ["Bored"])]},
    ]


def test_every_invalid_annotation_is_excluded_with_its_reason(tmp_path: Path) -> None:
    tasks = parse_export(json.dumps(export()).encode(), "snapshot.json")
    votes = read_votes(tasks, emails=EMAILS, pseudonyms=Pseudonyms(tmp_path / "p.csv"), labels=ANSWERS, project="annotation")
    valid = votes.valid
    assert valid[["session_id", "annotator", "label", "annotation_id"]].values.tolist() == [
        ["s1", "ann01", "Bored", 1],
        ["s1", "ann02", "Curious", 3],
        ["s1", "ann03", "Cannot tell", 8],
    ]
    reasons = dict(zip(votes.excluded["annotation_id"], votes.excluded["reason"], strict=True))
    assert reasons[2].startswith("duplicate: ann01 already voted on this task (annotation 1)")
    assert reasons[4].startswith("unknown label 'Sleepy'")
    assert reasons[5].startswith("empty result")
    assert reasons[6].startswith("cancelled")
    assert reasons[7].startswith("more than one 'affect' choice")
    assert reasons[9] == "task has no session_id in its data"
    assert [(t.session_id, t.valid_votes, t.submitted) for t in votes.tasks] == [("s1", 3, 4), ("s2", 0, 3)]
    table = annotations_table(valid, first_ratings=2)
    assert table.schema.equals(ANNOTATIONS_SCHEMA)
    assert table.schema.metadata[FIRST_RATINGS_KEY] == b"2"
    assert not any("@" in str(v) for v in table.to_pandas().to_numpy().ravel())


def test_pseudonyms_follow_first_appearance_and_persist_privately(tmp_path: Path) -> None:
    path = tmp_path / "private" / "annotators.csv"
    names = Pseudonyms(path)
    tasks = parse_export(json.dumps(export()).encode(), "snapshot.json")
    read_votes(tasks, emails=EMAILS, pseudonyms=names, labels=ANSWERS, project="annotation")
    names.save()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (path.parent / ".gitignore").read_text() == "*\n"
    again = Pseudonyms(path)
    assert again.assign(["new@uni.example", "kim@uni.example"])["new@uni.example"] == "ann05"
    assert again.get("kim@uni.example") == "ann01" and again.get("user-id:42") == "ann03"
    path.write_text("pseudonym,email\nann01,a@x\nann01,b@x\n")
    with pytest.raises(PseudonymFileError, match=r"annotators.csv:3"):
        Pseudonyms(path)


def test_snapshots_are_never_overwritten(tmp_path: Path) -> None:
    first = write_snapshot(b"[]", tmp_path, "annotation", 3)
    second = write_snapshot(b"[1]", tmp_path, "annotation", 3)
    assert first != second and first.read_bytes() == b"[]"
    assert not os.access(first, os.W_OK) or os.geteuid() == 0
    assert stat.S_IMODE(first.stat().st_mode) == 0o444


def test_a_broken_export_names_the_snapshot() -> None:
    with pytest.raises(ExportFormatError, match=r"snap\.json: not JSON"):
        parse_export(b'[{"id": 1', "snap.json")
    with pytest.raises(ExportFormatError, match="list of tasks"):
        parse_export(b'{"id": 1}', "snap.json")


def test_excluded_csv_keeps_the_other_projects_rows(tmp_path: Path) -> None:
    path = tmp_path / "excluded.csv"
    row = {"session_id": "s1", "task_id": 1, "annotation_id": 2, "annotator": "ann01", "reason": "cancelled"}
    write_excluded(pd.DataFrame([{"project": "annotation", **row}]), path, "annotation")
    write_excluded(pd.DataFrame([{"project": "adjudication", **row, "annotation_id": 5}]), path, "adjudication")
    write_excluded(pd.DataFrame([{"project": "annotation", **row, "annotation_id": 3}]), path, "annotation")
    table = pd.read_csv(path)
    assert sorted(zip(table["project"], table["annotation_id"], strict=True)) == [("adjudication", 5), ("annotation", 3)]
