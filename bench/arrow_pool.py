"""Peak memory of the build's stages under each Arrow allocator, on `bench/scale.py`'s builds (by hand).

    .venv/bin/python bench/arrow_pool.py /work/bench-mem                      # after bench/scale.py --out /work/bench-mem
    .venv/bin/python bench/arrow_pool.py /work/bench-mem --pools jemalloc --stages publish --rounds 2
    .venv/bin/python bench/arrow_pool.py /work/bench-mem --pools jemalloc --stages publish --set dataset.max_row_group_mb=100

`bench/scale.py --out OUT` leaves, per size, its build (`OUT/SIZE/build`) and the job files it ran
(`OUT/SIZE/jobs/STAGE.job.json`). This runs those stage jobs again, each under
`ARROW_DEFAULT_MEMORY_POOL=POOL` (the variable Arrow reads when it loads; `edu_affect_data.core.
arrow_memory` is why the `edu-data` command names jemalloc on Linux), in the same supervisor as the
bench (`stage_cpu.run_job`: peak RSS of the largest single process, CPU of the whole tree), and
prints per stage and pool each size's peak RSS and the largest / smallest ratio (issue 24's target
<= 1.2). Split and publish rerun in place (forced: they rewrite their outputs with the same
content); the ingest runs, forced, in a copy of the build made of hard links (`OUT/SIZE/pool-copy`,
deleted after), so it reuses the video pass's proxies and writes nothing into the bench's build.
A job file whose `config` no longer exists (the checkout that ran the bench moved) is pointed at
this checkout's `pipelines/demo.yaml`, with a note. `--set KEY=VALUE` (repeatable) adds a config
override to every job, e.g. to measure another `dataset.max_row_group_mb` than the default; the
stages then rewrite their outputs with it (the ingest's copy aside), so a later run without it puts
them back.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stage_cpu import run_job  # bench/ is not a package: found through the path above

from edu_affect_data.core.arrow_memory import POOL_VARIABLE
from edu_affect_data.core.lock import LOCK_NAME

REPO = Path(__file__).resolve().parents[1]
SIZES = ("demo", "demo-4x", "paper-shape-lite")
STAGES = ("split", "publish", "ingest")
POOLS = ("mimalloc", "system", "jemalloc")


def stage_job(out: Path, size: str, stage: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The bench's job for `stage` at `size`, forced, its config in this checkout if it moved."""
    job: dict[str, Any] = json.loads((out / size / "jobs" / f"{stage}.job.json").read_text())
    job["overrides"] = {**job.get("overrides", {}), **(overrides or {})}
    if not Path(job["config"]).exists():
        print(f"  note: {job['config']} is gone: using {REPO / 'pipelines' / 'demo.yaml'}", flush=True)
        job["config"] = str(REPO / "pipelines" / "demo.yaml")
    job["force"] = stage
    if stage == "ingest":
        copy = out / size / "pool-copy"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(job["out"], copy, copy_function=os.link)
        (copy / LOCK_NAME).unlink(missing_ok=True)  # a hard link to the bench build's own lock
        job["out"] = str(copy)
    return job


def peak_rss(out: Path, size: str, stage: str, pool: str, overrides: dict[str, Any] | None = None) -> float:
    job = stage_job(out, size, stage, overrides)
    previous = os.environ.get(POOL_VARIABLE)
    os.environ[POOL_VARIABLE] = pool  # the supervisor and the job inherit it
    try:
        figures = run_job(job, out / "arrow-pool", f"{pool}.{size}.{stage}")
    finally:
        if previous is None:
            os.environ.pop(POOL_VARIABLE, None)
        else:
            os.environ[POOL_VARIABLE] = previous
        if stage == "ingest":
            shutil.rmtree(job["out"], ignore_errors=True)
    return float(figures["peak_rss_mb"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="the --out folder of a bench/scale.py growth run")
    parser.add_argument("--sizes", nargs="+", default=list(SIZES))
    parser.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    parser.add_argument("--pools", nargs="+", default=list(POOLS), choices=POOLS)
    parser.add_argument("--rounds", type=int, default=1, help="runs of each (stage, pool), sizes interleaved")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a config override for every job (YAML value)")
    args = parser.parse_args()
    overrides = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set {item!r}: expected KEY=VALUE")
        overrides[key] = yaml.safe_load(value)
    rows = []
    for stage in args.stages:
        for pool in args.pools:
            for round_ in range(args.rounds):
                peaks = {size: peak_rss(args.out, size, stage, pool, overrides) for size in args.sizes}
                ratio = max(peaks.values()) / min(peaks.values())
                line = " | ".join(f"{peaks[size]:.0f}" for size in args.sizes)
                rows.append(f"| {stage} | {pool} | {round_ + 1} | {line} | {ratio:.2f} |")
                print(rows[-1], flush=True)
    print(f"\npeak RSS, MB (largest single process), sizes {', '.join(args.sizes)}:")
    print(f"| stage | pool | round | {' | '.join(args.sizes)} | largest / smallest |")
    print("|---|---|---|" + "---|" * len(args.sizes) + "---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
