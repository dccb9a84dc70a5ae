"""Checkpoints: `ckpt.pt` holds everything a resumed run needs to continue bit-for-bit; `best.pt` the
weights chosen on validation macro-F1, ties broken by validation loss (what evaluate, report and
predict load).

Every checkpoint records the package version that wrote it and its format (`CHECKPOINT_FORMAT`).
One that cannot be used is a `CheckpointError` (exit 2: the run folder is the user's input) naming
the file, what is wrong with it and what to do: a file that is not a checkpoint or is cut short
(random bytes give pickle's "invalid load key", a truncated one "PytorchStreamReader failed"), one
that lacks what this version reads, or whose weights do not fit the model its config describes
(then the version that wrote it is named, or that it recorded none).
"""

from __future__ import annotations

import pickle
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from edu_affect_data import __version__
from edu_affect_data.core.atomic import atomic_write
from edu_affect_data.core.strict_config import ConfigError
from edu_emotionnet.config import TrainConfig, config_from_dict
from edu_emotionnet.model import build_model
from edu_emotionnet.outputs import AffectModel

LAST = "ckpt.pt"
BEST = "best.pt"
#: What a checkpoint holds, as this version writes and reads it; older checkpoints record none.
CHECKPOINT_FORMAT = 1
WRITER = f"edu-affect-data {__version__}"
#: Keys each kind of checkpoint must hold.
LAST_KEYS = ("model", "optimizer", "scheduler", "loop", "rng", "config", "text_dim")
BEST_KEYS = ("model", "config", "text_dim", "epoch")
#: What to do about an unusable checkpoint of each kind.
RETRAIN = "train the run again (edu-data train CONFIG --out {run} --no-resume) or restore the file from a copy"
RESTART = "rerun with --no-resume to start the run over (or with another --out), or restore the file from a copy"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and says what to do."""


def _writer(payload: dict[str, Any]) -> str:
    """Which version wrote a checkpoint, as far as it says."""
    written_by = payload.get("written_by")
    if written_by is None:
        return f"written by a version that recorded none (older than checkpoint format 1); this is {WRITER}"
    return f"written by {written_by}; this is {WRITER}"


def read_checkpoint(path: Path, keys: tuple[str, ...], advice: str, map_location: Any = "cpu") -> dict[str, Any]:
    """The checkpoint at `path` holding `keys`, or a `CheckpointError` naming it and saying `advice`
    (where `{run}` stands for the run folder)."""
    path = Path(path)
    advice = advice.format(run=path.parent)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint (is {path.parent} a training run that finished an epoch?)")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=False)
    except (pickle.UnpicklingError, EOFError, RuntimeError, ValueError, ImportError, AttributeError) as exc:
        reason = str(exc).split(". ")[0].strip().rstrip(".") or type(exc).__name__
        raise CheckpointError(
            f"{path}: not a readable checkpoint, the file is damaged (truncated or overwritten: {reason}); {advice}"
        ) from exc
    if not isinstance(payload, dict):
        raise CheckpointError(f"{path}: not a checkpoint of this package (a {type(payload).__name__}); {advice}")
    written = payload.get("format")
    if isinstance(written, int) and written > CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path}: checkpoint format {written} is newer than this version reads ({CHECKPOINT_FORMAT}); "
            f"{_writer(payload)}: upgrade edu-affect-data"
        )
    missing = [key for key in keys if key not in payload]
    if missing:
        raise CheckpointError(f"{path}: holds no {', '.join(missing)} ({_writer(payload)}); {advice}")
    return payload


def stored_config(path: Path, payload: dict[str, Any], advice: str) -> TrainConfig:
    """The training config a checkpoint holds; one this version cannot read names the file and its writer."""
    try:
        return config_from_dict(payload["config"])
    except ConfigError as exc:
        raise CheckpointError(
            f"{path}: its config does not load ({exc}); {_writer(payload)}; {advice.format(run=path.parent)}"
        ) from exc


def load_weights(module: Any, state: Any, path: Path, payload: dict[str, Any], what: str, advice: str) -> None:
    """`module.load_state_dict(state)`; weights that do not fit are a `CheckpointError` naming the writer."""
    try:
        module.load_state_dict(state)
    except (RuntimeError, KeyError, ValueError, TypeError) as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        reason = " ".join(lines[:2])[:300] or type(exc).__name__  # "Error(s) in loading ...:" + the first key
        raise CheckpointError(
            f"{path}: cannot load its {what} ({reason}); {_writer(payload)}; {advice.format(run=path.parent)}"
        ) from exc


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
    stamped = {**payload, "format": CHECKPOINT_FORMAT, "written_by": WRITER}
    atomic_write(path, lambda tmp: torch.save(stamped, tmp))


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
    """`RUN/ckpt.pt`, checked (`read_checkpoint`): what a resumed run continues from."""
    return read_checkpoint(Path(run_dir) / LAST, LAST_KEYS, RESTART)


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
        raise CheckpointError(f"{path}: no best checkpoint (is {run_dir} a finished training run? train it first)")
    payload = read_checkpoint(path, BEST_KEYS, RETRAIN)
    config = stored_config(path, payload, RETRAIN)
    model = build_model(config.model, int(payload["text_dim"]))
    load_weights(model, payload["model"], path, payload, "weights", RETRAIN)
    return TrainedRun(model.to(device).eval(), config, int(payload["epoch"]), int(payload["text_dim"]))
