"""How fast Ctrl-C and SIGTERM stop `edu-data build` during ingest's video pass (run by hand).

    .venv/bin/python bench/interrupt.py --out /tmp/bench-interrupt --profile demo --trials 7

Synthesizes the corpora of `--profile` once and times one uninterrupted `edu-data build
pipelines/demo.yaml --until ingest` (how many proxies it writes, how long it takes). Then, for each
signal, `--trials` builds into a fresh folder, each in a session of its own, are sent the signal
once a seeded number of proxies has begun: SIGINT to the whole process group, as a terminal's
Ctrl-C; SIGTERM to the build's process only, as `kill` or `docker stop`. Per run it prints the
seconds from the signal to the build's exit, the exit status, the seconds until no process of its
group is alive (pool workers, ffmpeg, the fork server), the temporaries left and the last line.
A run that has not ended 60 s after its signal is a hang: it is killed and counted.

The summary gives, per signal, the median and maximum stop time, the runs that took over the 5 s
the README promises, the hangs and the runs with a wrong status or leftovers, and the stop time as
a share of the uninterrupted ingest measured in the same run (the machine's load moves both).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.helpers.processes import live_members  # noqa: E402

HANG_S = 60.0
PROMISE_S = 5.0


@dataclass(frozen=True)
class Run:
    signal: str
    at: int
    stop_s: float | None  # None: hung
    status: int
    gone_s: float
    temporaries: int
    last_line: str


def build_argv(corpora: Path, out: Path) -> list[str]:
    return [str(REPO / ".venv" / "bin" / "edu-data"), "build", str(REPO / "pipelines" / "demo.yaml"), "--until", "ingest",
            "--out", str(out), "--iemocap", str(corpora / "IEMOCAP_full_release"), "--mosei", str(corpora / "CMU_MOSEI")]  # fmt: skip


def proxies_begun(out: Path) -> int:
    video = out / "manifest" / "video"
    return sum(1 for _ in video.rglob("*.mp4")) if video.is_dir() else 0


def interrupt(corpora: Path, out: Path, signum: int, at: int) -> Run:
    shutil.rmtree(out, ignore_errors=True)
    log = out.with_suffix(".log")
    with log.open("w") as stderr:
        process = subprocess.Popen(build_argv(corpora, out), start_new_session=True, stdout=subprocess.DEVNULL, stderr=stderr)
        while proxies_begun(out) < at and process.poll() is None:
            time.sleep(0.01)
        if process.poll() is not None:
            raise SystemExit(f"the build ended before {at} proxies: lower the points or use a larger --profile")
        sent = time.monotonic()
        if signum == signal.SIGINT:
            os.killpg(process.pid, signal.SIGINT)
        else:
            os.kill(process.pid, signum)
        try:
            process.wait(timeout=HANG_S)
            stop_s: float | None = time.monotonic() - sent
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            stop_s = None
        while live_members(process.pid) and time.monotonic() - sent < HANG_S:
            time.sleep(0.02)
        gone_s = time.monotonic() - sent
    lines = log.read_text().strip().splitlines()
    return Run(signal.Signals(signum).name, at, stop_s, process.returncode, gone_s,
               sum(1 for _ in out.rglob(".*.tmp-*")), lines[-1] if lines else "")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--profile", default="demo")
    parser.add_argument("--trials", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from edu_affect_data.synth import synthesize

    corpora = args.out / f"corpora-{args.profile}"
    if not (corpora / "synth_truth.json").exists():
        synthesize(corpora, args.profile, 0)
    started = time.monotonic()
    reference = args.out / "reference"
    shutil.rmtree(reference, ignore_errors=True)
    subprocess.run(build_argv(corpora, reference), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ingest_s = time.monotonic() - started
    proxies = proxies_begun(reference)
    print(f"uninterrupted build --until ingest: {ingest_s:.1f} s, {proxies} proxies (profile {args.profile})")
    rng = random.Random(args.seed)
    runs: list[Run] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        for trial in range(args.trials):
            run = interrupt(corpora, args.out / f"run-{trial}", signum, rng.randrange(1, proxies))
            runs.append(run)
            stop = f"{run.stop_s:5.2f} s" if run.stop_s is not None else " HUNG  "
            print(f"{run.signal:7} at proxy {run.at:3}: stopped in {stop}, exit {run.status}, group gone after "
                  f"{run.gone_s:5.2f} s, {run.temporaries} temporaries | {run.last_line}")
    print()
    for name in ("SIGINT", "SIGTERM"):
        mine = [r for r in runs if r.signal == name]
        times = [r.stop_s for r in mine if r.stop_s is not None] or [float("nan")]
        expected = 128 + signal.Signals[name]
        wrong = [r for r in mine if r.status != expected or r.temporaries or r.gone_s >= HANG_S]
        print(f"{name}: {len(mine)} runs, stop median {statistics.median(times):.2f} s, max {max(times):.2f} s "
              f"({max(times) / ingest_s:.2f} of the uninterrupted ingest), over {PROMISE_S:.0f} s: "
              f"{sum(t > PROMISE_S for t in times)}, hung: {sum(r.stop_s is None for r in mine)}, "
              f"wrong status or leftovers: {len(wrong)}")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
