"""Train one model: setup, data, model, optimizer, loop, evaluate, checkpoint (read top to bottom).

The best checkpoint is chosen on the validation split only (macro-F1, ties broken by the lower
validation loss); the test split is scored once, at the end, with that checkpoint. Each epoch's
log line carries train loss and accuracy next to the validation figures, so a run that does not
learn (flat train loss) is told apart from one that overfits (train accuracy up, validation down).

`RUN/ckpt.pt` is written after every epoch with everything a resumed run needs (weights,
optimizer, scheduler, loop counters, the process RNG states), so an interrupted run resumed ends
with the metrics of an uninterrupted one, with or without DataLoader workers: the training order
is a function of (seed, epoch) alone (a DistributedSampler, one replica without DDP) and no
loader touches the global RNG (`checkpoint.rng_states`).

Under torchrun the same code runs DDP with `train.batch_size` as the global batch (each rank
takes batch_size / world_size; a world size that does not divide it is an error). Validation,
test and robustness are sharded over the ranks and gathered on rank 0
(`evaluate.predict_sharded`), which decides on early stopping and broadcasts its decision; only
rank 0 writes. Every parameter gets a gradient on every rank at every step (no sub-network is
skipped on a data condition), so DDP runs without `find_unused_parameters`.

`RUN/results.json` marks a finished run: a resume that finds it (and a finished checkpoint) returns
it instead of scoring the test split again. It, like every file a run leaves whole (config.json,
test_outputs.npz, the checkpoints, the rewritten metrics log), goes through `core.atomic`: a kill
mid-write leaves the previous file or none, never half of one that the next resume would read.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler

from edu_affect_data.core.atomic import atomic_write_text, remove_stale_temporaries
from edu_affect_data.core.interrupt import checkpoint
from edu_affect_data.core.progress import Tracked
from edu_emotionnet.checkpoint import (
    BEST,
    BEST_KEYS,
    LAST,
    RESTART,
    RETRAIN,
    LoopState,
    load_last,
    load_weights,
    read_checkpoint,
    restore_rng,
    save_best,
    save_last,
)
from edu_emotionnet.config import TrainConfig, TrainConfigError
from edu_emotionnet.data import collate, session_datasets
from edu_emotionnet.distributed import (
    per_rank_batch,
    setup_distributed,
    teardown_distributed,
    teardown_distributed_if_initialized,
)
from edu_emotionnet.evaluate import (
    RESULTS,
    classification_metrics,
    evaluate_model,
    predict_sharded,
    shard_loader,
    write_results,
)
from edu_emotionnet.model import build_model
from edu_emotionnet.preflight import preflight
from edu_emotionnet.run_dataset import record_dataset

METRICS = "metrics.jsonl"


def lr_factor(epoch: int, warmup_epochs: int, decay_epochs: list[int], decay_factor: float) -> float:
    """Linear warm-up over the first epochs, then a step decay at each milestone."""
    if epoch < warmup_epochs:
        return (epoch + 1) / warmup_epochs
    return float(decay_factor ** sum(epoch >= m for m in decay_epochs))


def is_better(macro_f1: float, loss: float, state: LoopState) -> bool:
    """Higher validation macro-F1 wins; an equal one wins on lower validation loss.

    A validation split of a dozen sessions takes only a few distinct macro-F1 values, so ties are
    common, and keeping the first of them would freeze the choice on an early, barely trained
    epoch; the loss separates them.
    """
    if macro_f1 != state.best_macro_f1:
        return macro_f1 > state.best_macro_f1
    return loss < state.best_val_loss


def seed_everything(seed: int, deterministic: bool) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)


def train(
    config: TrainConfig, run_dir: Path, *, resume: bool = True, on_epoch_end: Callable[[int], None] | None = None
) -> dict[str, Any]:
    """Train, select on validation, test once; returns results.json's content (rank 0; {} elsewhere)."""
    threads = torch.get_num_threads()
    if config.train.threads is not None:
        torch.set_num_threads(config.train.threads)
    try:
        return _train(config, Path(run_dir), resume, on_epoch_end)
    finally:
        # On every way out (an exception on this rank included) the process group goes: a process
        # that exits with gloo's worker threads alive aborts in C++ ("terminate called without an
        # active exception") and hides the Python error that caused it.
        teardown_distributed_if_initialized()
        torch.set_num_threads(threads)


