"""Run folders with chosen outputs, in the real format, for the report's statistics and claims.

A run folder here is what `train` leaves: `results.json` (name, arch, seed, the validated config,
test metrics from `evaluate.classification_metrics`, the robustness rows), `test_outputs.npz`
written by `evaluate.save_test_outputs` itself, and `metrics.jsonl`. Only the predictions are
chosen by the test instead of learned, so every figure the report derives is known exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from edu_emotionnet.config import load_train_config
from edu_emotionnet.evaluate import (
    RESULTS,
    TEST_OUTPUTS,
    Predictions,
    classification_metrics,
    save_test_outputs,
)

CONFIGS = Path(__file__).resolve().parents[2] / "model" / "configs"
N_CLASSES = 4


def one_hot_probs(predicted: np.ndarray, sure: float = 0.7) -> np.ndarray:
    """(N, C) session probabilities whose argmax is `predicted`."""
    probs = np.full((len(predicted), N_CLASSES), (1 - sure) / (N_CLASSES - 1), np.float32)
    probs[np.arange(len(predicted)), predicted] = sure
    return probs


def write_run(
    folder: Path,
    variant: str,
    seed: int,
    labels: np.ndarray,
    predicted: np.ndarray,
    *,
    data: Path,
    step_predicted: list[np.ndarray] | None = None,
    weights: list[np.ndarray] | None = None,
    missing: dict[float, np.ndarray] | None = None,
    name: str | None = None,
    step_s: float = 1.0,
    speakers: list[str] | None = None,
) -> Path:
    """One seed of `variant` (a model/configs file over tiny_cpu.yaml) under `folder`/seed<k>.

    `step_predicted`: per session, the argmax at each step (default: the session's prediction at
    4 steps); `missing`: rate -> predictions with whole modalities dropped at that rate (rate 0 is
    `predicted`), written into the robustness rows and the test outputs. `speakers`: each test
    session's speaker (default: every session a speaker of its own).
    """
    overrides = {"data": str(data), "seed": seed, "model.step_s": step_s, "eval.missing_rates": [0.0, *sorted(missing or {})]}
    if name is not None:
        overrides["name"] = name
    config = load_train_config(CONFIGS / variant, overrides, rebase=CONFIGS / "tiny_cpu.yaml")
    run = Path(folder) / f"seed{seed}"
    run.mkdir(parents=True, exist_ok=True)
    ids = tuple(f"test_{i:04d}" for i in range(len(labels)))
    steps = step_predicted or [np.full(4, p) for p in predicted]
    step_probs = [one_hot_probs(np.asarray(s)) for s in steps]

    def preds(guess: np.ndarray) -> Predictions:
        return Predictions(labels, one_hot_probs(guess), 0.0, ids, step_probs, weights)

    clean = preds(predicted)
    passes = {(kind, rate): preds(guess) for kind in ("modality", "timestep") for rate, guess in (missing or {}).items()}
    modalities = config.model.modalities
    speaker_ids = speakers if speakers is not None else [f"speaker_{i:04d}" for i in range(len(labels))]
    save_test_outputs(run / TEST_OUTPUTS, clean, modalities, passes, speaker_ids=speaker_ids)
    rows = [{"rate": 0.0, **_scores(labels, predicted)}] + [{"rate": r, **_scores(labels, g)} for r, g in sorted((missing or {}).items())]
    results = {
        "name": config.name, "arch": config.model.arch, "seed": seed, "best_epoch": 0,
        "config": config.model_dump(mode="json"),
        "test": {**classification_metrics(labels, predicted), "loss": 0.0},
        "robustness": {"modality": rows, "timestep": rows},
    }
    (run / RESULTS).write_text(json.dumps(results, indent=2))
    (run / "metrics.jsonl").write_text("".join(json.dumps({"epoch": e, "train_loss": 1.0 - e / 10, "val_loss": 1.1 - e / 20}) + "\n" for e in range(3)))
    return run


def _scores(labels: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    metrics = classification_metrics(labels, predicted)
    return {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"]}


def write_places(data: Path, rows: list[dict]) -> Path:
    """A dataset folder whose test split holds only the metadata columns claim (a) reads."""
    (data / "data").mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), data / "data" / "test-00000-of-00001.parquet")
    return data
