"""Edu-EmotionNet: causal multimodal learner-emotion recognition, its baselines, trainer and tools.

Modules: `registry` (every arch: class, modalities, options, report place), `config` (the shared
`ModelConfig`; each arch's options live in its own module; `moved_keys` reads old run folders),
`encoders` (per-modality causal encoders on the step grid), `cmaa`, `mie`, `tfl` (the paper's three
components), `model` (the full model and `build_model`), `baselines`, `self_mm`, `cfn_esa`,
`hybrid_fusion`, `data` and `frame_cache` (the published dataset as batches), `train`, `evaluate` /
`robustness`, `runs` / `report` / `significance` / `claims` / `figures`, `experiments` (suites),
`streaming` (step-by-step inference), `cli` (its `edu-data` commands, joined by entry point).
Names below are imported on first use, so `import edu_emotionnet` does not load torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "build_model": "edu_emotionnet.model",
    "load_train_config": "edu_emotionnet.config",
    "TrainConfig": "edu_emotionnet.config",
    "train": "edu_emotionnet.train",
    "train_seeds": "edu_emotionnet.train",
    "run_suite": "edu_emotionnet.experiments",
    "evaluate_run": "edu_emotionnet.evaluate",
    "write_report": "edu_emotionnet.report",
    "StreamingPredictor": "edu_emotionnet.streaming",
    "StepFeatures": "edu_emotionnet.streaming",
    "StepOutput": "edu_emotionnet.streaming",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'edu_emotionnet' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
