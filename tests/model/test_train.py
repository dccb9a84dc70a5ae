"""Training end to end on the planted dataset: learns, resumes bit-for-bit, runs under DDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from edu_emotionnet.checkpoint import LoopState
from edu_emotionnet.train import METRICS, is_better, train

TIMING_KEYS = {"seconds", "sessions_per_s"}


def _metrics(run: Path) -> list[dict]:
    lines = (run / METRICS).read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in TIMING_KEYS} for line in lines]


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


def test_resumed_run_ends_like_an_uninterrupted_one(make_config, tmp_path: Path) -> None:
    config = make_config(train__epochs=4, train__patience=10)
    whole = train(config, tmp_path / "whole")

    def stop_after_second_epoch(epoch: int) -> None:
        if epoch == 1:
            raise Interrupted

    with pytest.raises(Interrupted):
        train(config, tmp_path / "cut", on_epoch_end=stop_after_second_epoch)
    assert len(_metrics(tmp_path / "cut")) == 2 and not (tmp_path / "cut" / "results.json").exists()
    resumed = train(config, tmp_path / "cut")
    assert _metrics(tmp_path / "cut") == _metrics(tmp_path / "whole")
    assert resumed["test"] == whole["test"] and resumed["robustness"] == whole["robustness"]
    stamp = (tmp_path / "cut" / "results.json").stat().st_mtime_ns
    assert train(config, tmp_path / "cut") == resumed  # a finished run is returned, not re-tested
    assert (tmp_path / "cut" / "results.json").stat().st_mtime_ns == stamp


def test_ddp_two_cpu_processes_with_gloo(planted_dir: Path, tmp_path: Path) -> None:
    torchrun = Path(sys.executable).with_name("torchrun")
    edu_data = Path(sys.executable).with_name("edu-data")
    run = tmp_path / "ddp"
    configs = Path(__file__).resolve().parents[2] / "model" / "configs"
    command = [
        str(torchrun), "--standalone", "--nproc_per_node", "2", "--no-python", str(edu_data), "train",
        str(configs / "tiny_cpu.yaml"), "--out", str(run), "--set", f"data={planted_dir}",
        "--set", f"cache_dir={tmp_path / 'cache'}", "--set", "train.epochs=2", "--set", "train.batch_size=16",
        "--set", "train.progress=false", "--set", "eval.missing_rates=[0.0]",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((run / "results.json").read_text())
    assert results["world_size"] == 2
    assert len(_metrics(run)) == 2  # rank 0 alone writes the log
