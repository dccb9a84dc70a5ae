"""Peak host memory of `edu-data evaluate` on a small and a 10x larger test split (run by hand).

    .venv/bin/python bench/evaluate_memory.py --small 100 --large 1000 --out /tmp/bench-evaluate

Writes two planted datasets in the published schema (`tests/model/planted.py`; the same small
train and validation splits, test splits of `--small` and `--large` sessions), trains the tiny
CPU config for one epoch on each (so each run has a `best.pt` naming its dataset), then runs
`edu-data evaluate RUN` in a fresh process per run and measures its peak resident set size:
`ru_maxrss` of the child (everything, memory-mapped dataset pages included) and the peak of
`RssAnon` polled from /proc every 20 ms (the process's own heap: what holding a split would
grow). Evaluation streams batches from a DataLoader and keeps only per-session outputs, so the
printed ratios (large / small) stay near 1 (target <= 1.2).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.model.planted import write_planted_dataset  # noqa: E402

EDU_DATA = Path(sys.executable).with_name("edu-data")
TINY = ROOT / "model" / "configs" / "tiny_cpu.yaml"


def dataset(out: Path, test_sessions: int, duration_s: tuple[float, float]) -> Path:
    """A planted dataset named after its size (`datasets` caches Arrow copies by folder name)."""
    folder = out / f"planted-test{test_sessions}"
    if not (folder / "README.md").exists():
        started = time.perf_counter()
        write_planted_dataset(
            folder, {"train": 16, "validation": 8, "test": test_sessions}, duration_s=duration_s, frames=False
        )
        print(f"wrote {folder.name}: {time.perf_counter() - started:.1f} s", flush=True)
    return folder


def train_run(data: Path, run: Path) -> None:
    if (run / "best.pt").exists():
        return
    command = [
        str(EDU_DATA), "train", str(TINY), "--out", str(run), "--set", f"data={data}", "--set", "train.epochs=1",
        "--set", "train.progress=false", "--set", f"cache_dir={run.parent / 'cache'}",
    ]
    subprocess.run(command, check=True, capture_output=True, text=True)


def _rss_anon_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def measure(run: Path) -> tuple[float, float, float]:
    """(seconds, peak RSS MiB, peak RssAnon MiB) of `edu-data evaluate RUN` in a fresh process."""
    started = time.perf_counter()
    process = subprocess.Popen([str(EDU_DATA), "evaluate", str(run)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak_anon = 0
    done = threading.Event()

    def poll() -> None:
        nonlocal peak_anon
        while not done.is_set():
            peak_anon = max(peak_anon, _rss_anon_kib(process.pid))
            time.sleep(0.02)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    _, status, usage = os.wait4(process.pid, 0)
    done.set()
    poller.join()
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"edu-data evaluate {run} failed: {process.stderr.read().decode()[-2000:] if process.stderr else ''}")
    return seconds, usage.ru_maxrss / 1024, peak_anon / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=1000)
    parser.add_argument("--duration", type=float, nargs=2, default=(2.0, 4.0), help="session length range, seconds")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench-evaluate"))
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    figures = {}
    for n in (args.small, args.large):
        data = dataset(args.out, n, tuple(args.duration))
        run = args.out / f"run-test{n}"
        train_run(data, run)
        seconds, rss, anon = measure(run)
        figures[n] = (rss, anon)
        print(f"test split {n:>5} sessions: evaluate {seconds:6.1f} s, peak RSS {rss:7.1f} MiB, peak RssAnon {anon:7.1f} MiB",
              flush=True)
    (small_rss, small_anon), (large_rss, large_anon) = figures[args.small], figures[args.large]
    print(f"ratio {args.large} / {args.small} sessions: peak RSS {large_rss / small_rss:.3f}, "
          f"peak RssAnon {large_anon / small_anon:.3f} (target <= 1.2)")
    print(f"this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB peak RSS")


if __name__ == "__main__":
    main()
