"""Fault matrix of `edu-data agreement`: every unusable ratings table or export is one line naming the file
(and the task and annotation), exit 2; on a build it measures what the aggregate stage measures and
never writes into the build's own report.

`FAULT_KINDS` counts the kinds covered here (the "Faults tried" table of docs/troubleshooting.md reads it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import Result
from typer.testing import CliRunner

from edu_affect_data.annotation import export
from edu_affect_data.build_state import STATE_VERSION, save_state
from edu_affect_data.cli import app
from edu_affect_data.config import load_config
from edu_affect_data.core.artifacts import ADJUDICATIONS_SCHEMA, BuildPaths
from edu_affect_data.stages.aggregate import run_aggregate
from edu_affect_data.stages.card import agreement_summary

HEADER = "session_id,annotator,label\n"
GOOD = HEADER + "s1,ann1,Bored\ns1,ann2,Bored\ns2,ann1,Curious\ns2,ann2,Confused\n"


def _parquet(path: Path) -> None:
    pd.DataFrame({"session_id": ["s1", "s1"], "annotator": ["a", "b"], "label": ["Bored", "Bored"]}).to_parquet(path)


def _truncated_parquet(path: Path) -> None:
    _parquet(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


#: name -> (file name, writer, words the one-line error must hold besides the file name).
FAULTS: dict[str, tuple[str, Callable[[Path], object], tuple[str, ...]]] = {
    "empty CSV": ("votes.csv", lambda p: p.write_text(""), ("empty",)),
    "header-only CSV": ("votes.csv", lambda p: p.write_text(HEADER), ("no ratings",)),
    "corrupt Parquet": ("votes.parquet", lambda p: p.write_bytes(b"PAR1 not really parquet"), ("not a readable Parquet",)),
    "truncated Parquet": ("votes.parquet", _truncated_parquet, ("not a readable Parquet",)),
    "unknown column": ("votes.csv", lambda p: p.write_text("session,annotator,label\ns1,a,Bored\n"), ("missing column", "'session_id'")),
    "unknown label": ("votes.csv", lambda p: p.write_text(HEADER + "s1,a,Sleepy\n"), ("unknown label", "'Sleepy'", "row 2")),
    "empty cell": ("votes.csv", lambda p: p.write_text(HEADER + "s1,,Bored\n"), ("column 'annotator'", "empty value")),
    "repeated vote": ("votes.csv", lambda p: p.write_text(HEADER + "s1,a,Bored\ns1,a,Curious\n"), ("voted twice",)),
    "not UTF-8": ("votes.csv", lambda p: p.write_bytes(HEADER.encode() + b"s1,a,B\xffored\n"), ("not UTF-8", "byte offset")),
    "malformed CSV": ("votes.csv", lambda p: p.write_text(HEADER + 's1,a,"Bored\n'), ("not a readable CSV",)),
    "wrong suffix": ("votes.xlsx", lambda p: p.write_text(GOOD), ("expected a .csv",)),
    "missing file": ("absent.csv", lambda p: None, ("no such file",)),
}
FAULT_KINDS = len(FAULTS)


def one_error_line(result: Result) -> str:
    """The single `error:` line of a refused command (and no traceback anywhere)."""
    assert "Traceback" not in result.output, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_an_unusable_table_is_one_line_naming_the_file(fault: str, tmp_path: Path) -> None:
    name, write, words = FAULTS[fault]
    table = tmp_path / name
    write(table)
    # --classes: without it any label is a class (a label outside them is then the "unknown label" fault)
    classes = "Confused,Curious,Bored,Frustrated"
    result = CliRunner().invoke(app, ["agreement", "--annotations", str(table), "--n-boot", "0", "--classes", classes])
    assert result.exit_code == 2, result.output
    line = one_error_line(result)
    assert str(table) in line
    for word in words:
        assert word in line, (word, line)
    assert not (tmp_path / "agreement").exists()  # nothing half-written


def test_a_good_table_still_works_and_debug_shows_the_traceback(tmp_path: Path) -> None:
    good = tmp_path / "votes.csv"
    good.write_text(GOOD)
    ok = CliRunner().invoke(app, ["agreement", "--annotations", str(good), "--n-boot", "0", "--format", "json"])
    assert ok.exit_code == 0, ok.output
    assert '"n_sessions": 2' in ok.output
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    debug = CliRunner().invoke(app, ["--debug", "agreement", "--annotations", str(empty)])
    assert debug.exit_code == 2
    assert "Traceback (most recent call last)" in debug.output and "VotesTableError" in debug.output
    assert f"error: {empty}: the file is empty" in debug.output


def test_the_library_refuses_an_empty_table_by_name() -> None:
    from edu_affect_data.annotation.agreement import compute_agreement
    from edu_affect_data.annotation.estimators import VotesTableError

    with pytest.raises(VotesTableError, match="annotations: no ratings"):
        compute_agreement(pd.DataFrame({"session_id": [], "annotator": [], "label": []}))


# ------------------------------------------------------------------ issue 20: case 8, case 9, exports
def test_a_gold_file_matching_no_rated_session_is_one_line_exit_2(tmp_path: Path) -> None:
    votes = tmp_path / "votes.csv"
    votes.write_text(GOOD)
    gold = tmp_path / "gold.csv"
    gold.write_text("session_id,label\nother-1,Bored\nother-2,Curious\n")
    result = CliRunner().invoke(app, ["agreement", "--annotations", str(votes), "--gold", str(gold), "--n-boot", "0"])
    assert result.exit_code == 2, result.output
    line = one_error_line(result)
    assert str(gold) in line and "none of its 2 gold sessions is among the 2 rated sessions" in line
    assert not list(tmp_path.glob("agreement*"))


def adaptive_campaign(seed: int = 3, sessions: int = 60) -> pd.DataFrame:
    """Votes of an adaptive-overlap campaign (initial 2, max 3): a third vote only where the first two differ."""
    rng = np.random.default_rng(seed)
    classes = ["Confused", "Curious", "Bored", "Frustrated"]
    rows, next_id = [], 1
    for s in range(sessions):
        truth = classes[s % 4]
        people = rng.permutation([f"ann{k}" for k in range(1, 6)])
        votes = [truth if rng.random() < 0.7 else classes[int(rng.integers(4))] for _ in range(3)]
        needed = 2 if votes[0] == votes[1] else 3
        for person, label in zip(people[:needed], votes[:needed], strict=False):
            rows.append({"session_id": f"s{s:03d}", "task_id": s + 1, "annotator": person, "label": label,
                         "lead_time": 5.0, "created_at": None, "updated_at": None, "annotation_id": next_id})  # fmt: skip
            next_id += 1
    return pd.DataFrame(rows)


@pytest.fixture
def adaptive_build(tmp_path: Path) -> BuildPaths:
    """A build folder after pull and aggregate of an adaptive-overlap campaign (no server needed)."""
    paths = BuildPaths(tmp_path / "out")
    paths.annotation_dir.mkdir(parents=True)
    config = load_config(None, {"annotation.overlap": {"initial": 2, "max": 3}})
    table = export.annotations_table(adaptive_campaign(), first_ratings=config.annotation.overlap.first_ratings)
    pq.write_table(table, paths.annotations)
    pq.write_table(ADJUDICATIONS_SCHEMA.empty_table(), paths.adjudications)
    save_state(paths.build_state, {"version": STATE_VERSION, "stages": {}})
    assert run_aggregate(config, paths).complete
    return paths


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_agreement_on_a_build_applies_its_first_ratings_rule_and_never_touches_its_report(
    adaptive_build: BuildPaths,
) -> None:
    """Issue 20, case 9: `edu-data agreement --out OUT` gave Fleiss 0.993 (every rating) and overwrote
    OUT/annotation/agreement/, which a later publish put into the dataset card."""
    paths = adaptive_build
    before = _snapshot(paths.agreement_dir)
    built = json.loads(before["agreement.json"])
    argv = ["agreement", "--out", str(paths.out), "--n-boot", "20", "--format", "json"]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    assert "only each session's first 2 ratings count: the build's first-ratings rule" in result.stderr
    mine = json.loads(result.stdout)
    for key in ("fleiss_kappa", "cohen_kappa_mean", "krippendorff_alpha"):
        assert mine[key]["estimate"] == pytest.approx(built[key]["estimate"]), key
    assert _snapshot(paths.agreement_dir) == before  # the aggregate stage's report, untouched
    assert (paths.out / "agreement" / "agreement.json").is_file()
    everything = CliRunner().invoke(app, [*argv, "--all-ratings"])
    assert everything.exit_code == 0, everything.output
    biased = json.loads(everything.stdout)
    assert biased["fleiss_kappa"]["estimate"] > built["fleiss_kappa"]["estimate"] + 0.2  # why the rule exists
    assert (paths.out / "agreement-2" / "agreement.json").is_file()  # a new folder, the first one kept
    refused = CliRunner().invoke(app, [*argv, "--report-dir", str(paths.agreement_dir)])
    assert refused.exit_code == 2, refused.output
    assert f"--report-dir {paths.agreement_dir} is the build" in one_error_line(refused)
    assert _snapshot(paths.agreement_dir) == before


def test_the_card_reads_agreement_from_the_aggregate_stage_only(adaptive_build: BuildPaths) -> None:
    summary = agreement_summary(adaptive_build)
    assert summary is not None
    built = json.loads((adaptive_build.agreement_dir / "agreement.json").read_text())
    assert summary["fleiss_kappa"]["estimate"] == pytest.approx(built["fleiss_kappa"]["estimate"])
    result = CliRunner().invoke(app, ["agreement", "--out", str(adaptive_build.out), "--n-boot", "0", "--all-ratings"])
    assert result.exit_code == 0, result.output
    assert agreement_summary(adaptive_build) == summary


def _task(tid: object = 1, **fields: object) -> dict[str, object]:
    good = {"id": 10, "completed_by": 7, "result": [
        {"from_name": "affect", "to_name": "video", "type": "choices", "value": {"choices": ["Bored"]}}]}  # fmt: skip
    return {"id": tid, "data": {"session_id": "s1"}, "annotations": [good], **fields}


#: name -> (the export's tasks, words the one-line error must hold besides the file name)
EXPORT_FAULTS: dict[str, tuple[list[object], tuple[str, ...]]] = {
    "task id not an integer": ([_task("abc")], ("task at position 0: id is a string ('abc'), expected an integer",)),
    "task id null": ([_task(None)], ("task at position 0: id is null, expected an integer",)),
    "annotation without id": (
        [_task(annotations=[{"completed_by": 7, "result": []}])],
        ("task 1, annotation at position 0: id is null, expected an integer",),
    ),
    "completed_by a string": (
        [_task(annotations=[{"id": 10, "completed_by": "bob", "result": []}])],
        ("task 1, annotation 10: completed_by is a string ('bob')",),
    ),
    "annotations an object": ([_task(annotations={"id": 10})], ("task 1: annotations is an object, expected a list",)),
    "data a list": ([_task(data=["s1"])], ("task 1: data is a list, expected an object",)),
    "task id twice": ([_task(1), _task(1)], ("task 1 appears twice (positions 0 and 1)",)),
}
FAULT_KINDS += len(EXPORT_FAULTS) + 2  # + a gold file of another campaign, agreement on a build (case 9)


@pytest.mark.parametrize("fault", sorted(EXPORT_FAULTS))
def test_a_malformed_label_studio_export_is_one_line_naming_file_and_task(fault: str, tmp_path: Path) -> None:
    tasks, words = EXPORT_FAULTS[fault]
    path = tmp_path / "project-1.json"
    path.write_text(json.dumps(tasks))
    result = CliRunner().invoke(app, ["agreement", "--annotations", str(path), "--n-boot", "0"])
    assert result.exit_code == 2, result.output
    line = one_error_line(result)
    assert str(path) in line
    for word in words:
        assert word in line, (word, line)
