"""Where a stage's parent process holds its memory: RSS at marked points inside one bench job.

    .venv/bin/python bench/stage_memory.py OUT/SIZE/jobs/STAGE.job.json [--copy-build DIR]

Runs one job that `bench/scale.py` wrote (`OUT/SIZE/jobs/{ingest,clips,split,publish}.job.json`)
again, in this process, with a thread sampling this process's RSS every 5 ms and the stage's
steps wrapped so each one's entry and exit are marked: per step the RSS on entry, the highest RSS
while it ran, the RSS after it and the bytes Arrow's memory pool held after it. The job's build
folder is the bench's (the stage overwrites its own outputs with the same content); with
`--copy-build DIR` it is first copied to DIR and the job runs there. Only the parent is measured:
pool workers are other processes (`bench/scale.py` reports the largest single process).

Which functions are steps is `STEPS` below (module attribute paths, patched where the stage looks
them up); a step that does not exist in the code under test is skipped with a note, so the same
script measures the code before and after a change. A generator's line covers its creation only:
its work shows in the step that consumes it (ingest's row groups: `write_session_groups`).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import resource
import shutil
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # stage_cpu

#: Steps per job, as (module, attribute): the function is replaced in that module's namespace.
STEPS: dict[str, tuple[tuple[str, str], ...]] = {
    "ingest": (
        ("edu_affect_data.stages.ingest", "read_corpora"),
        ("edu_affect_data.stages.ingest", "build_sessions"),
        ("edu_affect_data.stages.ingest", "assess_corpora"),
        ("edu_affect_data.stages.ingest", "sessions_table"),
        ("edu_affect_data.stages.ingest", "write_sessions"),
        ("edu_affect_data.stages.ingest", "write_report"),
        ("edu_affect_data.stages.ingest", "write_session_groups"),
    ),
    "clips": (
        ("stage_cpu", "_kept_rows"),
        ("stage_cpu", "_kept_windows"),
        ("edu_affect_data.annotation.clips", "make_clips"),
        ("edu_affect_data.annotation.clips", "make_kept_clips"),
        ("edu_affect_data.annotation.clips", "cut_clips"),
    ),
    "split": (
        ("edu_affect_data.stages.split", "load_labelled_sessions"),
        ("edu_affect_data.stages.split", "build_assignment"),
        ("edu_affect_data.stages.split", "save_table"),
        ("edu_affect_data.stages.split", "split_report"),
    ),
    "publish": (
        ("edu_affect_data.stages.publish", "load_plan"),
        ("edu_affect_data.stages.publish", "read_index"),
        ("edu_affect_data.stages.publish", "_rows"),
        ("edu_affect_data.stages.publish", "split_stats"),
        ("edu_affect_data.stages.publish", "render_card"),
    ),
}


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Sampler:
    """The highest RSS since the last `reset`, sampled by a daemon thread."""

    def __init__(self, interval_s: float = 0.005) -> None:
        self.peak = rss_mb()
        self.interval_s = interval_s
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            self.peak = max(self.peak, rss_mb())
            time.sleep(self.interval_s)

    def reset(self) -> float:
        peak, self.peak = max(self.peak, rss_mb()), rss_mb()
        return peak


def wrap(sampler: Sampler, name: str, fn: Any, lines: list[str]) -> Any:
    import pyarrow as pa

    depth = {"n": 0}

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        depth["n"] += 1
        first = depth["n"] == 1
        if first:
            before = rss_mb()
            sampler.reset()
            if tracemalloc.is_tracing():
                tracemalloc.reset_peak()
        try:
            return fn(*args, **kwargs)
        finally:
            depth["n"] -= 1
            if first:
                traced = ""
                if tracemalloc.is_tracing():
                    current, peak = tracemalloc.get_traced_memory()
                    traced = f"{current / 2**20:9.1f}{peak / 2**20:9.1f}"
                    tracemalloc.reset_peak()
                lines.append(f"  {name:28}{before:9.0f}{sampler.reset():9.0f}{rss_mb():9.0f}"
                             f"{pa.total_allocated_bytes() / 2**20:10.1f}{traced}")

    return wrapped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("job", type=Path)
    parser.add_argument("--copy-build", type=Path, default=None)
    parser.add_argument("--tracemalloc", action="store_true",
                        help="also Python's own allocations per step (current and peak MB; slower)")
    args = parser.parse_args()
    job = json.loads(args.job.read_text())
    if args.copy_build is not None:
        shutil.rmtree(args.copy_build, ignore_errors=True)
        shutil.copytree(job["out"], args.copy_build, symlinks=True)
        job["out"] = str(args.copy_build)
    if job["kind"] == "build":
        job["force"] = job["stage"]  # its outputs are there: run it again all the same
    from edu_affect_data.core.arrow_memory import choose_arrow_pool

    choose_arrow_pool()  # Arrow's allocator as the `edu-data` command names it, before pyarrow loads
    import datasets  # noqa: F401  (as stage_cpu.job_build imports it first)
    import stage_cpu

    stage = job.get("stage") or job["kind"]
    sampler = Sampler()
    lines: list[str] = []
    for module_name, attribute in STEPS[stage]:
        module = importlib.import_module(module_name)
        if not hasattr(module, attribute):
            print(f"(no {module_name}.{attribute} in this code: skipped)")
            continue
        setattr(module, attribute, wrap(sampler, attribute, getattr(module, attribute), lines))
    if args.tracemalloc:
        tracemalloc.start()
    start = rss_mb()
    sampler.reset()
    stage_cpu.JOBS[job["kind"]](job)
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux: exact, where sampling can miss a spike
    print(f"{stage}: {args.job}; RSS after imports {start:.0f} MB, peak of the whole job {sampler.reset():.0f} MB sampled, "
          f"{maxrss:.0f} MB ru_maxrss")
    traced = f"{'py MB':>9}{'py peak':>9}" if args.tracemalloc else ""
    print(f"  {'step (each outer call)':28}{'in MB':>9}{'peak MB':>9}{'out MB':>9}{'arrow MB':>10}{traced}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
