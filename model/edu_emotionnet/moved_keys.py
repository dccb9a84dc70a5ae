"""The arch-specific keys that left the shared `model:` section for `model.options`, and the one
remap of configs stored with them.

Until the model options (issue 19), `ModelConfig` held every architecture's knobs side by side:
the full model's `cmaa`/`mie`/`tfl`/`kl_weight`, MulT's `mult_layers`/`mult_kernel`,
HybridFusion's `hybrid_blocks` and the `self_mm`/`cfn_esa` sections. Each arch now owns its options
(`ModelSpec.options`), reached as `model.options` of that arch. Two kinds of old text remain:

- configs stored in run folders (`results.json`, `config.json`, `ckpt.pt`, `best.pt`) hold the
  old flat keys, every arch's at its default. `remap_moved_keys` turns such a tree into today's:
  the keys of the run's own arch become its options, the others are dropped (no arch read
  another's knobs, so dropping them changes nothing the run did). `config.config_from_dict`, the
  one reader of stored configs, applies it.
- a YAML file or `--set` written by a person is not rewritten behind their back: an old key there
  is a config error naming what to write instead (`moved_key_problems`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edu_affect_data.core.strict_config import ConfigError
from edu_emotionnet.registry import DEFAULT_ARCH

#: old `model.KEY` -> (the arch that read it, its name under that arch's `model.options`; None: a
#: section whose keys are the options themselves).
MOVED_MODEL_KEYS: dict[str, tuple[str, str | None]] = {
    "cmaa": ("edu_emotionnet", "cmaa"),
    "mie": ("edu_emotionnet", "mie"),
    "tfl": ("edu_emotionnet", "tfl"),
    "kl_weight": ("edu_emotionnet", "kl_weight"),
    "mult_layers": ("mult", "crossmodal_layers"),
    "mult_kernel": ("mult", "kernel"),
    "hybrid_blocks": ("hybrid_fusion", "blocks"),
    "self_mm": ("self_mm", None),
    "cfn_esa": ("cfn_esa", None),
}

#: (old key, its value) -> the options that value also switched. The old `tfl: false` removed the
#: feedback and the KL term together; they are two options now (`model.EduEmotionNetOptions`).
ALSO_MEANT: dict[tuple[str, Any], dict[str, Any]] = {("tfl", False): {"tfl_kl": False}}


def _arch_of(model: Mapping[str, Any]) -> str:
    arch = model.get("arch")
    return arch if isinstance(arch, str) else DEFAULT_ARCH


def moved_key_problems(model: Mapping[str, Any]) -> list[str]:
    """One sentence per old key in a raw `model:` section, saying what to write instead."""
    arch = _arch_of(model)
    problems = []
    for key in (k for k in model if k in MOVED_MODEL_KEYS):
        owner, option = MOVED_MODEL_KEYS[key]
        new = f"model.options.{option}" if option else "model.options.KEY for each of its keys"
        if owner == arch:
            problems.append(f"model.{key} moved: write {new} (an option of arch {owner})")
        else:
            problems.append(f"model.{key} was an option of arch {owner} ({new}); arch {arch} has no such option: remove it")
    return problems


def remap_moved_keys(tree: Mapping[str, Any]) -> dict[str, Any]:
    """A stored config tree with its old flat `model:` keys moved into `model.options` (a copy).

    A tree without old keys comes back unchanged. An old key that disagrees with a value already
    under `model.options` is a `ConfigError` (nothing old and new can both have written).
    """
    tree = dict(tree)
    model = tree.get("model")
    if not isinstance(model, Mapping) or not any(key in MOVED_MODEL_KEYS for key in model):
        return tree
    arch = _arch_of(model)
    model = dict(model)
    options = dict(model.get("options") or {})
    for key in [k for k in model if k in MOVED_MODEL_KEYS]:
        value = model.pop(key)
        owner, option = MOVED_MODEL_KEYS[key]
        if owner != arch or value is None:
            continue
        moved = dict(value) if option is None else {option: value}
        if option is not None:
            moved.update(ALSO_MEANT.get((key, value), {}))
        for name, setting in moved.items():
            if name in options and options[name] != setting:
                raise ConfigError(f"stored config: model.{key} and model.options.{name} disagree; keep one")
            options[name] = setting
    model["options"] = options
    tree["model"] = model
    return tree
