"""Training throughput of the paper config on the paper's per-session shape, on whatever device is here.

    python bench/train_throughput.py --device cpu --steps 3 --batch-size 8
    python bench/train_throughput.py --device cuda --steps 20 --batch-size 128 --text-dim 768

Writes a planted dataset in the published schema (`tests/model/planted.py`, `features.extractors.frames.store:
embeddings`) with the paper's session: 30 s = 3,000 MFCC frames x 40, 900 frame embeddings x 1280
(float16, 30 fps), 128 tokens x `--text-dim` (384 MiniLM, 768 bert-base); as many training
sessions as the steps consume (steps x batch), and one batch each for validation and test. Then
trains `model/configs/edu_emotionnet.yaml` for one epoch of exactly those steps through the real
`edu_emotionnet.train.train` (DataLoader, pre-flight, bf16 autocast on CUDA, checkpointing, the
final test) in a child process, and prints:

- sessions/s of the training steps (the epoch's `sessions_per_s` in metrics.jsonl: steps x batch
  over the training loop's wall time, first step included, so short runs read low);
- peak device memory (CUDA: `torch.cuda.max_memory_allocated`, and reserved);
- peak host memory: of the training process and its DataLoader workers together (their summed
  PSS, sampled from /proc every 20 ms; Linux), and the training process's own peak RSS (`ru_maxrss`);
- the pre-flight estimate for the same step, next to the measurements.

The paper's targets: on one 80 GB-class GPU at batch 128, <= 40 GB peak device memory and >= 100
training sessions/s; on a CPU, one step at batch 8 within 8 GB of host memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "model" / "configs" / "edu_emotionnet.yaml"
SESSION_S = 30.0
FPS = 30.0


def _pss_tree_bytes(pid: int) -> int:
    """Proportional set size of `pid` and its direct children (DataLoader workers), from /proc.

    PSS, not RSS: forked workers share the parent's pages copy-on-write, and a sum of RSS would
    count each shared page once per process (measured here: 33 GB of RSS for a 6 GB process tree).
    """
    total = 0
    pids = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:  # field 4 of stat, the parent pid
                pids.append(int(entry.name))
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


class PeakRss:
    """Samples the process tree's PSS in a thread; `peak` is the largest sum seen."""

    def __init__(self, interval_s: float = 0.02) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval_s,), daemon=True)

    def _run(self, interval_s: float) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _pss_tree_bytes(os.getpid()))
            time.sleep(interval_s)

    def __enter__(self) -> PeakRss:
        if Path("/proc/self/smaps_rollup").exists():
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


def write_dataset(out: Path, sessions: int, batch: int, text_dim: int, seed: int) -> Path:
    sys.path.insert(0, str(ROOT))
    from tests.model.planted import write_planted_dataset

    return write_planted_dataset(
        out, {"train": sessions, "validation": batch, "test": batch}, text_dim=text_dim, seed=seed,
        duration_s=(SESSION_S, SESSION_S), fps=FPS, frames=False, rows_per_group=16,
    )


