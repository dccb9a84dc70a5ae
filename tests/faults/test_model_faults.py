"""Fault matrix of the model's commands (and the last data-side cases of the issue's "unclear errors"):
the user's input is one line naming what is wrong and exit 2, as README's "When things break" says.

A damaged checkpoint (random bytes, cut short, from another version, of another model) names the
file and says what to do; `predict` with a row or session id the dataset does not have, `train`,
`predict` and `evaluate` with a dataset folder that is not there, `build --dask-scheduler` with no
scheduler at the address, `validate` on an empty folder and `report` on a folder without runs do
the same. The run is trained once per module (one epoch of two steps on a planted dataset whose
test split has one row). `FAULT_KINDS` counts the kinds covered here.
"""

from __future__ import annotations

import importlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from edu_emotionnet.inputs import ModelInputs
from edu_emotionnet.run_dataset import RUN_DATASET
from typer.testing import CliRunner

from edu_affect_data.cli import app
from tests.faults.test_agreement_faults import one_error_line
from tests.model.planted import write_planted_dataset

CONFIGS = Path(__file__).resolve().parents[2] / "model" / "configs"
TINY = [
    "--set", "train.epochs=1", "--set", "train.progress=false", "--set", "eval.missing_rates=[0.0]",
    "--set", "model.d_model=16", "--set", "model.heads=2",
]  # fmt: skip


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A planted dataset whose test split holds a single session."""
    return write_planted_dataset(tmp_path_factory.mktemp("model_faults") / "dataset", {"train": 12, "validation": 6, "test": 1})


@pytest.fixture(scope="module")
def run(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished one-epoch run over `dataset` (best.pt, ckpt.pt, results.json)."""
    folder = tmp_path_factory.mktemp("model_faults_run") / "run"
    cache = tmp_path_factory.mktemp("model_faults_cache")
    result = CliRunner().invoke(
        app, ["train", str(CONFIGS / "tiny_cpu.yaml"), "--out", str(folder), "--set", f"data={dataset}",
              "--set", f"cache_dir={cache}", *TINY],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return folder


def refused(argv: list[str]) -> str:
    """The one `error:` line of a command that must exit 2 (a user error)."""
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2, result.output
    line = one_error_line(result)
    assert "--debug" not in line  # a user error needs no traceback to be understood
    return line


def damaged_copy(run: Path, target: Path, damage: Callable[[Path], None]) -> Path:
    shutil.copytree(run, target)
    damage(target / "best.pt")
    return target


def _random_bytes(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 20)  # not a zip, not a pickle: "invalid load key"


def _truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # "PytorchStreamReader failed"


def _rewrite(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def rewrite(path: Path) -> None:
        payload = torch.load(path, map_location="cpu", weights_only=False)
        change(payload)
        torch.save(payload, path)

    return rewrite


def _older_weights(payload: dict, written_by: str | None) -> None:
    """Weights saved under a name this version's model no longer has, by `written_by`; None: by a
    version that recorded no writer, which wrote format 1 (no `format`, `text_dim` for the inputs)."""
    weights = payload["model"]
    first = next(iter(weights))
    weights[f"renamed_{first}"] = weights.pop(first)
    payload.pop("written_by", None)
    if written_by is not None:
        payload["written_by"] = written_by
    else:
        payload.pop("format")
        payload["text_dim"] = ModelInputs.from_json(payload.pop("inputs")).width("text")


#: name -> (how best.pt is damaged, words the line must hold besides the file's path).
CHECKPOINTS: dict[str, tuple[Callable[[Path], None], tuple[str, ...]]] = {
    "random bytes": (_random_bytes, ("not a readable checkpoint", "invalid load key", "train the run again")),
    "truncated": (_truncated, ("not a readable checkpoint", "PytorchStreamReader failed", "train the run again")),
    "weights of an older version": (
        _rewrite(lambda p: _older_weights(p, "edu-affect-data 0.0.9")),
        ("cannot load its weights", "Missing key(s)", "written by edu-affect-data 0.0.9", "train the run again"),
    ),
    "older version that recorded none": (
        _rewrite(lambda p: _older_weights(p, None)),
        ("cannot load its weights", "written by a version that recorded none", "train the run again"),
    ),
    "newer format": (
        _rewrite(lambda p: p.update(format=99, written_by="edu-affect-data 9.0.0")),
        ("checkpoint format 99 was written by a newer version", "written by edu-affect-data 9.0.0", "upgrade edu-affect-data"),
    ),
    "not a checkpoint dict": (_rewrite(lambda p: p.clear()), ("holds no model, config, text_dim, epoch",)),
}


@pytest.mark.parametrize("command", ["evaluate", "predict"])
@pytest.mark.parametrize("fault", sorted(CHECKPOINTS))
def test_a_damaged_checkpoint_is_named_with_what_to_do(fault: str, command: str, run: Path, tmp_path: Path) -> None:
    damage, words = CHECKPOINTS[fault]
    copy = damaged_copy(run, tmp_path / "run", damage)
    line = refused([command, str(copy)] + (["test:0"] if command == "predict" else []))
    assert line.startswith(f"error: {copy / 'best.pt'}: "), line
    for word in words:
        assert word in line, (word, line)


def test_a_truncated_resume_checkpoint_says_how_to_start_over(run: Path, dataset: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    (copy / "results.json").unlink()  # an unfinished run: train resumes from ckpt.pt
    ckpt = copy / "ckpt.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:1000])
    line = refused(["train", str(CONFIGS / "tiny_cpu.yaml"), "--out", str(copy), "--set", f"data={dataset}", *TINY])
    assert line.startswith(f"error: {ckpt}: not a readable checkpoint"), line
    assert "rerun with --no-resume" in line


def test_resuming_with_another_model_config_says_so(run: Path, dataset: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    (copy / "results.json").unlink()
    other = [*TINY, "--set", "model.d_model=32", "--set", "train.epochs=2"]
    line = refused(["train", str(CONFIGS / "tiny_cpu.yaml"), "--out", str(copy), "--set", f"data={dataset}", *other])
    assert line.startswith(f"error: {copy / 'ckpt.pt'}: cannot load its weights (Error(s) in loading state_dict"), line
    assert "the config differs from the one the run started with? rerun with --no-resume" in line


@pytest.mark.parametrize(
    ("session", "words"),
    [
        ("test:99", ("test:99: the test split of", "has 1 session: rows 0-0")),
        ("test:1", ("test:1: the test split of", "has 1 session: rows 0-0")),
        ("no_such_session", ("session 'no_such_session' is in none of the splits of", "train 12, validation 6, test 1")),
    ],
)
def test_predict_a_session_the_dataset_does_not_have(session: str, words: tuple[str, ...], run: Path, dataset: Path) -> None:
    line = refused(["predict", str(run), session])
    assert str(dataset) in line, line
    for word in words:
        assert word in line, (word, line)


def test_train_with_a_missing_dataset_folder(tmp_path: Path) -> None:
    absent = tmp_path / "no-such-dataset"
    line = refused(["train", str(CONFIGS / "tiny_cpu.yaml"), "--out", str(tmp_path / "run"), "--set", f"data={absent}", *TINY])
    assert line == f"error: {absent}: no such dataset folder", line


def test_predict_with_a_missing_dataset_folder(run: Path, tmp_path: Path) -> None:
    absent = tmp_path / "no-such-dataset"
    line = refused(["predict", str(run), "test:0", "--data", str(absent)])
    assert line == f"error: {absent}: no such dataset folder (--data)", line


def test_evaluate_when_the_runs_dataset_is_gone(run: Path, dataset: Path, tmp_path: Path) -> None:
    gone = tmp_path / "moved-away"
    copy = damaged_copy(run, tmp_path / "run", _rewrite(lambda p: p["config"].update(data=str(gone))))
    # Neither place the run knows its dataset by holds one: the recorded path (RUN/dataset.json, from
    # the run folder) points where the copy has no dataset beside it, and the config's is gone.
    (copy / RUN_DATASET).write_text(json.dumps({"relative_to_run": "../moved-away-too", "shards": []}))
    line = refused(["evaluate", str(copy)])
    assert line.startswith(f"error: {copy}: "), line
    assert str(gone) in line and "moved-away-too" in line, line


def test_report_on_a_folder_without_runs(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    line = refused(["report", str(tmp_path / "empty"), "--out", str(tmp_path / "report")])
    assert line == f"error: {tmp_path / 'empty'}: no results.json under it (train first)", line


def test_an_unreachable_dask_scheduler(tmp_path: Path) -> None:
    import dask
    import distributed  # noqa: F401  (its config defaults loaded first: leaving `config.set` would drop them)

    (tmp_path / "corpus").mkdir()
    config = tmp_path / "pipeline.yaml"
    config.write_text("corpora:\n  iemocap: {root: null}\n")
    argv = ["build", str(config), "--until", "ingest", "--iemocap", str(tmp_path / "corpus"),
            "--out", str(tmp_path / "out"), "--dask-scheduler", "tcp://127.0.0.1:9"]  # fmt: skip
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        line = refused(argv)
    assert line.startswith("error: --dask-scheduler tcp://127.0.0.1:9: cannot reach a Dask scheduler there (Timed out"), line
    assert "leave the flag out to run on local processes" in line


@pytest.mark.parametrize("inside", ["nothing", "a build folder"])
def test_validate_an_empty_folder(inside: str, tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    hint = ""
    if inside == "a build folder":
        (folder / "dataset").mkdir()
        (folder / "dataset" / "README.md").write_text("---\n---\n")
        hint = f" (a build folder: its dataset is {folder / 'dataset'})"
    line = refused(["validate", str(folder)])
    assert line == f"error: {folder}: not a dataset folder, it holds no README.md card and no data/{hint}", line


def test_every_user_error_the_model_names_exists() -> None:
    """A renamed exception class must not silently turn its user errors into exit 1."""
    from edu_emotionnet.cli import USER_ERRORS

    for name in USER_ERRORS:
        module, _, cls = name.rpartition(".")
        assert isinstance(getattr(importlib.import_module(module), cls), type), name
        assert name in app.user_errors


#: Kinds of fault covered here: six checkpoint damages, two resume cases, a row and a session id
#: `predict` cannot find, a missing dataset for train/predict/evaluate, report without runs, an
#: unreachable Dask scheduler, validate on an empty folder.
FAULT_KINDS = len(CHECKPOINTS) + 2 + 2 + 3 + 1 + 1 + 1
