"""Predictions, classification metrics and the missing-modality robustness sweep of a model.

`evaluate_run(RUN)` is `edu-data evaluate`: it reloads the best-on-validation checkpoint, scores
the test split (accuracy, macro-F1, per-class F1, confusion matrix), sweeps the missing rates for
both drop kinds, and writes everything into `RUN/results.json` plus the per-step outputs the
report's weight figure needs (`RUN/test_outputs.npz`). The test outputs carry each session's
speaker (the dataset's `speaker_id`): sessions of one speaker are not independent, so every
interval of the report resamples speakers, not sessions (`edu_emotionnet.significance`).

Evaluation is streamed: batches come from a DataLoader and only the per-session outputs (a label,
C probabilities, T_i x C step probabilities, T_i x M weights) are kept, so host memory does not
grow with the inputs of the split. The test split is read once: each batch is scored clean and
under every (drop kind, rate) of the sweep before the next is read. Under DDP each rank scores
its shard (`ShardSampler`) and rank 0 gathers the outputs back into dataset order; since a
session's outputs do not depend on the sessions batched with it, the gathered metrics equal those
of one process scoring the whole split.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
from torch.utils.data import DataLoader, Dataset

from edu_affect_data.core.atomic import atomic_write, atomic_write_text
from edu_affect_data.core.vocabulary import CLASSES
from edu_emotionnet.batch import Batch
from edu_emotionnet.config import TrainConfig
from edu_emotionnet.data import collate
from edu_emotionnet.distributed import DistContext, ShardSampler
from edu_emotionnet.outputs import AffectModel, ModelOutput
from edu_emotionnet.robustness import KINDS, apply_drop
from edu_emotionnet.run_dataset import Warn, locate_dataset, tell

RESULTS = "results.json"
TEST_OUTPUTS = "test_outputs.npz"
#: The key of the clean pass in `predict_passes`' transforms (the others: (kind, rate)).
CLEAN = "test"

Transform = Callable[[Batch], Batch]


@dataclass(frozen=True)
class Predictions:
    labels: np.ndarray  # (N,)
    session_probs: np.ndarray  # (N, C)
    loss_sum: float  # sum over sessions of each session's loss
    session_ids: tuple[str, ...]
    step_probs: list[np.ndarray]  # per session (T_i, C); empty when the pass kept no step outputs
    weights: list[np.ndarray] | None  # per session (T_i, M)

    @property
    def predicted(self) -> np.ndarray:
        return self.session_probs.argmax(1)

    @property
    def loss(self) -> float:
        """Mean per-session loss: the same however the split is batched or sharded."""
        return self.loss_sum / max(len(self.labels), 1)


@dataclass
class _Collector:
    """The outputs of one pass, batch after batch (inputs are never kept)."""

    keep_steps: bool
    labels: list[np.ndarray] = field(default_factory=list)
    probs: list[np.ndarray] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    steps: list[np.ndarray] = field(default_factory=list)
    weights: list[np.ndarray] = field(default_factory=list)
    loss_sum: float = 0.0

    def add(self, batch: Batch, output: ModelOutput, loss: torch.Tensor) -> None:
        self.labels.append(batch.labels.cpu().numpy())
        self.probs.append(output.session_log_probs.float().exp().cpu().numpy())
        self.ids.extend(batch.session_ids)
        self.loss_sum += float(loss) * batch.size  # the model's loss is the batch mean of per-session losses
        if not self.keep_steps:
            return
        step_probs = output.step_log_probs.float().exp().cpu().numpy()
        weights = output.weights.float().cpu().numpy() if output.weights is not None else None
        for b, n in enumerate(batch.n_steps.tolist()):
            self.steps.append(step_probs[b, :n])
            if weights is not None:
                self.weights.append(weights[b, :n])

    def result(self) -> Predictions:
        classes = len(CLASSES)
        return Predictions(
            np.concatenate(self.labels) if self.labels else np.zeros(0, np.int64),
            np.concatenate(self.probs) if self.probs else np.zeros((0, classes), np.float32),
            self.loss_sum, tuple(self.ids), self.steps, self.weights or None,
        )


@torch.no_grad()
def predict_passes(
    model: AffectModel,
    batches: Iterable[Batch],
    device: torch.device,
    transforms: Mapping[Any, Transform | None],
    *,
    autocast: bool = False,
    keep_steps: Collection[Any] = (),
) -> dict[Any, Predictions]:
    """One pass over `batches`, each scored under every transform (None = as it is).

    Step probabilities and weights are kept only for the keys in `keep_steps`.
    """
    model.eval()
    collectors = {key: _Collector(key in keep_steps) for key in transforms}
    for batch in batches:
        batch = batch.to(device)
        for key, transform in transforms.items():
            seen = transform(batch) if transform is not None else batch
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                output = model(seen)
                loss = model.loss(output, seen.labels)
            collectors[key].add(seen, output, loss)
    return {key: collector.result() for key, collector in collectors.items()}


def predict(
    model: AffectModel,
    batches: Iterable[Batch],
    device: torch.device,
    transform: Transform | None = None,
    autocast: bool = False,
) -> Predictions:
    """One transform's predictions over `batches`, step outputs included."""
    return predict_passes(model, batches, device, {CLEAN: transform}, autocast=autocast, keep_steps=(CLEAN,))[CLEAN]


