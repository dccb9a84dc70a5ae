"""Predictions, classification metrics and the missing-modality robustness sweep of a model.

`evaluate_run(RUN)` is `edu-data evaluate`: it reloads the best-on-validation checkpoint, scores
the test split (accuracy, macro-F1, per-class F1, confusion matrix), sweeps the missing rates for
both drop kinds, and writes everything into `RUN/results.json` plus the per-step outputs the
report's weight figure needs (`RUN/test_outputs.npz`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from edu_affect_data.vocabulary import CLASSES
from edu_emotionnet.batch import Batch
from edu_emotionnet.config import TrainConfig
from edu_emotionnet.outputs import AffectModel
from edu_emotionnet.robustness import KINDS, apply_drop

RESULTS = "results.json"
TEST_OUTPUTS = "test_outputs.npz"


@dataclass(frozen=True)
class Predictions:
    labels: np.ndarray  # (N,)
    session_probs: np.ndarray  # (N, C)
    loss: float  # mean batch loss
    session_ids: tuple[str, ...]
    step_probs: list[np.ndarray]  # per session (T_i, C)
    weights: list[np.ndarray] | None  # per session (T_i, M)

    @property
    def predicted(self) -> np.ndarray:
        return self.session_probs.argmax(1)


@torch.no_grad()
def predict(
    model: AffectModel,
    batches: Iterable[Batch],
    device: torch.device,
    transform: Callable[[Batch], Batch] | None = None,
    autocast: bool = False,
) -> Predictions:
    model.eval()
    labels: list[np.ndarray] = []
    probs: list[np.ndarray] = []
    steps: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    ids: list[str] = []
    losses: list[float] = []
    for batch in batches:
        batch = batch.to(device)
        if transform is not None:
            batch = transform(batch)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            output = model(batch)
            losses.append(float(model.loss(output, batch.labels)))
        labels.append(batch.labels.cpu().numpy())
        probs.append(output.session_log_probs.float().exp().cpu().numpy())
        ids.extend(batch.session_ids)
        for b in range(batch.size):
            n = int(batch.n_steps[b])
            steps.append(output.step_log_probs[b, :n].float().exp().cpu().numpy())
            if output.weights is not None:
                weights.append(output.weights[b, :n].float().cpu().numpy())
    return Predictions(
        np.concatenate(labels), np.concatenate(probs), float(np.mean(losses)), tuple(ids), steps, weights or None
    )


def classification_metrics(labels: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    classes = list(range(len(CLASSES)))
    per_class = f1_score(labels, predicted, labels=classes, average=None, zero_division=0)
    return {
        "accuracy": float(accuracy_score(labels, predicted)),
        "macro_f1": float(f1_score(labels, predicted, labels=classes, average="macro", zero_division=0)),
        "per_class_f1": {name: float(v) for name, v in zip(CLASSES, per_class, strict=True)},
        "confusion_matrix": confusion_matrix(labels, predicted, labels=classes).tolist(),
        "n": len(labels),
    }


def robustness_sweep(model: AffectModel, batches: list[Batch], config: TrainConfig, device: torch.device) -> dict[str, Any]:
    """{kind: [{rate, accuracy, macro_f1}, ...]} over `config.eval.missing_rates`."""
    sweep: dict[str, Any] = {}
    for kind in KINDS:
        rows = []
        for rate in config.eval.missing_rates:
            def drop(batch: Batch, kind: str = kind, rate: float = rate) -> Batch:
                return apply_drop(batch, kind, rate, config.eval.robustness_seed, config.model.step_s)

            preds = predict(model, batches, device, drop)
            metrics = classification_metrics(preds.labels, preds.predicted)
            rows.append({"rate": rate, "accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"]})
        sweep[kind] = rows
    return sweep


def save_test_outputs(path: Path, preds: Predictions, modalities: tuple[str, ...]) -> None:
    """Per-session step outputs, padded to the longest session (NaN beyond a session's end)."""
    horizon = max(p.shape[0] for p in preds.step_probs)
    steps = np.full((len(preds.step_probs), horizon, len(CLASSES)), np.nan, np.float32)
    weights = np.full((len(preds.step_probs), horizon, len(modalities)), np.nan, np.float32)
    for i, p in enumerate(preds.step_probs):
        steps[i, : p.shape[0]] = p
        if preds.weights is not None:
            weights[i, : p.shape[0]] = preds.weights[i]
    np.savez_compressed(
        path, labels=preds.labels, session_probs=preds.session_probs, step_probs=steps,
        weights=weights, has_weights=preds.weights is not None,
        modalities=np.array(modalities), session_ids=np.array(preds.session_ids),
    )


def evaluate_model(model: AffectModel, test_batches: list[Batch], config: TrainConfig, device: torch.device, run_dir: Path) -> dict[str, Any]:
    """Test metrics + robustness; writes test_outputs.npz; returns the `test`/`robustness` entries."""
    preds = predict(model, test_batches, device)
    save_test_outputs(run_dir / TEST_OUTPUTS, preds, model.modalities)
    test = classification_metrics(preds.labels, preds.predicted)
    test["loss"] = preds.loss
    return {"test": test, "robustness": robustness_sweep(model, test_batches, config, device)}


def evaluate_run(run_dir: Path, device: str = "cpu") -> dict[str, Any]:
    """Re-evaluate a finished run from `best.pt` and update its results.json."""
    from torch.utils.data import DataLoader

    from edu_emotionnet.checkpoint import load_trained
    from edu_emotionnet.data import collate, session_datasets

    run_dir = Path(run_dir)
    trained = load_trained(run_dir, device)
    model, config = trained.model, trained.config
    if config.data is None:
        raise ValueError(f"{run_dir}: the stored config names no dataset (data: null)")
    datasets, _ = session_datasets(config.data, config.model.modalities, config.model.step_s, config.model.video.frame_size, config.cache_dir)
    batches = list(DataLoader(datasets["test"], batch_size=config.train.batch_size, collate_fn=collate))
    results_path = run_dir / RESULTS
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    results.update(evaluate_model(model, batches, config, torch.device(device), run_dir))
    results.setdefault("best_epoch", trained.best_epoch)
    results_path.write_text(json.dumps(results, indent=2))
    return results
