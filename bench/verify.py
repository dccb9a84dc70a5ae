"""The cost of checking a stage's outputs before reusing them: a no-op rebuild, three ways (run by hand).

    .venv/bin/python bench/verify.py demo-output/build --config pipelines/demo.yaml \\
        --iemocap demo-output/corpora/IEMOCAP_full_release --mosei demo-output/corpora/CMU_MOSEI

BUILD is a finished build (every stage complete, e.g. the one `make demo` leaves), built by this
version. In one run, the modes alternating for `--repeat` rounds, it times a rebuild in which
every stage is skipped:

* `before`: the build driver of commit `--before` (default: the commit before outputs were
  verified by content): outputs exist, each Parquet output's footer reads with the recorded rows and
  schema, upstream outputs hashed again (file content; folders as listings). It reads the state it
  would have written itself, recorded from the same files with its own functions;
* `default`: this version: every recorded file's stat; a digest only where the stat changed (none);
* `verify`: `edu-data build --verify`: every recorded file's SHA-256.

It prints the median seconds of each, the ratios to `before`, and the build's size (recorded files,
bytes). Every mode reads the same files each round, so the page cache is as warm for one as for the
others; on a cold cache `verify` costs a read of the whole build folder. Figures are ratios measured
together on whatever machine runs this (on a shared machine, say so with them).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from rich.console import Console

from edu_affect_data import build as current
from edu_affect_data.config import PipelineConfig, load_config
from edu_affect_data.core.artifacts import BuildPaths

REPO = Path(__file__).resolve().parents[1]
#: The last commit whose build checked outputs by existence and Parquet footers (issue 20's base).
BEFORE = "d9d3dcd"
MODES = ("before", "default", "verify")


def driver_at(commit: str) -> ModuleType:
    """`edu_affect_data/build.py` as it was at `commit`, imported beside this version's package."""
    source = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{commit}:edu_affect_data/build.py"], capture_output=True, text=True, check=True
    ).stdout
    folder = Path(tempfile.mkdtemp(prefix="build-before-"))
    path = folder / "build_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("build_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_before"] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def state_before(before: ModuleType, config: PipelineConfig, paths: BuildPaths, now: dict[str, Any]) -> dict[str, Any]:
    """The state the old driver records for these outputs: its input hashes and Parquet footers, stage by stage."""
    state: dict[str, Any] = {"version": before.STATE_VERSION, "stages": {}}
    for spec in before.STAGES:
        record = now["stages"][spec.name]
        state["stages"][spec.name] = {
            "input_hash": before.input_hash(spec, config, paths, state),
            "complete": True,
            "outputs": record["outputs"],
            "parquet": before._parquet_summaries(record["outputs"], paths),
            "message": record["message"],
            "stats": record["stats"],
        }
    return state


def no_op(mode: str, driver: ModuleType, config: PipelineConfig, paths: BuildPaths, state: dict[str, Any]) -> float:
    """Seconds of one rebuild that skips every stage (the state written first, untimed)."""
    paths.build_state.write_text(json.dumps(state, indent=2, sort_keys=True, default=str) + "\n")
    quiet = Console(file=io.StringIO())
    options: dict[str, Any] = {"verify": True} if mode == "verify" else {}
    started = time.perf_counter()
    result = driver.run_build(config, paths.out, console=quiet, **options)
    seconds = time.perf_counter() - started
    if result.ran or not result.complete:
        raise SystemExit(f"{mode}: the rebuild was not a no-op (ran {result.ran}): is {paths.out} a finished build of this version?")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("build", type=Path, help="a finished build folder (its build_state.json from this version)")
    parser.add_argument("--config", type=Path, default=REPO / "pipelines" / "demo.yaml")
    parser.add_argument("--iemocap", type=Path, required=True)
    parser.add_argument("--mosei", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=5, help="rounds (each times every mode once)")
    parser.add_argument("--before", default=BEFORE, help="commit whose build.py is the old driver")
    args = parser.parse_args()

    paths = BuildPaths(args.build)
    config = load_config(args.config, {"corpora.iemocap.root": str(args.iemocap.resolve()), "corpora.mosei.root": str(args.mosei.resolve())})
    now = current.load_state(paths.build_state)
    if now.get("version") != current.STATE_VERSION or any(not r.get("complete") for r in now["stages"].values()):
        raise SystemExit(f"{paths.build_state}: not a finished build of this version (build it first)")
    before = driver_at(args.before)
    old = state_before(before, config, paths, now)
    drivers = {"before": before, "default": current, "verify": current}
    states = {"before": old, "default": now, "verify": now}
    seconds: dict[str, list[float]] = {mode: [] for mode in MODES}
    try:
        for mode in MODES:  # a first, untimed round: imports and the page cache, for every mode
            no_op(mode, drivers[mode], config, paths, states[mode])
        for _ in range(args.repeat):
            for mode in MODES:
                seconds[mode].append(no_op(mode, drivers[mode], config, paths, states[mode]))
    finally:
        with contextlib.suppress(OSError):
            paths.build_state.write_text(json.dumps(now, indent=2, sort_keys=True, default=str) + "\n")

    files = {rel: entry for record in now["stages"].values() for rel, entry in record["files"].items()}
    print(f"build: {paths.out} ({len(files)} recorded files, {sum(e['size'] for e in files.values()) / 2**20:.0f} MiB)")
    print(f"old driver: build.py at {args.before}; {args.repeat} rounds, medians, warm page cache")
    base = statistics.median(seconds["before"])
    print("| no-op rebuild | median s | min s | max s | ratio to before |")
    print("|---|---|---|---|---|")
    for mode in MODES:
        median = statistics.median(seconds[mode])
        print(f"| {mode} | {median:.3f} | {min(seconds[mode]):.3f} | {max(seconds[mode]):.3f} | {median / base:.2f}x |")


if __name__ == "__main__":
    main()
