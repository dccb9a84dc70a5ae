"""A suite of runs (`model/configs/suite_*.yaml`): each variant config rebased onto one base config,
trained for every seed, sequentially, in this process (no per-run interpreter start-up)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edu_affect_data.core.strict_config import StrictModel, read_mapping, validate_tree
from edu_emotionnet.config import TrainConfig, TrainConfigError, load_train_config
from edu_emotionnet.train import train_seeds


class SuiteConfig(StrictModel):
    #: The config every variant is rebased onto (relative to the suite file).
    base: Path
    runs: list[Path]


def load_suite(path: Path, overrides: dict[str, Any] | None = None) -> list[TrainConfig]:
    """Every run's validated config; names must be unique (they name the run folders)."""
    path = Path(path)
    suite = validate_tree(SuiteConfig, read_mapping(path, TrainConfigError), f"{path} (suite)", TrainConfigError)
    configs = [load_train_config(path.parent / run, overrides, rebase=path.parent / suite.base) for run in suite.runs]
    names = [c.name for c in configs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise TrainConfigError(f"{path}: run names {duplicates} appear twice")
    return configs


def run_suite(path: Path, out: Path, seeds: list[int] | None, overrides: dict[str, Any] | None = None) -> list[Path]:
    """Train the whole suite; returns the run folders (`out/<name>`, with `seed<k>/` inside)."""
    folders = []
    for config in load_suite(path, overrides):
        folder = Path(out) / config.name
        train_seeds(config, folder, seeds)
        folders.append(folder)
    return folders
