"""Fixtures: a small planted dataset in the published format, and tiny CPU configs over it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from edu_emotionnet.config import TrainConfig, load_train_config

from tests.model.planted import write_planted_dataset

CONFIGS = Path(__file__).resolve().parents[2] / "model" / "configs"


@pytest.fixture(scope="session")
def planted_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_planted_dataset(tmp_path_factory.mktemp("planted") / "dataset", {"train": 40, "validation": 16, "test": 16})


@pytest.fixture(scope="session")
def make_config(planted_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., TrainConfig]:
    """tiny_cpu.yaml (or a variant rebased onto it) over the planted dataset, quiet and short."""
    cache = tmp_path_factory.mktemp("frame-cache")

    def make(variant: str = "edu_emotionnet.yaml", **overrides: Any) -> TrainConfig:
        values = {"data": str(planted_dir), "cache_dir": str(cache), "train.progress": False, "train.epochs": 6,
                  "train.batch_size": 8, "eval.missing_rates": [0.0, 0.3]}
        values.update({k.replace("__", "."): v for k, v in overrides.items()})
        return load_train_config(CONFIGS / variant, values, rebase=CONFIGS / "tiny_cpu.yaml")

    return make


@pytest.fixture(scope="session")
def trained_run(make_config: Callable[..., TrainConfig], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One finished tiny run of the full model (shared by the evaluate, report and streaming tests)."""
    from edu_emotionnet.train import train

    run = tmp_path_factory.mktemp("runs") / "edu_emotionnet"
    train(make_config(train__epochs=12), run)
    return run
