"""Checkpoints: `ckpt.pt` holds everything a resumed run needs to continue bit-for-bit; `best.pt` the
weights chosen on validation macro-F1, ties broken by validation loss (what evaluate, report and
predict load).

Each checkpoint records its `format`. Format 1 (no `format` key) held `text_dim` and the weights
of the Transformer layers under `nn.TransformerEncoderLayer`'s names; format 2 holds the dataset
inputs (`ModelInputs`) and the names of `edu_emotionnet.attention`. A format-1 checkpoint is read
through `upgrade_checkpoint` (one remap of the saved names, the inputs of that version); a format
newer than this code is refused, naming it.
"""

from __future__ import annotations

import random
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from edu_affect_data.core.atomic import atomic_write
from edu_emotionnet.config import TrainConfig, config_from_dict
from edu_emotionnet.inputs import ModelInputs, legacy_inputs
from edu_emotionnet.model import build_model
from edu_emotionnet.outputs import AffectModel

LAST = "ckpt.pt"
BEST = "best.pt"
#: What this code writes; `upgrade_checkpoint` reads every earlier one.
CHECKPOINT_FORMAT = 2
#: Format 1's `nn.TransformerEncoder` parameter names -> `attention.CausalTransformer`'s.
_FORMAT_1_NAMES = (
    (re.compile(r"\.stack\.layers\.(\d+)\.self_attn\.in_proj_(weight|bias)$"), r".layers.\1.qkv.\2"),
    (re.compile(r"\.stack\.layers\.(\d+)\.self_attn\.out_proj\.(weight|bias)$"), r".layers.\1.out.\2"),
    (re.compile(r"\.stack\.layers\.(\d+)\.linear1\.(weight|bias)$"), r".layers.\1.ff.0.\2"),
    (re.compile(r"\.stack\.layers\.(\d+)\.linear2\.(weight|bias)$"), r".layers.\1.ff.3.\2"),
    (re.compile(r"\.stack\.layers\.(\d+)\.norm1\.(weight|bias)$"), r".layers.\1.norm_attention.\2"),
    (re.compile(r"\.stack\.layers\.(\d+)\.norm2\.(weight|bias)$"), r".layers.\1.norm_ff.\2"),
)


class CheckpointFormatError(ValueError):
    """A checkpoint written by a newer version of this code than the one reading it."""


def upgrade_checkpoint(payload: dict[str, Any], path: Path) -> dict[str, Any]:
    """`payload` in today's format: format 1's names remapped and its inputs made explicit (a copy)."""
    written = int(payload.get("format", 1))
    if written > CHECKPOINT_FORMAT:
        raise CheckpointFormatError(
            f"{path}: checkpoint format {written} was written by a newer edu-emotionnet than this one, which reads "
            f"formats 1-{CHECKPOINT_FORMAT}; upgrade the package"
        )
    if written == CHECKPOINT_FORMAT:
        return payload
    payload = dict(payload)
    renamed = {}
    for name, value in payload["model"].items():
        for pattern, replacement in _FORMAT_1_NAMES:
            name = pattern.sub(replacement, name)
        renamed[name] = value
    payload["model"] = renamed
    video = (payload["config"].get("model") or {}).get("video") or {}
    payload["inputs"] = legacy_inputs(int(payload.pop("text_dim")), int(video.get("embedding_dim", 1280))).to_json()
    payload["format"] = CHECKPOINT_FORMAT
    return payload


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
              config: TrainConfig, inputs: ModelInputs) -> None:
    _atomic_save(
        {
            "format": CHECKPOINT_FORMAT,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "loop": asdict(state),
            "rng": rng_states(),
            "config": config.model_dump(mode="json"),
            "inputs": inputs.to_json(),
        },
        run_dir / LAST,
    )


def read_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint's payload in today's format (`upgrade_checkpoint`)."""
    return upgrade_checkpoint(torch.load(path, map_location="cpu", weights_only=False), path)


def load_last(run_dir: Path) -> dict[str, Any]:
    return read_checkpoint(run_dir / LAST)


def save_best(run_dir: Path, *, model: torch.nn.Module, config: TrainConfig, inputs: ModelInputs, epoch: int) -> None:
    _atomic_save(
        {"format": CHECKPOINT_FORMAT, "model": model.state_dict(), "config": config.model_dump(mode="json"),
         "inputs": inputs.to_json(), "epoch": epoch},
        run_dir / BEST,
    )


@dataclass(frozen=True)
class TrainedRun:
    model: AffectModel  # in eval mode
    config: TrainConfig
    best_epoch: int
    inputs: ModelInputs


def load_trained(run_dir: Path, device: torch.device | str = "cpu") -> TrainedRun:
    """The best-on-validation model of a run, with its config."""
    path = Path(run_dir) / BEST
    if not path.exists():
        raise FileNotFoundError(f"{path}: no best checkpoint (is {run_dir} a finished training run?)")
    payload = read_checkpoint(path)
    config = config_from_dict(payload["config"])
    inputs = ModelInputs.from_json(payload["inputs"])
    model = build_model(config.model, inputs)
    model.load_state_dict(payload["model"])
    return TrainedRun(model.to(device).eval(), config, int(payload["epoch"]), inputs)
