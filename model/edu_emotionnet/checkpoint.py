"""Checkpoints: `ckpt.pt` holds everything a resumed run needs to continue bit-for-bit; `best.pt` the
weights chosen on validation macro-F1, ties broken by validation loss (what evaluate, report and
predict load)."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from edu_affect_data.core.atomic import atomic_write
from edu_emotionnet.config import TrainConfig, config_from_dict
from edu_emotionnet.model import build_model
from edu_emotionnet.outputs import AffectModel

LAST = "ckpt.pt"
BEST = "best.pt"


@dataclass
class LoopState:
    next_epoch: int = 0
    best_macro_f1: float = -1.0
    best_val_loss: float = float("inf")
    best_epoch: int = -1
    bad_epochs: int = 0
    stopped_early: bool = False


def rng_states() -> dict[str, Any]:
    """The process-wide generators (dropout and anything else the model draws).

    The DataLoaders keep no state worth saving: the training order is a function of (seed,
    epoch) (`DistributedSampler.set_epoch`), every loader draws its workers' base seed from a
    generator of its own seeded by the config, and items are read without randomness, so a loader
    rebuilt by a resumed run, with or without worker processes, yields the same batches.
    """
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }


def restore_rng(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    np.random.set_state(states["numpy"])
    random.setstate(states["python"])


def _atomic_save(payload: dict[str, Any], path: Path) -> None:
    """A killed run leaves the previous checkpoint, never half of a new one."""
    atomic_write(path, lambda tmp: torch.save(payload, tmp))


def save_last(run_dir: Path, *, model: torch.nn.Module, optimizer: Any, scheduler: Any, state: LoopState,
              config: TrainConfig, text_dim: int) -> None:
    _atomic_save(
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "loop": asdict(state),
            "rng": rng_states(),
            "config": config.model_dump(mode="json"),
            "text_dim": text_dim,
        },
        run_dir / LAST,
    )


def load_last(run_dir: Path) -> dict[str, Any]:
    return torch.load(run_dir / LAST, map_location="cpu", weights_only=False)


def save_best(run_dir: Path, *, model: torch.nn.Module, config: TrainConfig, text_dim: int, epoch: int) -> None:
    _atomic_save(
        {"model": model.state_dict(), "config": config.model_dump(mode="json"), "text_dim": text_dim, "epoch": epoch},
        run_dir / BEST,
    )


@dataclass(frozen=True)
class TrainedRun:
    model: AffectModel  # in eval mode
    config: TrainConfig
    best_epoch: int
    text_dim: int


def load_trained(run_dir: Path, device: torch.device | str = "cpu") -> TrainedRun:
    """The best-on-validation model of a run, with its config."""
    path = Path(run_dir) / BEST
    if not path.exists():
        raise FileNotFoundError(f"{path}: no best checkpoint (is {run_dir} a finished training run?)")
    payload = torch.load(path, map_location="cpu", weights_only=False)
    config = config_from_dict(payload["config"])
    model = build_model(config.model, int(payload["text_dim"]))
    model.load_state_dict(payload["model"])
    return TrainedRun(model.to(device).eval(), config, int(payload["epoch"]), int(payload["text_dim"]))