def merge_predictions(parts: list[Predictions], orders: list[range]) -> Predictions:
    """Rank-ordered shards back into dataset order (`orders[r]`: the dataset indices of part r)."""
    index = np.concatenate([np.asarray(order, dtype=np.int64) for order in orders])
    if len(index) != sum(len(p.labels) for p in parts):
        raise ValueError(f"gathered {sum(len(p.labels) for p in parts)} sessions for {len(index)} indices")
    place = np.argsort(index, kind="stable")
    steps = [s for p in parts for s in p.step_probs]
    weights = [w for p in parts for w in (p.weights or [])]
    ids = [i for p in parts for i in p.session_ids]
    return Predictions(
        np.concatenate([p.labels for p in parts])[place],
        np.concatenate([p.session_probs for p in parts])[place],
        float(sum(p.loss_sum for p in parts)),
        tuple(ids[i] for i in place),
        [steps[i] for i in place] if steps else [],
        [weights[i] for i in place] if weights else None,
    )


def shard_loader(
    dataset: Dataset, batch_size: int, ctx: DistContext, *, num_workers: int = 0, persistent: bool = False, seed: int = 0
) -> DataLoader:
    """This rank's shard of an evaluation split, in dataset order, never padded.

    The loader draws its workers' base seed from a generator of its own, so creating or
    iterating it never consumes the global RNG a resumed run restores.
    """
    sampler = ShardSampler(len(dataset), ctx.rank, ctx.world_size)  # type: ignore[arg-type]
    return DataLoader(
        dataset, batch_size=batch_size, sampler=sampler, collate_fn=collate, num_workers=num_workers,
        persistent_workers=persistent and num_workers > 0, generator=torch.Generator().manual_seed(seed),
        pin_memory=ctx.device.type == "cuda",
    )


def predict_sharded(
    model: AffectModel,
    loader: DataLoader,
    ctx: DistContext,
    transforms: Mapping[Any, Transform | None],
    *,
    autocast: bool = False,
    keep_steps: Collection[Any] = (),
) -> dict[Any, Predictions] | None:
    """`predict_passes` over this rank's shard, gathered on rank 0 in dataset order (None elsewhere)."""
    sampler = loader.sampler
    if not isinstance(sampler, ShardSampler):
        raise TypeError("predict_sharded needs a loader from shard_loader (a ShardSampler)")
    local = predict_passes(model, loader, ctx.device, transforms, autocast=autocast, keep_steps=keep_steps)
    gathered = ctx.gather(local)
    if gathered is None:
        return None
    orders = [sampler.order(rank) for rank in range(ctx.world_size)]
    return {key: merge_predictions([part[key] for part in gathered], orders) for key in transforms}


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


