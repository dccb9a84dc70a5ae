"""A suite of runs (`model/configs/suite_*.yaml`): each variant config rebased onto one base config,
trained for every seed, sequentially, in this process (no per-run interpreter start-up).

A suite's optional `search:` gives every run the same tuning grid, chosen on validation before
the seeds train (`tuning.py`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edu_affect_data.core.strict_config import StrictModel, read_mapping, validate_tree
from edu_emotionnet.config import TrainConfig, TrainConfigError, load_train_config
from edu_emotionnet.train import train, train_seeds
from edu_emotionnet.tuning import SearchConfig, tune


class SuiteConfig(StrictModel):
    #: The config every variant is rebased onto (relative to the suite file).
    base: Path
    runs: list[Path]
    #: One tuning grid for every run (None: every run keeps its config's settings).
    search: SearchConfig | None = None


def _read_suite(path: Path) -> SuiteConfig:
    return validate_tree(SuiteConfig, read_mapping(path, TrainConfigError), f"{path} (suite)", TrainConfigError)


def load_suite(path: Path, overrides: dict[str, Any] | None = None) -> list[TrainConfig]:
    """Every run's validated config; names must be unique (they name the run folders)."""
    path = Path(path)
    suite = _read_suite(path)
    configs = [load_train_config(path.parent / run, overrides, rebase=path.parent / suite.base) for run in suite.runs]
    names = [c.name for c in configs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise TrainConfigError(f"{path}: run names {duplicates} appear twice")
    return configs


def run_suite(
    path: Path, out: Path, seeds: list[int] | None, overrides: dict[str, Any] | None = None,
    only: list[str] | None = None,
) -> list[Path]:
    """Train the whole suite (or the runs named in `only`); returns the run folders (`out/<name>`, with `seed<k>/` inside).

    With a `search:`, each run first tunes (`tuning.tune`: trials in `out/<name>/search/`, the record
    in `out/<name>/search.json`), then its seeds train with the chosen point. A `--set` key is
    applied on top of the point, so it wins over the grid (and says so: it is in the run's config).
    `only` lets processes share a suite without sharing a run folder (each model's trials and seeds
    in one process): a name the suite does not have is an error naming those it has.
    """
    path = Path(path)
    suite = _read_suite(path)
    configs = load_suite(path, overrides)
    names = [config.name for config in configs]
    unknown = sorted(set(only or ()) - set(names))
    if unknown:
        raise TrainConfigError(f"{path}: no run named {', '.join(unknown)} (its runs: {', '.join(names)})")
    folders = []
    for run, config in zip(suite.runs, configs, strict=True):
        if only is not None and config.name not in only:
            continue
        folder = Path(out) / config.name
        if suite.search is not None:
            def configure(point: dict[str, Any], run: Path = run) -> TrainConfig:
                return load_train_config(path.parent / run, {**point, **(overrides or {})}, rebase=path.parent / suite.base)

            config = configure(tune(suite.search, folder, configure, train))
        train_seeds(config, folder, seeds)
        folders.append(folder)
    return folders
