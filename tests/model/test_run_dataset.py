"""Runs are self-contained: a run finds its dataset from any folder (`run_dataset`), `--data` overrides it,
and the report says on stderr which claims it could not evaluate and why."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from edu_emotionnet.claims import NOT_EVALUATED, PASS, evaluate_claims
from edu_emotionnet.evaluate import RESULTS
from edu_emotionnet.run_dataset import RUN_DATASET, DatasetNotFound, locate_dataset, record_dataset
from edu_emotionnet.runs import collect_runs
from edu_emotionnet.significance import compare_all
from typer.testing import CliRunner

from edu_affect_data.cli import app
from tests.model.test_claims import world

CLAIM_A = "(a) MIE weight lower during planted noise"
POOLED = f"{CLAIM_A}, all modalities pooled"


def _dataset(folder: Path, digest: str = "0123456789abcdef") -> Path:
    (folder / "data").mkdir(parents=True)
    (folder / "data" / f"test-00000-of-00001-{digest}.parquet").write_bytes(b"")
    return folder


def test_a_run_and_its_dataset_moved_together_find_each_other_from_any_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "project"
    _dataset(root / "out" / "dataset")
    run = root / "out" / "runs" / "full" / "seed0"
    run.mkdir(parents=True)
    monkeypatch.chdir(root)
    record_dataset(Path("out/runs/full/seed0"), Path("out/dataset"))  # as `train` does, with the paths it was given
    record = json.loads((run / RUN_DATASET).read_text())
    assert record == {"relative_to_run": "../../../dataset", "shards": ["test-00000-of-00001-0123456789abcdef.parquet"]}
    assert str(tmp_path) not in (run / RUN_DATASET).read_text()  # no absolute path in an artifact

    shutil.move(root, tmp_path / "moved")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    found = locate_dataset(tmp_path / "moved" / "out" / "runs" / "full" / "seed0", "out/dataset")
    assert found.path == (tmp_path / "moved" / "out" / "dataset").resolve()
    assert found.found_by == "recorded beside the run" and found.warning == ""


def test_data_overrides_and_what_is_tried_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dataset = _dataset(tmp_path / "dataset")
    run = tmp_path / "runs" / "old"
    run.mkdir(parents=True)
    missing = tmp_path / "no_such_dataset"
    with pytest.raises(DatasetNotFound, match=rf"^{missing}: no such dataset folder \(--data\)$"):
        locate_dataset(run, "dataset", missing)
    assert locate_dataset(run, "nowhere", dataset).found_by == "--data"
    # A run trained before the record existed: its config's relative path, from the current folder only.
    monkeypatch.chdir(tmp_path)
    assert locate_dataset(run, "dataset").path == dataset.resolve()
    monkeypatch.chdir(run)
    with pytest.raises(DatasetNotFound, match=r"its dataset is not found \(tried dataset \(the config's data, from the current folder\)\); pass --data DATASET"):
        locate_dataset(run, "dataset")
    with pytest.raises(DatasetNotFound, match=r"the run names no dataset"):
        locate_dataset(run, None)
    # A recorded path that is gone is named, and the config's path is tried next.
    record_dataset(run, tmp_path / "elsewhere")
    with pytest.raises(DatasetNotFound, match=rf"tried {tmp_path / 'elsewhere'} \(recorded in {run / RUN_DATASET}\)"):
        locate_dataset(run, "dataset")
    assert locate_dataset(run, dataset).found_by == "the config's data"


def test_a_rebuilt_dataset_is_used_with_a_warning(tmp_path: Path) -> None:
    dataset = _dataset(tmp_path / "dataset")
    run = tmp_path / "runs" / "full"
    run.mkdir(parents=True)
    record_dataset(run, dataset)
    next(dataset.glob("data/*.parquet")).rename(dataset / "data" / "test-00000-of-00001-fedcba9876543210.parquet")
    found = locate_dataset(run, None)
    assert found.path == dataset.resolve()
    assert found.warning == (f"{dataset.resolve()}: not the dataset {run} was trained on (its shards differ from those recorded in "
                             f"{run / RUN_DATASET}: rebuilt or replaced since)")


def _trained_from(root: Path, runs: Path, dataset: Path) -> None:
    """Make fabricated runs look as `train` run in `root` with `data: dataset` (relative) leaves them."""
    for results in runs.rglob(RESULTS):
        document = json.loads(results.read_text())
        document["config"]["data"] = str(dataset.relative_to(root))
        results.write_text(json.dumps(document, indent=2))
        record_dataset(results.parent, dataset)


def _claims(runs: Path, truth: Path, data: Path | None = None) -> dict[str, object]:
    groups = collect_runs([runs])
    return {line.claim: line for line in evaluate_claims(groups, compare_all(groups, 200), truth, data, resamples=200)}


def test_claim_a_is_evaluated_from_any_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "demo"
    runs, truth, dataset = world(root, good=True, seeds=(0,))
    _trained_from(root, runs, dataset)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert _claims(runs, truth)[POOLED].verdict == PASS  # type: ignore[attr-defined]
    # The same runs without the record (trained before it existed): not found from here, and the line says why.
    for record in runs.rglob(RUN_DATASET):
        record.unlink()
    line = _claims(runs, truth)[CLAIM_A]
    assert line.verdict == NOT_EVALUATED  # type: ignore[attr-defined]
    assert "its dataset is not found (tried dataset (the config's data, from the current folder)); pass --data" in line.note  # type: ignore[attr-defined]
    assert _claims(runs, truth, dataset)[POOLED].verdict == PASS  # type: ignore[attr-defined]


@pytest.mark.slow
def test_report_from_another_folder_is_the_same_and_names_what_is_not_evaluated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "demo"
    runs, truth, dataset = world(root, good=True, seeds=(0,))
    _trained_from(root, runs, dataset)
    monkeypatch.chdir(root)
    here = CliRunner().invoke(app, ["report", "runs", "--out", str(tmp_path / "here"), "--truth", str(truth)])
    assert here.exit_code == 0, here.output
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    there = CliRunner().invoke(app, ["report", str(runs), "--out", str(tmp_path / "there"), "--truth", str(truth)])
    assert there.exit_code == 0, there.output
    report = (tmp_path / "there" / "report.md").read_text()
    assert report == (tmp_path / "here" / "report.md").read_text()
    assert f"| {POOLED} |" in report and "not found" not in report
    claim_lines = [line for line in there.stderr.splitlines() if line.startswith("warning: claim ")]
    assert all(": not evaluated: " in line for line in claim_lines) and not any(CLAIM_A in line for line in claim_lines)
    # Without --truth claim (a) cannot be evaluated: stderr says so in one line, with why.
    quiet = CliRunner().invoke(app, ["report", str(runs), "--out", str(tmp_path / "quiet")])
    assert quiet.exit_code == 0, quiet.output
    assert f"warning: claim {CLAIM_A}: not evaluated: no truth file given (--truth synth_truth.json)" in quiet.stderr.splitlines()
    assert "warning:" not in quiet.stdout
    missing = CliRunner().invoke(app, ["report", str(runs), "--out", str(tmp_path / "x"), "--data", str(tmp_path / "gone")])
    assert missing.exit_code == 2 and f"{tmp_path / 'gone'}: no such dataset folder (--data)" in missing.stderr
