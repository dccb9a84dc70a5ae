"""Where a run's dataset is, so `evaluate`, `report` and `predict` work from any folder.

A config names its dataset as the user wrote it (`data: out/dataset`, relative to the folder
`train` ran in). That is no address for a later command run elsewhere, so `train` also records,
beside the run, where the dataset is seen from the run folder (`RUN/dataset.json`):

    {"relative_to_run": "../../build/dataset", "shards": ["test-00000-of-00001-<digest>.parquet", ...]}

The record holds no absolute path (an artifact never does: a folder of runs and its dataset can be
moved together). A command finds the dataset by one rule, the first that gives a folder:

1. `--data DIR`, when given (a folder that is not there is an error naming it);
2. the recorded path, resolved against the run folder: a run and its dataset moved or copied
   together, keeping their relative position, still find each other;
3. the config's `data` as written: an absolute path as it is, a relative one against the current
   folder (how runs trained before the record existed were found).

Nothing found is an error naming the run and what was tried (a `DatasetFormatError`: exit 2).
The shard names record which dataset it was: `publish` names each shard by its content's digest,
so a folder found at the recorded place whose shards differ (the dataset was rebuilt) is used
with a warning that says so, never silently.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edu_affect_data.core.atomic import atomic_write_text
from edu_emotionnet.data import DatasetFormatError

#: The record beside a run's config.json.
RUN_DATASET = "dataset.json"
#: Where a command's warnings go (the CLI: one line on stderr).
Warn = Callable[[str], None]


def tell(warn: Warn | None, message: str) -> None:
    """`message` (when not empty) to `warn`, or as a Python warning when the caller gave none: never dropped."""
    if not message:
        return
    if warn is not None:
        warn(message)
    else:
        warnings.warn(message, stacklevel=3)


class DatasetNotFound(DatasetFormatError):
    """No dataset folder for a run (or `--data` names none); the message names what was tried."""


@dataclass(frozen=True)
class RunDataset:
    """The dataset folder a run uses, how it was found, and what a reader must be told about it."""

    #: Absolute (resolved): two runs of one dataset name the same folder, whatever the paths they were given by.
    path: Path
    #: "--data", "recorded beside the run" or "the config's data".
    found_by: str
    #: Empty, or why this may not be the dataset the run was trained on.
    warning: str = ""


def shard_names(dataset: Path) -> list[str]:
    """The Parquet shards of a published dataset (`data/*.parquet`), sorted: their names carry their content's digest."""
    return sorted(p.name for p in (Path(dataset) / "data").glob("*.parquet"))


def record_dataset(run_dir: Path, data: Path) -> Path:
    """Write `RUN/dataset.json`: `data` as seen from `run_dir`, and its shard names."""
    run_dir, data = Path(run_dir), Path(data)
    relative = os.path.relpath(data.resolve(), run_dir.resolve())
    record = {"relative_to_run": Path(relative).as_posix(), "shards": shard_names(data)}
    return atomic_write_text(run_dir / RUN_DATASET, json.dumps(record, indent=2) + "\n")


def read_record(run_dir: Path) -> dict[str, object] | None:
    """`RUN/dataset.json`, or None for a run trained before it was written (or one whose record is unreadable)."""
    path = Path(run_dir) / RUN_DATASET
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("relative_to_run"), str) else None


def check_override(data: Path) -> Path:
    """`--data DIR` as given; one that is not a folder is a `DatasetNotFound` naming it."""
    if not Path(data).is_dir():
        raise DatasetNotFound(f"{data}: no such dataset folder (--data)")
    return Path(data)


def locate_dataset(run_dir: Path, configured: Path | str | None, override: Path | None = None) -> RunDataset:
    """The dataset folder of the run in `run_dir` by the module's rule; `DatasetNotFound` when none is there.

    `configured`: the run's config `data`, as stored in its checkpoint or results.json.
    """
    run_dir = Path(run_dir)
    record = read_record(run_dir)
    if override is not None:
        path = check_override(override).resolve()
        return RunDataset(path, "--data", _shards_differ(path, record, run_dir))
    tried = []
    if record is not None:
        recorded = (run_dir / str(record["relative_to_run"])).resolve()
        if recorded.is_dir():
            return RunDataset(recorded, "recorded beside the run", _shards_differ(recorded, record, run_dir))
        tried.append(f"{recorded} (recorded in {run_dir / RUN_DATASET})")
    if configured:
        path = Path(configured)
        if path.is_dir():
            return RunDataset(path.resolve(), "the config's data", _shards_differ(path, record, run_dir))
        tried.append(f"{path} (the config's data{'' if path.is_absolute() else ', from the current folder'})")
    if not tried:
        raise DatasetNotFound(f"{run_dir}: the run names no dataset (config data: null); pass --data DATASET")
    raise DatasetNotFound(f"{run_dir}: its dataset is not found (tried {'; '.join(tried)}); pass --data DATASET")


def _shards_differ(found: Path, record: dict[str, object] | None, run_dir: Path) -> str:
    """A warning when `found` holds other shards than the run recorded (empty when the same, or nothing recorded)."""
    if record is None or not isinstance(record.get("shards"), list):
        return ""
    if shard_names(found) == record["shards"]:
        return ""
    return (
        f"{found}: not the dataset {run_dir} was trained on (its shards differ from those recorded in "
        f"{run_dir / RUN_DATASET}: rebuilt or replaced since)"
    )
