"""DDP on CPU (gloo, 2 processes through torchrun): a run ends with test + robustness, a run stops
early, both finish; the gathered test metrics equal one process scoring the same checkpoint.
Also: the global batch is `train.batch_size`, and every parameter gets a gradient whatever the
data (what lets DDP run without `find_unused_parameters`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from edu_emotionnet.config import TrainConfig
from edu_emotionnet.data import collate, session_datasets
from edu_emotionnet.distributed import per_rank_batch
from edu_emotionnet.evaluate import TEST_OUTPUTS, evaluate_run
from edu_emotionnet.model import build_model
from edu_emotionnet.registry import model_names
from edu_emotionnet.train import METRICS

CONFIGS = Path(__file__).resolve().parents[2] / "model" / "configs"


def _torchrun(planted_dir: Path, tmp_path: Path, run: Path, *overrides: str) -> dict[str, Any]:
    torchrun = Path(sys.executable).with_name("torchrun")
    edu_data = Path(sys.executable).with_name("edu-data")
    command = [
        str(torchrun), "--standalone", "--nproc_per_node", "2", "--no-python", str(edu_data), "train",
        str(CONFIGS / "tiny_cpu.yaml"), "--out", str(run), "--set", f"data={planted_dir}",
        "--set", f"cache_dir={tmp_path / 'cache'}", "--set", "train.batch_size=16", "--set", "train.progress=false",
    ]
    for override in overrides:
        command += ["--set", override]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[:4000] + "\n...\n" + done.stderr[-3000:]
    results: dict[str, Any] = json.loads((run / "results.json").read_text())
    return results


def _epochs_logged(run: Path) -> list[int]:
    return [json.loads(line)["epoch"] for line in (run / METRICS).read_text().splitlines()]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_ddp_run_ends_with_test_and_robustness_equal_to_one_process(planted_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "ddp"
    results = _torchrun(planted_dir, tmp_path, run, "train.epochs=2", "eval.missing_rates=[0.0,0.3]")
    assert results["world_size"] == 2 and results["epochs_run"] == 2 and not results["stopped_early"]
    assert _epochs_logged(run) == [0, 1]  # rank 0 alone writes the log
    assert results["test"]["n"] == 16  # every test session scored exactly once over the two shards
    assert [row["rate"] for row in results["robustness"]["timestep"]] == [0.0, 0.3]
    with np.load(run / TEST_OUTPUTS) as saved:
        ddp_outputs = {key: saved[key] for key in saved.files}

    # One process scores the same best checkpoint (rewriting results.json and test_outputs.npz).
    single = evaluate_run(run)
    for key in ("accuracy", "macro_f1", "per_class_f1", "confusion_matrix", "n"):
        assert single["test"][key] == results["test"][key], key
    assert single["test"]["loss"] == pytest.approx(results["test"]["loss"], rel=1e-6)
    assert single["robustness"] == results["robustness"]
    with np.load(run / TEST_OUTPUTS) as saved:
        assert list(saved["session_ids"]) == list(ddp_outputs["session_ids"])  # gathered back in dataset order
        assert np.array_equal(saved["labels"], ddp_outputs["labels"])
        np.testing.assert_allclose(saved["session_probs"], ddp_outputs["session_probs"], atol=1e-5)
        np.testing.assert_allclose(saved["step_probs"], ddp_outputs["step_probs"], atol=1e-5)
        np.testing.assert_allclose(saved["weights"], ddp_outputs["weights"], atol=1e-5)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_ddp_run_that_stops_early_finishes(planted_dir: Path, tmp_path: Path) -> None:
    # At lr 1e-30 no weight moves (every update is below float32 resolution): validation repeats
    # epoch 0 exactly, which is no improvement, so patience 1 stops the run after epoch 1.
    run = tmp_path / "ddp-early"
    results = _torchrun(
        planted_dir, tmp_path, run, "train.epochs=6", "train.patience=1", "train.lr=1e-30", "eval.missing_rates=[0.0,0.5]"
    )
    assert results["stopped_early"] and results["epochs_run"] == 2 and results["best_epoch"] == 0
    assert _epochs_logged(run) == [0, 1]
    assert results["test"]["n"] == 16
    assert [row["rate"] for row in results["robustness"]["modality"]] == [0.0, 0.5]


def test_global_batch_is_the_configured_batch() -> None:
    assert per_rank_batch(16, 2) == 8 and per_rank_batch(16, 1) == 16
    with pytest.raises(ValueError, match=r"train.batch_size \(15\) is not divisible by the world size \(2\)"):
        per_rank_batch(15, 2)


@pytest.mark.parametrize("video_input", ["embeddings", "pixels"])
@pytest.mark.parametrize("arch", model_names())
def test_every_parameter_gets_a_gradient_when_inputs_are_missing(
    make_config: Callable[..., TrainConfig], arch: str, video_input: str
) -> None:
    """A rank whose whole batch lacks a modality (no available frame, no word, no audio) still
    back-propagates into every parameter: no sub-network is skipped on a data condition."""
    pixels = {"model__video__backbone": "small_cnn", "model__video__frame_size": 32, "model__video__cnn_channels": 4}
    config = make_config(model__arch=arch, model__video__input=video_input, **(pixels if video_input == "pixels" else {}))
    assert config.data is not None
    datasets, inputs = session_datasets(config.data, config.model, config.cache_dir)
    batch = collate([datasets["train"][i] for i in range(4)])
    for missing in ("audio_mask", "frame_mask", "token_mask"):
        mask = getattr(batch, missing)
        if mask is None:
            continue
        torch.manual_seed(0)
        model = build_model(config.model, inputs).train()
        hollow = batch.masked(**{missing: torch.zeros_like(mask)})
        output = model(hollow)
        model.loss(output, hollow.labels).backward()
        without = [name for name, p in model.named_parameters() if p.grad is None]
        assert without == [], (arch, video_input, missing, without)

