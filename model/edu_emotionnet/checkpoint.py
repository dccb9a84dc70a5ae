"""Checkpoints: `ckpt.pt` holds everything a resumed run needs to continue bit-for-bit; `best.pt` the
weights chosen on validation macro-F1, ties broken by validation loss (what evaluate, report and
predict load).

Each checkpoint records its `format` and the package version that wrote it. Format 1 (no
`format` key) held `text_dim` and the weights of the Transformer layers under
`nn.TransformerEncoderLayer`'s names; format 2 holds the dataset inputs (`ModelInputs`) and the
names of `edu_emotionnet.attention`. A format-1 checkpoint is read through `upgrade_checkpoint`
(one remap of the saved names, the inputs of that version).

One that cannot be used is a `CheckpointError` (exit 2: the run folder is the user's input) naming
the file, what is wrong with it and what to do: a file that is not a checkpoint or is cut short
(random bytes give pickle's "invalid load key", a truncated one "PytorchStreamReader failed"), one
of a format newer than this code (`CheckpointFormatError`), one that lacks what its format holds,
or whose weights do not fit the model its config describes (then the version that wrote it is
named, or that it recorded none).
"""

from __future__ import annotations

import pickle
import random
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from edu_affect_data import __version__
from edu_affect_data.core.atomic import atomic_write
from edu_affect_data.core.strict_config import ConfigError
from edu_emotionnet.config import TrainConfig, config_from_dict
from edu_emotionnet.inputs import ModelInputs, legacy_inputs
from edu_emotionnet.model import build_model
from edu_emotionnet.outputs import AffectModel

LAST = "ckpt.pt"
BEST = "best.pt"
#: What this code writes; `upgrade_checkpoint` reads every earlier one.
CHECKPOINT_FORMAT = 2
WRITER = f"edu-affect-data {__version__}"
#: Keys each kind of checkpoint must hold (in today's format).
LAST_KEYS = ("model", "optimizer", "scheduler", "loop", "rng", "config", "inputs")
BEST_KEYS = ("model", "config", "inputs", "epoch")
#: Format 1 held the width of the text features where today's holds the inputs.
_FORMAT_1_INSTEAD = {"inputs": "text_dim"}
#: What to do about an unusable checkpoint of each kind.
RETRAIN = "train the run again (edu-data train CONFIG --out {run} --no-resume) or restore the file from a copy"
RESTART = "rerun with --no-resume to start the run over (or with another --out), or restore the file from a copy"
#: Format 1's `nn.TransformerEncoder` parameter names -> `attention.CausalTransformer`'s.
_FORMAT_1_NAMES = (
    (re.compile(r"\.stack\.layers\.(\d+)\.self_attn\.in_proj_(weight|bias)$"), r".layers.\1.qkv.\2"),
    (re.compile(r"\.stack\.layers\.(\d+)\.self_attn\.out_proj\.(weight|bias)$"), r".layers.\1.out.\2"),
    (re.compile(r"\.stack\.layers\.(\d+)\.linear1\.(weight|bias)$"), r".layers.\1.ff.0.\2"),
    (re.compile(r"\.stack\.layers\.(\d+)\.linear2\.(weight|bias)$"), r".layers.\1.ff.3.\2"),
    (re.compile(r"\.stack\.layers\.(\d+)\.norm1\.(weight|bias)$"), r".layers.\1.norm_attention.\2"),
    (re.compile(r"\.stack\.layers\.(\d+)\.norm2\.(weight|bias)$"), r".layers.\1.norm_ff.\2"),
)


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and says what to do."""


class CheckpointFormatError(CheckpointError):
    """A checkpoint written by a newer version of this code than the one reading it."""


def _writer(payload: dict[str, Any]) -> str:
    """Which version wrote a checkpoint, as far as it says."""
    written_by = payload.get("written_by")
    if written_by is None:
        return f"written by a version that recorded none (before checkpoints named their writer); this is {WRITER}"
    return f"written by {written_by}; this is {WRITER}"


def _format_of(payload: dict[str, Any], path: Path) -> int:
    """The format `payload` was written in (format 1 recorded none); `CheckpointFormatError` past today's."""
    written = payload.get("format", 1)
    if not isinstance(written, int):
        raise CheckpointError(f"{path}: its format is {written!r}, not a number ({_writer(payload)})")
    if written > CHECKPOINT_FORMAT:
        raise CheckpointFormatError(
            f"{path}: checkpoint format {written} was written by a newer version than this one, which reads "
            f"formats 1-{CHECKPOINT_FORMAT} ({_writer(payload)}); upgrade edu-affect-data"
        )
    return written


def upgrade_checkpoint(payload: dict[str, Any], path: Path) -> dict[str, Any]:
    """`payload` in today's format: format 1's names remapped and its inputs made explicit (a copy)."""
    if _format_of(payload, path) == CHECKPOINT_FORMAT:
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


def read_checkpoint(path: Path, keys: tuple[str, ...], advice: str, map_location: Any = "cpu") -> dict[str, Any]:
    """The checkpoint at `path` holding `keys`, in today's format (`upgrade_checkpoint`), or a
    `CheckpointError` naming it and saying `advice` (where `{run}` stands for the run folder)."""
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
    if _format_of(payload, path) < CHECKPOINT_FORMAT:  # what it must hold to be upgraded
        keys = tuple(_FORMAT_1_INSTEAD.get(key, key) for key in keys)
    missing = [key for key in keys if key not in payload]
    if missing:
        raise CheckpointError(f"{path}: holds no {', '.join(missing)} ({_writer(payload)}); {advice}")
    return upgrade_checkpoint(payload, path)


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
    stamped = {**payload, "written_by": WRITER}
    atomic_write(path, lambda tmp: torch.save(stamped, tmp))


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


def load_last(run_dir: Path) -> dict[str, Any]:
    """`RUN/ckpt.pt`, checked (`read_checkpoint`): what a resumed run continues from."""
    return read_checkpoint(Path(run_dir) / LAST, LAST_KEYS, RESTART)


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
        raise CheckpointError(f"{path}: no best checkpoint (is {run_dir} a finished training run? train it first)")
    payload = read_checkpoint(path, BEST_KEYS, RETRAIN)
    config = stored_config(path, payload, RETRAIN)
    inputs = ModelInputs.from_json(payload["inputs"])
    model = build_model(config.model, inputs)
    load_weights(model, payload["model"], path, payload, "weights", RETRAIN)
    return TrainedRun(model.to(device).eval(), config, int(payload["epoch"]), inputs)
