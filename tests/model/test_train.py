"""Training end to end on the planted dataset: learns, resumes bit-for-bit (with and without DataLoader
workers). DDP: test_ddp.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from edu_emotionnet.checkpoint import LoopState
from edu_emotionnet.evaluate import RESULTS, evaluate_run
from edu_emotionnet.train import METRICS, is_better, train

TIMING_KEYS = {"seconds", "sessions_per_s"}


def _metrics(run: Path) -> list[dict]:
    lines = (run / METRICS).read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in TIMING_KEYS} for line in lines]


@pytest.mark.slow
def test_tiny_config_learns_clearly_above_chance(trained_run: Path) -> None:
    results = json.loads((trained_run / "results.json").read_text())
    metrics = _metrics(trained_run)
    # Chance is 0.25 on four balanced classes; the planted signal is learnable within a few epochs.
    assert results["test"]["macro_f1"] >= 0.6, results["test"]
    assert metrics[-1]["train_loss"] < metrics[0]["train_loss"]
    assert metrics[-1]["train_accuracy"] > metrics[0]["train_accuracy"]
    chosen = max(range(len(metrics)), key=lambda e: (metrics[e]["val_macro_f1"], -metrics[e]["val_loss"]))
    assert results["best_epoch"] == chosen
    assert set(results["test"]["per_class_f1"]) == {"Confused", "Curious", "Bored", "Frustrated"}
    assert sum(map(sum, results["test"]["confusion_matrix"])) == 16
    assert [row["rate"] for row in results["robustness"]["modality"]] == [0.0, 0.3]


def test_selection_prefers_macro_f1_then_lower_validation_loss() -> None:
    state = LoopState(best_macro_f1=0.5, best_val_loss=1.0)
    assert is_better(0.6, 9.0, state)  # higher macro-F1 wins whatever the loss
    assert not is_better(0.4, 0.1, state)
    assert is_better(0.5, 0.9, state) and not is_better(0.5, 1.0, state)  # a tie goes to the lower loss
    assert is_better(0.0, 5.0, LoopState())  # the first epoch is always kept


class Interrupted(Exception):
    pass


@pytest.mark.slow
@pytest.mark.parametrize("workers", [0, 2])
def test_resumed_run_ends_like_an_uninterrupted_one(make_config, tmp_path: Path, workers: int) -> None:
    # With workers the loaders are rebuilt by the resumed run (new worker processes, new iterators):
    # the order comes from (seed, epoch) and no loader draws from the restored global RNG.
    config = make_config(train__epochs=4, train__patience=10, train__num_workers=workers)
    whole = train(config, tmp_path / "whole")

    def stop_after_second_epoch(epoch: int) -> None:
        if epoch == 1:
            raise Interrupted

    with pytest.raises(Interrupted):
        train(config, tmp_path / "cut", on_epoch_end=stop_after_second_epoch)
    assert len(_metrics(tmp_path / "cut")) == 2 and not (tmp_path / "cut" / "results.json").exists()
    with (tmp_path / "cut" / METRICS).open("a") as log:  # as a kill during the next epoch's append leaves it
        log.write('{"epoch": 2, "train_loss": 1.2')
    resumed = train(config, tmp_path / "cut")
    assert _metrics(tmp_path / "cut") == _metrics(tmp_path / "whole")
    assert resumed["test"] == whole["test"] and resumed["robustness"] == whole["robustness"]
    stamp = (tmp_path / "cut" / "results.json").stat().st_mtime_ns
    assert train(config, tmp_path / "cut") == resumed  # a finished run is returned, not re-tested
    assert (tmp_path / "cut" / "results.json").stat().st_mtime_ns == stamp


class KilledMidWrite(Exception):
    pass


def crash_writing(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Every text write to `name` (or to a temporary of it) stops after half of the text."""
    write_text = Path.write_text

    def half_then_crash(path: Path, text: str, *args: object, **kwargs: object) -> int:
        if Path(name).stem in path.name:
            write_text(path, text[: len(text) // 2], *args, **kwargs)  # type: ignore[arg-type]
            raise KilledMidWrite(path)
        return write_text(path, text, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "write_text", half_then_crash)


def test_a_crash_while_writing_results_leaves_no_half_file_and_the_resume_finishes(
    make_config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config(train__epochs=2, train__patience=10)
    whole = train(config, tmp_path / "whole")
    with monkeypatch.context() as patched:
        crash_writing(patched, RESULTS)
        with pytest.raises(KilledMidWrite):
            train(config, tmp_path / "cut")
    run = tmp_path / "cut"
    assert not (run / RESULTS).exists()  # no marker of a finished run, so no half of one
    assert not [p.name for p in run.iterdir() if p.name.startswith(".")]  # and no temporary left over
    resumed = train(config, run)  # the checkpoint is finished: only the test split is scored, once
    assert resumed["test"] == whole["test"] and json.loads((run / RESULTS).read_text()) == resumed


@pytest.mark.slow
def test_a_crash_while_rewriting_results_keeps_the_old_file(trained_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    before = (run / RESULTS).read_bytes()
    crash_writing(monkeypatch, RESULTS)
    with pytest.raises(KilledMidWrite):
        evaluate_run(run)
    assert (run / RESULTS).read_bytes() == before
