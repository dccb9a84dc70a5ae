"""`build_state.json`: what each stage of a build read and wrote, so that a later build reuses only its own outputs.

Per stage: the hash and summary of its inputs (`build_check`), whether it completed, the outputs it
reported and every file under them with its stat and SHA-256 (`core.outputs`), its message and
figures. Paths and messages are recorded relative to `--out`, so a build folder can move. The file
is written atomically after every stage (a crash mid-write must not lose what earlier stages did).
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from edu_affect_data.build_check import StageCheck
from edu_affect_data.build_errors import BuildError
from edu_affect_data.core.artifacts import BuildPaths
from edu_affect_data.core.atomic import atomic_write_text
from edu_affect_data.core.outputs import record_outputs
from edu_affect_data.core.stage import StageOutcome

#: 2: every output file recorded with its stat and SHA-256 (1 recorded names and Parquet footers).
STATE_VERSION = 2


def stage_record(
    check: StageCheck, outcome: StageOutcome, seconds: float, paths: BuildPaths, previous: dict[str, Any] | None
) -> dict[str, Any]:
    """The stage's entry in the state: its inputs (hash and summary), its outputs, and every file
    under them with its stat and digest.

    Files unchanged since `previous` (checked at the start of this stage) keep their digests.
    """
    outputs = [relative_to_out(p, paths) for p in outcome.outputs]
    return {
        "input_hash": check.digest,
        "inputs": check.summary,
        "complete": outcome.complete,
        "outputs": outputs,
        "files": record_outputs(paths.out, outputs, (previous or {}).get("files")),
        "message": movable_message(outcome.message, paths),
        "stats": outcome.stats,
        "seconds": round(seconds, 3),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def movable_message(message: str, paths: BuildPaths) -> str:
    """The stage's message as recorded: files inside `--out` named relative to it (the console line
    keeps the full path), so the state names no place the build folder has left."""
    for root in {str(paths.out.absolute()), str(paths.out.resolve())}:
        message = message.replace(root + os.sep, "")
    return message


def relative_to_out(path: Path, paths: BuildPaths) -> str:
    """Outputs are recorded relative to `--out` when inside it, so a build folder can move."""
    try:
        return str(Path(path).resolve().relative_to(paths.out.resolve()))
    except ValueError:
        return str(Path(path).resolve())


def load_state(path: Path) -> dict[str, Any]:
    """The recorded build state, or an empty one; a state from another format version is ignored."""
    if not path.is_file():
        return {"version": STATE_VERSION, "stages": {}}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BuildError(f"{path}: not valid JSON ({exc}); delete it to rebuild everything") from exc
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION or not isinstance(state.get("stages"), dict):
        return {"version": STATE_VERSION, "stages": {}}
    return state


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Write the state atomically (a crash mid-write must not lose what earlier stages did)."""
    atomic_write_text(path, json.dumps(state, indent=2, sort_keys=True, default=str) + "\n")