def robustness_transforms(config: TrainConfig, audio_period_s: float | None) -> dict[tuple[str, float], Transform | None]:
    """(kind, rate) -> the drop it applies (None at rate 0: the clean batch), per `config.eval`;
    `audio_period_s` times the audio input's frames (`ModelInputs.period_s`)."""
    transforms: dict[tuple[str, float], Transform | None] = {}
    for kind in KINDS:
        for rate in config.eval.missing_rates:
            def drop(batch: Batch, kind: str = kind, rate: float = rate) -> Batch:
                return apply_drop(batch, kind, rate, config.eval.robustness_seed, config.model.step_s, audio_period_s)

            transforms[(kind, rate)] = drop if rate > 0 else None
    return transforms


def robustness_table(passes: Mapping[Any, Predictions], config: TrainConfig) -> dict[str, Any]:
    """{kind: [{rate, accuracy, macro_f1}, ...]} over `config.eval.missing_rates`."""
    sweep: dict[str, Any] = {}
    for kind in KINDS:
        rows = []
        for rate in config.eval.missing_rates:
            metrics = classification_metrics(passes[(kind, rate)].labels, passes[(kind, rate)].predicted)
            rows.append({"rate": rate, "accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"]})
        sweep[kind] = rows
    return sweep


def robustness_sweep(model: AffectModel, batches: Iterable[Batch], config: TrainConfig, device: torch.device) -> dict[str, Any]:
    """The sweep alone, in one pass over `batches` (an iterable of batches, e.g. a DataLoader)."""
    passes = predict_passes(model, batches, device, robustness_transforms(config, model.inputs.period_s("audio")))
    return robustness_table(passes, config)


def robustness_key(kind: str, rate: float) -> str:
    """The name of one missing-input pass in `test_outputs.npz` (`robustness_keys`), e.g. "modality:0.6"."""
    return f"{kind}:{rate:g}"


def split_rows(data_dir: Path, columns: Sequence[str], split: str = "test") -> list[dict[str, Any]]:
    """`columns` of every row of `split` in the dataset folder (`data/<split>-*`), nothing else read.

    A column the dataset does not have is an error naming the file (callers that can do without a
    column check the schema first).
    """
    import pyarrow.parquet as pq

    files = sorted(Path(data_dir).glob(f"data/{split}-*"))
    if not files:
        raise FileNotFoundError(f"dataset {data_dir}: no data/{split}-* files")
    rows: list[dict[str, Any]] = []
    for f in files:
        absent = [c for c in columns if c not in pq.read_schema(f).names]
        if absent:
            raise ValueError(f"{f}: no column {', '.join(absent)}")
        rows += pq.read_table(f, columns=list(columns)).to_pylist()
    return rows


def session_speakers(data_dir: Path, session_ids: Sequence[str]) -> tuple[str, ...]:
    """The speaker (`speaker_id`) of each of `session_ids`, in that order, from the dataset's test split."""
    speaker_of = {str(r["session_id"]): str(r["speaker_id"]) for r in split_rows(data_dir, ("session_id", "speaker_id"))}
    unknown = [s for s in session_ids if s not in speaker_of]
    if unknown:
        raise ValueError(f"dataset {data_dir}: test session {unknown[0]} (and {len(unknown) - 1} more) not in its test split")
    return tuple(speaker_of[s] for s in session_ids)


def save_test_outputs(
    path: Path,
    preds: Predictions,
    modalities: tuple[str, ...],
    robustness: Mapping[tuple[str, float], Predictions] | None = None,
    *,
    speaker_ids: Sequence[str],
) -> None:
    """Per-session step outputs, padded to the longest session (NaN beyond a session's end).

    With `robustness` ((kind, rate) -> that pass), each pass's per-session predictions are kept too
    (`robustness_keys`, `robustness_predicted` (K, N)): the report's claim on missing modalities
    needs them to put an interval over test sessions on an accuracy drop. `speaker_ids`: each
    session's speaker, the unit the report's intervals resample.
    """
    if len(speaker_ids) != len(preds.session_ids):
        raise ValueError(f"{len(speaker_ids)} speaker ids for {len(preds.session_ids)} test sessions")
    horizon = max((p.shape[0] for p in preds.step_probs), default=0)
    steps = np.full((len(preds.step_probs), horizon, len(CLASSES)), np.nan, np.float32)
    weights = np.full((len(preds.step_probs), horizon, len(modalities)), np.nan, np.float32)
    for i, p in enumerate(preds.step_probs):
        steps[i, : p.shape[0]] = p
        if preds.weights is not None:
            weights[i, : p.shape[0]] = preds.weights[i]
    passes = sorted((robustness or {}).items(), key=lambda item: item[0])
    for _, other in passes:
        if other.session_ids != preds.session_ids:
            raise ValueError("a robustness pass scored other sessions than the clean pass")
    extra: dict[str, Any] = {
        "robustness_keys": np.array([robustness_key(kind, rate) for (kind, rate), _ in passes], dtype=str),
        "robustness_predicted": np.array([p.predicted for _, p in passes], dtype=np.int64).reshape(len(passes), len(preds.labels)),
    } if passes else {}
    atomic_write(path, lambda tmp: np.savez_compressed(
        tmp, labels=preds.labels, session_probs=preds.session_probs, step_probs=steps,
        weights=weights, has_weights=preds.weights is not None,
        modalities=np.array(modalities), session_ids=np.array(preds.session_ids),
        speaker_ids=np.array(speaker_ids, dtype=str), **extra,
    ))