def _train(
    config: TrainConfig, run_dir: Path, resume: bool, on_epoch_end: Callable[[int], None] | None
) -> dict[str, Any]:
    # ---------------------------------------------------------------- setup
    if config.data is None:
        raise TrainConfigError("no dataset: set `data:` in the config or pass --set data=PATH")
    ctx = setup_distributed(config.train.device)
    loop = config.train
    batch_per_rank = per_rank_batch(loop.batch_size, ctx.world_size)
    if ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(run_dir)  # what a killed writer of this folder left behind
        atomic_write_text(run_dir / "config.json", json.dumps(config.model_dump(mode="json"), indent=2))
        record_dataset(run_dir, config.data)  # where the dataset is from the run folder: later commands work from anywhere
    seed_everything(config.seed, config.train.deterministic)
    use_bf16 = loop.bf16 and ctx.device.type == "cuda"

    # ---------------------------------------------------------------- data
    # Rank 0 builds the frame cache first; the others then only load it.
    if ctx.is_main:
        datasets, inputs = session_datasets(config.data, config.model, config.cache_dir, loop.in_memory)
    ctx.barrier()
    if not ctx.is_main:
        datasets, inputs = session_datasets(config.data, config.model, config.cache_dir, loop.in_memory)
    # The order is a function of (seed, epoch) only, on one process as under DDP: nothing to restore.
    sampler: DistributedSampler[int] = DistributedSampler(datasets["train"], ctx.world_size, ctx.rank, shuffle=True, seed=config.seed)
    persistent = loop.num_workers > 0
    train_loader = DataLoader(
        datasets["train"], batch_size=batch_per_rank, sampler=sampler, collate_fn=collate,
        generator=torch.Generator().manual_seed(config.seed), pin_memory=ctx.device.type == "cuda",
        num_workers=loop.num_workers, persistent_workers=persistent,
    )
    val_loader = shard_loader(
        datasets["validation"], batch_per_rank, ctx, num_workers=loop.num_workers, persistent=True, seed=config.seed
    )

    # ---------------------------------------------------------------- model
    model = build_model(config.model, inputs).to(ctx.device)
    n_params = sum(p.numel() for p in model.parameters())
    # Before any step: a config that cannot fit this device or host stops here, with the knobs named.
    preflight(config, datasets["train"], ctx.device, per_rank_batch=batch_per_rank, parameters=n_params)
    forward_model: torch.nn.Module = model
    if loop.compile:
        forward_model = torch.compile(model)  # type: ignore[assignment]
    if ctx.enabled:
        forward_model = torch.nn.parallel.DistributedDataParallel(
            forward_model, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None
        )

    # ---------------------------------------------------------------- optimizer
    optimizer = torch.optim.AdamW(model.parameters(), lr=loop.lr, weight_decay=loop.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda e: lr_factor(e, loop.warmup_epochs, loop.decay_epochs, loop.decay_factor)
    )
    state = LoopState()
    if resume and (run_dir / LAST).exists():
        saved = load_last(run_dir)
        finished = saved["loop"]["stopped_early"] or saved["loop"]["next_epoch"] >= loop.epochs
        if finished and (run_dir / RESULTS).exists():  # done before: never score the test split twice
            teardown_distributed(ctx)
            return json.loads((run_dir / RESULTS).read_text()) if ctx.is_main else {}
        changed = f"the config differs from the one the run started with? {RESTART}"
        for module, key, what in ((model, "model", "weights"), (optimizer, "optimizer", "optimizer state"),
                                  (scheduler, "scheduler", "schedule")):
            load_weights(module, saved[key], run_dir / LAST, saved, what, changed)
        state = LoopState(**saved["loop"])
        restore_rng(saved["rng"])
        if ctx.is_main:
            _truncate_metrics(run_dir / METRICS, state.next_epoch)

    # ---------------------------------------------------------------- loop
    epochs = range(state.next_epoch, loop.epochs) if not state.stopped_early else range(0)
    bar = _progress(epochs, config.name, enabled=loop.progress and ctx.is_main)
    for epoch in bar:
        started = time.perf_counter()
        sampler.set_epoch(epoch)
        forward_model.train()
        loss_sum, sessions, correct = 0.0, 0, 0
        for batch in train_loader:
            checkpoint()  # Ctrl-C/SIGTERM stop between steps (edu_affect_data.core.interrupt)
            batch = batch.to(ctx.device)
            with torch.autocast(ctx.device.type, dtype=torch.bfloat16, enabled=use_bf16):
                output = forward_model(batch)
                loss = model.loss(output, batch.labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if loop.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), loop.grad_clip)
            optimizer.step()
            loss_sum += float(loss.detach()) * batch.size
            sessions += batch.size
            correct += int((output.session_log_probs.argmax(-1) == batch.labels).sum())
        loss_sum, sessions_f, correct_f = ctx.sum([loss_sum, float(sessions), float(correct)])
        train_seconds = time.perf_counter() - started
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step()

        # ------------------------------------------------------------ evaluate (validation), rank 0 decides
        gathered = predict_sharded(model, val_loader, ctx, {"validation": None}, autocast=use_bf16)
        improved = False
        if gathered is not None:
            val = gathered["validation"]
            val_metrics = classification_metrics(val.labels, val.predicted)
            improved = is_better(val_metrics["macro_f1"], val.loss, state)
            if improved:
                state.best_macro_f1, state.best_val_loss = val_metrics["macro_f1"], val.loss
                state.best_epoch, state.bad_epochs = epoch, 0
            else:
                state.bad_epochs += 1
            state.next_epoch = epoch + 1
            state.stopped_early = state.bad_epochs >= loop.patience
        state, improved = ctx.broadcast((state, improved))

        # ------------------------------------------------------------ checkpoint
        if ctx.is_main:
            if improved:
                save_best(run_dir, model=model, config=config, inputs=inputs, epoch=epoch)
            record = {
                "epoch": epoch, "train_loss": loss_sum / max(sessions_f, 1.0),
                "train_accuracy": correct_f / max(sessions_f, 1.0), "val_loss": val.loss,
                "val_accuracy": val_metrics["accuracy"], "val_macro_f1": val_metrics["macro_f1"], "lr": lr,
                "seconds": time.perf_counter() - started, "sessions_per_s": sessions_f / train_seconds,
            }
            with (run_dir / METRICS).open("a") as log:
                log.write(json.dumps(record) + "\n")
            save_last(run_dir, model=model, optimizer=optimizer, scheduler=scheduler, state=state,
                      config=config, inputs=inputs)
            bar.describe(f"loss {record['train_loss']:.3f}, val F1 {val_metrics['macro_f1']:.3f}")
        ctx.barrier()  # best.pt and ckpt.pt are on disk before any rank goes on
        if on_epoch_end is not None:
            on_epoch_end(epoch)
        if state.stopped_early:
            break

    # ---------------------------------------------------------------- test, once, best checkpoint
    # Every rank loads best.pt (on disk since the last epoch's barrier) and scores its shard of the
    # test split under every robustness drop in one streamed pass; rank 0 gathers and writes.
    best = read_checkpoint(run_dir / BEST, BEST_KEYS, RETRAIN, map_location=ctx.device)
    load_weights(model, best["model"], run_dir / BEST, best, "weights", RETRAIN)
    test_loader = shard_loader(datasets["test"], batch_per_rank, ctx, num_workers=loop.num_workers, seed=config.seed)
    evaluated = evaluate_model(model, test_loader, config, ctx, run_dir)
    results: dict[str, Any] = {}
    if evaluated is not None:
        results = {
            "name": config.name, "arch": config.model.arch, "seed": config.seed, "best_epoch": state.best_epoch,
            "best_val_macro_f1": state.best_macro_f1, "epochs_run": state.next_epoch,
            "stopped_early": state.stopped_early, "parameters": n_params, "world_size": ctx.world_size,
            "inputs": inputs.to_json(),
            "config": config.model_dump(mode="json"), **evaluated,
        }
        write_results(run_dir, results)
    ctx.barrier()
    teardown_distributed(ctx)
    return results


