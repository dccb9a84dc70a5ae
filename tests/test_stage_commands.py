"""`edu-data split|features|publish` run one stage through the build: state, skipping, exit statuses."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import edu_affect_data.build as build_module
from edu_affect_data.build import EXIT_WAITING, StageSpec
from edu_affect_data.build_state import load_state
from edu_affect_data.cli import app
from edu_affect_data.core.artifacts import BuildPaths
from tests.features.fake_build import write_tables
from tests.helpers.build_state import plant_state
from tests.test_splits import labelled_table


def _upstream(out: Path, labels: dict[str, str] | None = None) -> BuildPaths:
    """Ingest and aggregate outputs, recorded complete in build_state.json as a build would leave them."""
    paths = BuildPaths(out)
    labelled = labelled_table([5] * 12, seed=0)
    sessions = [
        {"session_id": r.session_id, "speaker_id": r.speaker_id, "status": "kept", "corpus": "iemocap"}
        for r in labelled.itertuples()
    ]
    write_tables(paths, sessions, labels or dict(zip(labelled["session_id"], labelled["label"], strict=True)))
    plant_state(paths, {"ingest": ["manifest/sessions.parquet"], "aggregate": ["annotation/labels.parquet"]}, "recorded")
    return paths


@pytest.fixture()
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text("name: demo\nsplit:\n  folds: 3\n")
    return path


def test_split_records_its_state_skips_when_unchanged_and_force_reruns(tmp_path: Path, config_file: Path) -> None:
    paths = _upstream(tmp_path / "out")
    runner = CliRunner()
    result = runner.invoke(app, ["split", str(config_file), "--out", str(paths.out)])
    assert result.exit_code == 0, result.output
    assert "build complete up to split" in result.output
    record = load_state(paths.build_state)["stages"]["split"]
    assert record["complete"] and record["outputs"] == ["splits/assignment.parquet", "splits/report.md"]
    assert sorted(pq.read_table(paths.assignment).to_pandas()["fold"].dropna().unique()) == [0, 1, 2]

    # Unchanged inputs and intact outputs: skipped.
    assert runner.invoke(app, ["split", str(config_file), "--out", str(paths.out)]).exit_code == 0
    assert load_state(paths.build_state)["stages"]["split"] == record
    # A damaged Parquet output is not what the stage wrote: rerun, not skipped.
    paths.assignment.write_bytes(b"damaged")
    rerun = runner.invoke(app, ["split", str(config_file), "--out", str(paths.out)])
    assert rerun.exit_code == 0, rerun.output
    assert "split running" in " ".join(rerun.output.split()) and "skipped" not in rerun.output
    assert pq.read_table(paths.assignment).num_rows == 60
    # --force reruns it; so does a change of a declared key.
    assert runner.invoke(app, ["split", str(config_file), "--out", str(paths.out), "--force"]).exit_code == 0
    assert pq.read_table(paths.assignment).num_rows == 60
    before = load_state(paths.build_state)["stages"]["split"]["input_hash"]
    result = runner.invoke(app, ["split", str(config_file), "--out", str(paths.out), "--set", "seed=4"])
    assert result.exit_code == 0, result.output
    assert load_state(paths.build_state)["stages"]["split"]["input_hash"] != before


def test_split_exits_like_build_on_bad_flags_missing_upstream_and_failure(tmp_path: Path, config_file: Path) -> None:
    runner = CliRunner()
    fresh = tmp_path / "fresh"
    result = runner.invoke(app, ["split", str(config_file), "--out", str(fresh)])
    assert result.exit_code == 2
    assert "needs the outputs of ingest" in result.output
    paths = _upstream(tmp_path / "out")
    result = runner.invoke(app, ["split", str(config_file), "--out", str(paths.out), "--set", "split.ratios.train=2"])
    assert result.exit_code == 2
    assert "split.ratios" in result.output
    # A stage that raises is a failed stage: exit 1, recorded nowhere.
    failing = _upstream(tmp_path / "failing", labels={"s000_000": "Happy"})
    result = runner.invoke(app, ["split", str(config_file), "--out", str(failing.out)])
    assert result.exit_code == 1
    assert "'Happy'" in result.output and "Traceback" not in result.output  # one line (cli.errors)
    assert "split" not in json.loads(failing.build_state.read_text())["stages"]


WAITER = """
from edu_affect_data.core.stage import StageOutcome


def waiter(config, paths, *, executor=None):
    return StageOutcome(False, f"{config.name}: waiting for annotations: 1/3 sessions complete")
"""


def test_publish_waiting_for_people_exits_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = f"waiting_stage_{os.getpid()}_{tmp_path.name}"
    (tmp_path / f"{module}.py").write_text(WAITER)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, module, raising=False)
    monkeypatch.setattr(build_module, "STAGES", (StageSpec("publish", f"{module}:waiter", ("name",)),))
    config_file = tmp_path / "pipeline.yaml"
    config_file.write_text("name: demo\n")
    result = CliRunner().invoke(app, ["publish", str(config_file), "--out", str(tmp_path / "out")])
    assert result.exit_code == EXIT_WAITING, result.output
    assert "publish: demo: waiting for annotations: 1/3 sessions complete; rerun this command to resume" in result.output