def train_child(args: argparse.Namespace) -> dict[str, Any]:
    """Runs in the child: one epoch of `steps` optimizer steps; returns the measurements."""
    import torch
    from edu_emotionnet.config import load_train_config
    from edu_emotionnet.data import load_splits
    from edu_emotionnet.model import build_model
    from edu_emotionnet.preflight import estimate, split_shape
    from edu_emotionnet.train import METRICS, train

    overrides = {
        "data": str(args.data), "train.epochs": 1, "train.batch_size": args.batch_size, "train.device": args.device,
        "train.progress": False, "eval.missing_rates": [0.0], "train.compile": False,
    }
    if args.num_workers is not None:
        overrides["train.num_workers"] = args.num_workers
    if args.threads is not None:
        overrides["train.threads"] = args.threads
    config = load_train_config(CONFIG, overrides)
    device = torch.device(args.device)
    with torch.device("meta"):
        parameters = sum(p.numel() for p in build_model(config.model, args.text_dim).parameters())
    shape = split_shape(load_splits(args.data, config.model.video.input)["train"])
    predicted = estimate(config, shape, per_rank_batch=args.batch_size, parameters=parameters,
                         bf16=config.train.bf16 and device.type == "cuda")
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    started = time.perf_counter()
    with PeakRss() as rss:
        train(config, args.run, resume=False)
    wall = time.perf_counter() - started
    record = json.loads((args.run / METRICS).read_text().splitlines()[0])
    if "sessions_per_s" not in record:
        raise SystemExit(f"{args.run / METRICS} has no sessions_per_s: {sorted(record)}")
    result: dict[str, Any] = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({os.cpu_count()} cores, {torch.get_num_threads()} threads)",
        "steps": args.steps, "batch_size": args.batch_size, "text_dim": args.text_dim, "parameters": parameters,
        "num_workers": config.train.num_workers, "sessions_per_s": record["sessions_per_s"], "wall_s": wall,
        "peak_rss_tree": rss.peak, "peak_rss_self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "estimate_activations": predicted.activations, "estimate_device": predicted.device, "estimate_host": predicted.host,
    }
    if device.type == "cuda":
        result["peak_device_allocated"] = torch.cuda.max_memory_allocated(device)
        result["peak_device_reserved"] = torch.cuda.max_memory_reserved(device)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cuda" if _cuda() else "cpu")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--text-dim", type=int, default=768, choices=(384, 768))
    parser.add_argument("--num-workers", type=int, default=None, help="DataLoader workers (default: the config's)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="work folder (default: a temporary one, removed)")
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:  # the training process
        args.data, args.run = args.child / "dataset", args.child / "run"
        (args.child / "result.json").write_text(json.dumps(train_child(args)))
        return

    with tempfile.TemporaryDirectory(prefix="train-throughput-") as tmp:
        work = args.out or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        sessions = args.steps * args.batch_size
        started = time.perf_counter()
        write_dataset(work / "dataset", sessions, args.batch_size, args.text_dim, args.seed)
        print(f"planted {sessions} training sessions of {SESSION_S:.0f} s (3000 x 40 MFCC, {SESSION_S * FPS:.0f} x 1280 "
              f"frame embeddings, 128 x {args.text_dim} tokens) in {time.perf_counter() - started:.1f} s")
        command = [sys.executable, __file__, "--child", str(work), "--device", args.device, "--steps", str(args.steps),
                   "--batch-size", str(args.batch_size), "--text-dim", str(args.text_dim)]
        for flag, value in (("--num-workers", args.num_workers), ("--threads", args.threads)):
            if value is not None:
                command += [flag, str(value)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "model"), str(ROOT), os.environ.get("PYTHONPATH", "")])}
        subprocess.run(command, check=True, env=env)
        result = json.loads((work / "result.json").read_text())
    report(result)


def report(r: dict[str, Any]) -> None:
    gb = 1e9
    print(f"device: {r['device']}; paper config, {r['parameters'] / 1e6:.1f} M parameters, batch {r['batch_size']}, "
          f"{r['steps']} steps, {r['num_workers']} DataLoader workers")
    print(f"sessions/s: {r['sessions_per_s']:.2f} (training steps only; whole run incl. setup, validation, test: {r['wall_s']:.1f} s)")
    if "peak_device_allocated" in r:
        print(f"peak device memory: {r['peak_device_allocated'] / gb:.2f} GB allocated, {r['peak_device_reserved'] / gb:.2f} GB reserved "
              f"(pre-flight estimate {r['estimate_device'] / gb:.2f} GB)")
    else:
        print(f"peak device memory: n/a on cpu (pre-flight estimate of activations + optimizer state {r['estimate_device'] / gb:.2f} GB, "
              "held in host memory)")
    print(f"peak host RSS: {r['peak_rss_self'] / gb:.2f} GB (training process, ru_maxrss); {r['peak_rss_tree'] / gb:.2f} GB "
          f"with its DataLoader workers (summed PSS); pre-flight estimate of input batches {r['estimate_host'] / gb:.2f} GB")


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


if __name__ == "__main__":
    main()