def train_seeds(config: TrainConfig, out: Path, seeds: list[int] | None, *, resume: bool = True) -> list[dict[str, Any]]:
    """One run per seed under `out/seed<k>/`; without seeds, one run in `out` with config.seed."""
    if not seeds:
        return [train(config, out, resume=resume)]
    return [train(config.model_copy(update={"seed": s}), Path(out) / f"seed{s}", resume=resume) for s in seeds]


def _truncate_metrics(path: Path, next_epoch: int) -> None:
    """Drop log lines of epochs after the checkpoint (written before an interruption).

    The log is appended to before each checkpoint, so a kill during an append leaves a partial
    last line of an epoch the checkpoint does not hold: it goes with the other later epochs.
    """
    if path.exists():
        lines = [line for line in path.read_text().splitlines() if _epoch_of(line) < next_epoch]
        atomic_write_text(path, "".join(f"{line}\n" for line in lines))


def _epoch_of(line: str) -> float:
    """The epoch a metrics line records; infinity for a line that is not a whole record."""
    try:
        return float(json.loads(line)["epoch"])
    except (ValueError, KeyError, TypeError):
        return float("inf")


def _progress(epochs: range, name: str, enabled: bool) -> Tracked[int]:
    """The epochs, counted for the log when `enabled`: a bar on a terminal, plain lines in a log file."""
    return Tracked(epochs, len(epochs), f"train {name}", "epoch", enabled=enabled)