def evaluate_model(
    model: AffectModel, test_loader: DataLoader, config: TrainConfig, ctx: DistContext, run_dir: Path, *, autocast: bool = False
) -> dict[str, Any] | None:
    """Test metrics + robustness in one streamed, sharded pass over the test split.

    Rank 0 writes `test_outputs.npz` (with each session's speaker, from `config.data`) and gets the
    `test`/`robustness` entries; other ranks get None.
    """
    transforms: dict[Any, Transform | None] = {CLEAN: None, **robustness_transforms(config, model.inputs.period_s("audio"))}
    # Rate 0 is the clean batch: score it once and reuse the clean pass for every kind's rate-0 row.
    scored = {key: t for key, t in transforms.items() if key == CLEAN or t is not None}
    passes = predict_sharded(model, test_loader, ctx, scored, autocast=autocast, keep_steps=(CLEAN,))
    if passes is None:
        return None
    preds = passes[CLEAN]
    for key, transform in transforms.items():
        if transform is None:
            passes[key] = preds
    if config.data is None:
        raise ValueError(f"{run_dir}: the config names no dataset (data: null), so the test sessions' speakers are unknown")
    save_test_outputs(run_dir / TEST_OUTPUTS, preds, model.modalities, {k: passes[k] for k in transforms if k != CLEAN},
                      speaker_ids=session_speakers(config.data, preds.session_ids))
    test = classification_metrics(preds.labels, preds.predicted)
    test["loss"] = preds.loss
    return {"test": test, "robustness": robustness_table(passes, config)}


def evaluate_run(run_dir: Path, device: str = "cpu", data: Path | None = None, *, warn: Warn | None = None) -> dict[str, Any]:
    """Re-evaluate a finished run from `best.pt` and update its results.json (one process).

    The dataset is `data` when given, else the run's own wherever the command runs from
    (`run_dataset.locate_dataset`); one that is not found is a `DatasetNotFound` (exit 2), one
    that may not be the run's goes to `warn` (`run_dataset.tell`).
    """
    from edu_emotionnet.checkpoint import load_trained
    from edu_emotionnet.data import session_datasets

    run_dir = Path(run_dir)
    trained = load_trained(run_dir, device)
    model, config = trained.model, trained.config
    dataset = locate_dataset(run_dir, config.data, data)
    tell(warn, dataset.warning)
    config = config.model_copy(update={"data": dataset.path})
    datasets, _ = session_datasets(dataset.path, config.model, config.cache_dir)
    ctx = DistContext.single(device)
    loader = shard_loader(datasets["test"], config.train.batch_size, ctx, num_workers=config.train.num_workers, seed=config.seed)
    evaluated = evaluate_model(model, loader, config, ctx, run_dir)
    assert evaluated is not None  # one process is rank 0
    results_path = run_dir / RESULTS
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    results.update(evaluated)
    results.setdefault("best_epoch", trained.best_epoch)
    write_results(run_dir, results)
    return results


def write_results(run_dir: Path, results: dict[str, Any]) -> Path:
    """`RUN/results.json`, the marker of a finished run, written whole or not at all (`core.atomic`)."""
    return atomic_write_text(Path(run_dir) / RESULTS, json.dumps(results, indent=2))
