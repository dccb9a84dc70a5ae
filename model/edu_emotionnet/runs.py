"""The finished runs a report reads: every results.json under some folders, grouped by config name.

Seeds of one config name are its repetitions. Where a group appears (which table, which claim,
which figure) follows from its arch's `ReportPlace` in the registry and from its options (a run
of the full model with a component switched off is that ablation), never from a name written in
the report's code and never from a test score. The report, its paired tests, its claims and its
figures all read groups from here, below them in the import order.

Two runs of one configuration with the same seed are an error naming both folders: every paired
test pairs runs by seed, and keeping either one silently would decide the comparison by folder
order.
"""

from __future__ import annotations

import errno
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from edu_emotionnet.config import TrainConfigError, config_from_dict
from edu_emotionnet.evaluate import RESULTS
from edu_emotionnet.registry import ReportPlace, ReportRole, UnknownModelError, model_spec
from edu_emotionnet.run_dataset import DatasetNotFound, RunDataset, locate_dataset


class DuplicateRunError(ValueError):
    """Two runs of one configuration with the same seed (the message names both folders)."""

    def __init__(self, name: str, seed: int, first: Path, second: Path) -> None:
        super().__init__(
            f"{first} and {second}: both are run {name!r} seed {seed}; pass only one of them "
            "(paired tests pair runs by seed)"
        )


@dataclass
class ModelRuns:
    """All seeds of one configuration, with the validated options its runs were trained with."""

    name: str
    arch: str
    options: BaseModel
    results: list[dict[str, Any]] = field(default_factory=list)
    run_dirs: list[Path] = field(default_factory=list)

    @property
    def place(self) -> ReportPlace:
        return model_spec(self.arch).table

    @property
    def switched_off(self) -> tuple[str, ...]:
        """The full model's components this configuration switches off (its ablation switches set false)."""
        return tuple(option for option in self.place.ablations if not getattr(self.options, option))

    @property
    def is_full_model(self) -> bool:
        return self.place.full_model and not self.switched_off

    @property
    def is_ablation(self) -> bool:
        return self.place.full_model and bool(self.switched_off)

    @property
    def display(self) -> str:
        """The row name: the model's display name, plus the labels of what an ablation switches off."""
        return " ".join([self.place.display, *(self.place.ablations[o] for o in self.switched_off)])

    @property
    def table_ii_group(self) -> str | None:
        """Its Table II group ("unimodal" or "fusion"); an ablation is in Table III only."""
        return None if self.is_ablation else self.place.table_ii

    def has_role(self, role: ReportRole) -> bool:
        """Whether its arch holds `role` (`registry.REPORT_ROLES`); an ablation holds none."""
        return role in self.place.roles and not self.is_ablation

    def add(self, result: dict[str, Any], run_dir: Path) -> None:
        """One more seed; a seed this configuration already has is a `DuplicateRunError` naming both runs."""
        seed = int(result["seed"])
        for other, folder in zip(self.results, self.run_dirs, strict=True):
            if int(other["seed"]) == seed:
                raise DuplicateRunError(self.name, seed, folder, Path(run_dir))
        self.results.append(result)
        self.run_dirs.append(Path(run_dir))

    def by_seed(self) -> dict[int, tuple[dict[str, Any], Path]]:
        """seed -> (results.json, run folder); a repeated seed is a `DuplicateRunError`."""
        found: dict[int, tuple[dict[str, Any], Path]] = {}
        for result, folder in zip(self.results, self.run_dirs, strict=True):
            seed = int(result["seed"])
            if seed in found:
                raise DuplicateRunError(self.name, seed, found[seed][1], folder)
            found[seed] = (result, folder)
        return found

    def dataset_of(self, run_dir: Path, data: Path | None = None) -> Path | str:
        """The dataset folder of the run in `run_dir`: `data` when given, else the run's own, found
        from any folder (`run_dataset.locate_dataset`); or, when there is none, why (a sentence)."""
        if data is not None:
            return Path(data)
        found = self.located(run_dir)
        return found.path if isinstance(found, RunDataset) else found

    def located(self, run_dir: Path) -> RunDataset | str:
        """How the run in `run_dir` finds its dataset now (with any warning about it), or why it finds none."""
        result = self.results[self.run_dirs.index(Path(run_dir))]
        try:
            return locate_dataset(run_dir, result.get("config", {}).get("data"))
        except DatasetNotFound as exc:
            return str(exc)

    def values(self, key: str) -> np.ndarray:
        return np.array([r["test"][key] for r in self.results], dtype=float)

    def summary(self, key: str) -> tuple[float, float]:
        values = self.values(key)
        return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


#: A model's record of its tuning search, beside its seed folders (`RUN/search.json`, `tuning.py`).
SEARCH_RECORD = "search.json"
#: The folder of a model's search trials (`RUN/search/<k>/`): trials are not runs of the report.
TRIALS_DIR = "search"


def is_search_trial(results: Path) -> bool:
    """Whether a results.json is a tuning trial's (`RUN/search/<k>/results.json` beside `RUN/search.json`)."""
    return any(parent.name == TRIALS_DIR and (parent.parent / SEARCH_RECORD).is_file() for parent in results.parents)


def collect_runs(paths: list[Path]) -> list[ModelRuns]:
    """Group every results.json under `paths` by config name (order: full model first, then as found).

    Tuning trials (`is_search_trial`) are not runs: the report reads their record instead. Each
    run's stored config is read back through `config.config_from_dict` (old flat model keys
    included), so the options deciding its place are exactly those it was trained with.
    """
    groups: dict[str, ModelRuns] = {}
    for root in paths:
        root = Path(root)
        if not root.exists():
            raise FileNotFoundError(errno.ENOENT, "no such run folder", str(root))
        found = sorted(p for p in root.rglob(RESULTS) if not is_search_trial(p)) if root.is_dir() else []
        if not found:
            raise FileNotFoundError(errno.ENOENT, f"no {RESULTS} under it (train first)", str(root))
        for path in found:
            result = json.loads(path.read_text())
            try:
                model_spec(result["arch"])
            except UnknownModelError as exc:
                raise UnknownModelError(f"{path}: {exc} (is the package that registers it installed?)") from exc
            try:
                options = config_from_dict(result["config"]).model.options
            except TrainConfigError as exc:
                raise TrainConfigError(f"{path}: {exc}") from exc
            group = groups.setdefault(result["name"], ModelRuns(result["name"], result["arch"], options))
            group.add(result, path.parent)
    return sorted(groups.values(), key=lambda g: not g.is_full_model)
