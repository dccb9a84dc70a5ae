"""CPU that an idle Dask cluster takes for its own bookkeeping, with Dask's defaults and quiet settings.

    python bench/dask_idle.py --idle-s 30

Starts `stage_cpu.CLUSTER_SCRIPT` (a LocalCluster of `--workers` one-thread processes in a process
of its own, as `bench/scale.py` does), leaves it idle for `--idle-s`, stops it, and reaps every
process it started (this process is a child subreaper); the CPU of a start and stop without idling
is measured the same way and subtracted. Run by hand, never in CI. On a 2-core machine, this
background CPU is taken from the build's workers.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stage_cpu import CLUSTER_SCRIPT, QUIET_CLUSTER, become_subreaper


def cluster_cpu(workers: int, idle_s: float, settings: dict[str, str]) -> float:
    """CPU seconds of a cluster's whole process tree from its start to its end, idle `idle_s` between."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with subprocess.Popen(
        [sys.executable, "-c", CLUSTER_SCRIPT, str(workers)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True, env={**os.environ, **settings},
    ) as cluster:
        assert cluster.stdout is not None and cluster.stdin is not None
        cluster.stdout.readline()
        time.sleep(idle_s)
        cluster.stdin.close()
    while True:  # orphaned nannies and workers were re-parented here
        try:
            os.wait()
        except ChildProcessError:
            break
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--idle-s", type=float, default=30.0)
    args = parser.parse_args()
    become_subreaper()
    print(f"load average {os.getloadavg()[0]:.1f}")
    for name, settings in (("defaults", {}), ("quiet (stage_cpu.QUIET_CLUSTER)", QUIET_CLUSTER)):
        start_stop = cluster_cpu(args.workers, 0.0, settings)
        idle = cluster_cpu(args.workers, args.idle_s, settings) - start_stop
        print(f"{name}: idle cluster of {args.workers} workers {100 * idle / args.idle_s:.1f} % of one core "
              f"(start + stop {start_stop:.1f} CPU s, not counted)")


if __name__ == "__main__":
    main()
