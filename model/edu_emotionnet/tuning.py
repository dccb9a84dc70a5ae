"""An equal tuning budget: the same small grid searched for every model of a suite, on validation only.

Without it every model runs on the settings the full model was tuned with, which favours the full
model in every comparison (issue 21: MulT, Self-MM and CFN-ESA publish learning rates from 1e-3 to
2e-5). A suite's `search:` names a grid of dotted config keys (`train.lr: [3e-4, 1e-3]`); each model
trains once per grid point with the search's seed, the point with the highest best-validation
macro-F1 is kept (ties: the earlier point in grid order), and the suite's seeds then train with it.
The test split plays no part in the choice (each trial scores it once, as every run does; nothing
reads it back). Each model's folder records the grid, every trial's validation score and the choice
(`search.json`); the report's "Tuning" section reads those files and says whether the budget was
equal across the models it compares.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from edu_affect_data.core.atomic import atomic_write_text
from edu_affect_data.core.strict_config import StrictModel
from edu_emotionnet.config import TrainConfig
from edu_emotionnet.runs import SEARCH_RECORD, TRIALS_DIR, ModelRuns


class SearchConfig(StrictModel):
    """`search:` of a suite: the grid every model of the suite gets."""

    grid: dict[str, list[Any]] = Field(description="Dotted config key -> values tried, e.g. train.lr: [3e-4, 1e-3].")
    seed: int = Field(0, description="The seed every trial trains with.")

    @model_validator(mode="after")
    def _points(self) -> SearchConfig:
        if not self.grid or any(not values for values in self.grid.values()):
            raise ValueError("search.grid needs at least one key, each with at least one value")
        return self

    def points(self) -> list[dict[str, Any]]:
        """Every combination of the grid's values, in grid order (the first key varies slowest)."""
        keys = list(self.grid)
        return [dict(zip(keys, values, strict=True)) for values in itertools.product(*self.grid.values())]


def tune(
    search: SearchConfig, folder: Path, configure: Callable[[dict[str, Any]], TrainConfig],
    train_one: Callable[[TrainConfig, Path], dict[str, Any]],
) -> dict[str, Any]:
    """Train one trial per grid point under `folder/search/<k>/`, record and return the chosen point.

    `configure(point)`: the model's config with the point's keys set (validated like any config);
    `train_one(config, run)`: trains (resuming a finished trial costs nothing) and returns results.
    """
    trials = []
    for k, point in enumerate(search.points()):
        config = configure(point).model_copy(update={"seed": search.seed})
        result = train_one(config, folder / TRIALS_DIR / str(k))
        trials.append({"point": point, "best_val_macro_f1": result["best_val_macro_f1"], "epochs_run": result["epochs_run"]})
    best = max(range(len(trials)), key=lambda i: (trials[i]["best_val_macro_f1"], -i))
    record = {
        "grid": search.grid,
        "seed": search.seed,
        "trials": trials,
        "chosen": trials[best]["point"],
        "budget": {"trials": len(trials), "epochs": sum(t["epochs_run"] for t in trials)},
        "chosen_on": "best validation macro-F1 of each trial (ties: the earlier point)",
    }
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / SEARCH_RECORD, json.dumps(record, indent=2) + "\n")
    return dict(trials[best]["point"])


def search_of(group: ModelRuns) -> dict[str, Any] | None:
    """The search record of a model's runs (one folder above its seed folders, or its own), if any."""
    for run_dir in group.run_dirs:
        for folder in (run_dir, run_dir.parent):
            if (folder / SEARCH_RECORD).is_file():
                return dict(json.loads((folder / SEARCH_RECORD).read_text()))
    return None


def render(groups: list[ModelRuns]) -> list[str]:
    """The report's "Tuning" section: per model the grid, its budget and the choice; equal or not."""
    records = {g.name: search_of(g) for g in groups}
    if not any(records.values()):
        return ["No tuning search: every model ran with its suite's settings, which were chosen for the full "
                "model (equal settings, not an equal tuning budget; a suite's `search:` gives every model the same "
                "grid).", ""]
    grids = {json.dumps(r["grid"], sort_keys=True) for r in records.values() if r}
    untuned = [name for name, r in records.items() if r is None]
    verdict = ("Every model got the same grid." if len(grids) == 1 and not untuned else
               "**The budget was not equal**: " + "; ".join(
                   ([f"not tuned: {', '.join(untuned)}"] if untuned else []) + (["the grids differ"] if len(grids) > 1 else [])) + ".")
    lines = [f"{verdict} Each point chosen on validation macro-F1 only (one trial per point, its seed below).", "",
             "| run | grid | trials (epochs) | chosen | best validation macro-F1 |", "|---|---|---|---|---|"]
    for name, r in records.items():
        if r is None:
            lines.append(f"| {name} | – | – | not tuned | – |")
            continue
        grid = ", ".join(f"`{key}` {values}" for key, values in r["grid"].items())
        chosen = ", ".join(f"`{key}`={value}" for key, value in r["chosen"].items())
        best = max(t["best_val_macro_f1"] for t in r["trials"])
        lines.append(f"| {name} | {grid} (seed {r['seed']}) | {r['budget']['trials']} ({r['budget']['epochs']}) | {chosen} | {best:.3f} |")
    return [*lines, ""]
