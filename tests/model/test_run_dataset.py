"""Runs are self-contained: a run finds its dataset from any folder (`run_dataset`), `--data` overrides it,
and the report says on stderr which claims it could not evaluate and why."""

from __future__ import annotations

import csv
import io
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
from edu_affect_data.core.vocabulary import CLASSES
from tests.model.test_claims import world

CONFIGS = Path(__file__).resolve().parents[2] / "model" / "configs"

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


@pytest.mark.slow
def test_evaluate_and_predict_work_from_another_folder_without_data(
    planted_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run trained with a relative `data` (as the demo does), then used from elsewhere with no --data."""
    root = tmp_path / "project"
    shutil.copytree(planted_dir, root / "out" / "dataset")
    monkeypatch.chdir(root)
    trained = CliRunner().invoke(app, [
        "train", str(CONFIGS / "edu_emotionnet.yaml"), "--out", "out/runs/full", "--seeds", "0", "--set", "data=out/dataset",
        "--set", "train.epochs=1", "--set", "train.progress=false", "--set", "model.d_model=16", "--set", "model.layers=1",
        "--set", "model.heads=2", "--set", "train.num_workers=0", "--set", "eval.missing_rates=[0.0]",
        "--set", f"cache_dir={tmp_path / 'cache'}",
    ])
    assert trained.exit_code == 0, trained.output
    run = root / "out" / "runs" / "full" / "seed0"
    before = json.loads((run / RESULTS).read_text())
    assert before["config"]["data"] == "out/dataset" and (run / RUN_DATASET).is_file()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    evaluated = CliRunner().invoke(app, ["evaluate", str(run)])
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads((run / RESULTS).read_text())["test"] == before["test"]  # the same split, the same numbers
    assert evaluated.stderr == ""
    missing = CliRunner().invoke(app, ["evaluate", str(run), "--data", "no_such_dataset"])
    assert missing.exit_code == 2 and "no_such_dataset: no such dataset folder (--data)" in missing.stderr

    table = CliRunner().invoke(app, ["predict", str(run), "test:0"])
    assert table.exit_code == 0, table.output
    last = table.stdout.splitlines()[-1]
    dataset = (root / "out" / "dataset").resolve()
    assert last.startswith("verdict: ") and f"(test split of {dataset}; true label " in last
    as_csv = CliRunner().invoke(app, ["predict", str(run), "test:0", "--format", "csv"])
    assert as_csv.exit_code == 0, as_csv.output
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))  # stdout holds the CSV and nothing else
    assert rows and list(rows[0]) == ["step", *CLASSES, "prediction", "weight_audio", "weight_video", "weight_text", "latency_ms"]
    final = {c: float(rows[-1][c]) for c in CLASSES}
    assert rows[-1]["prediction"] == max(final, key=final.__getitem__)
    assert as_csv.stderr.splitlines()[-1].startswith(f"verdict: {rows[-1]['prediction']} (probability {max(final.values()):.3f}, ")
    assert "streaming: incremental" in as_csv.stderr
    gone = CliRunner().invoke(app, ["predict", str(run), "test:0", "--data", "no_such_dataset"])
    assert gone.exit_code == 2 and "no_such_dataset: no such dataset folder (--data)" in gone.stderr and gone.stdout == ""


def test_the_verdict_follows_the_models_session_rule_and_json_csv_hold_only_data() -> None:
    from edu_emotionnet.prediction import PredictionReport, verdict_of
    from edu_emotionnet.streaming import StepOutput

    def step(t: int, probs: list[float]) -> StepOutput:
        named = dict(zip(CLASSES, probs, strict=True))
        return StepOutput(t, named, max(named, key=named.__getitem__), {"audio": 0.5, "text": 0.5}, 1.0)

    steps = [step(0, [0.7, 0.1, 0.1, 0.1]), step(1, [0.7, 0.1, 0.1, 0.1]), step(2, [0.1, 0.6, 0.2, 0.1])]
    last, mean = verdict_of(steps, "last"), verdict_of(steps, "mean")
    assert (last.label, last.probability) == (CLASSES[1], pytest.approx(0.6))
    assert (mean.label, mean.probability) == (CLASSES[0], pytest.approx(0.5)) and mean.rule == "the mean over its 3 steps"
    report = PredictionReport("runs/x", {"kind": "session", "session_id": "s1", "split": "test", "dataset": "/d", "true_label": CLASSES[2]},
                              "prefix re-run: StepGRU has no step-wise form", {"audio": "mfcc", "text": "token_embeddings"}, steps, last)
    table, told = report.render("table")
    assert told == [] and table.splitlines()[-1] == (
        f"verdict: {CLASSES[1]} (probability 0.600, the last step's distribution (step 3)) on session s1 (test split of /d; true label {CLASSES[2]})")
    assert "streaming: prefix re-run: StepGRU has no step-wise form" in table
    document, told = report.render("json")
    assert json.loads(document)["verdict"]["label"] == CLASSES[1] and told[-1].startswith("verdict: ")
    rows, told = report.render("csv")
    parsed = list(csv.DictReader(io.StringIO(rows)))
    assert [r["step"] for r in parsed] == ["1", "2", "3"] and parsed[2]["weight_text"] == "0.500000" and told[-1].startswith("verdict: ")
