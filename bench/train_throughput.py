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

- sessions/s over the whole training loop (the epoch's `sessions_per_s` in metrics.jsonl: steps x
  batch over the loop's wall time, the DataLoader's start and the first step included, so short
  runs read low) and, beside it, the **steady state**: the steps after the first `--warmup-steps`,
  from the end of step `--warmup-steps` to the end of the last (each step's end stamped by a global
  optimizer post-step hook, after a `torch.cuda.synchronize()` on CUDA so that the stamp is when the
  device finished, not when the launch returned); process start-up (imports, opening the dataset,
  building the model, the pre-flight) is outside both windows;
- peak device memory (CUDA: `torch.cuda.max_memory_allocated`, and reserved, read in the training
  process: counters, no sampling);
- peak host memory: of the training process and its DataLoader workers together (their summed
  PSS), sampled every `--memory-interval` s by **this** process, not by the training process (a
  sampler inside it would take the training's CPU and GIL; its descendants are found through
  `/proc/PID/task/*/children`, not a scan of all of /proc; Linux), and the training process's own
  peak RSS (`ru_maxrss`);
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
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "model" / "configs" / "edu_emotionnet.yaml"
SESSION_S = 30.0
FPS = 30.0


def _descendants(pid: int) -> list[int]:
    """`pid`'s children, grandchildren, ... from /proc/PID/task/TID/children (no scan of all of /proc)."""
    found, todo = [], [pid]
    while todo:
        for children in Path(f"/proc/{todo.pop()}/task").glob("*/children"):
            try:
                kids = [int(k) for k in children.read_text().split()]
            except OSError:  # the task ended meanwhile
                continue
            found += kids
            todo += kids
    return found


def _pss_tree_bytes(pid: int) -> int:
    """Proportional set size of `pid` and its descendants (DataLoader workers), from /proc.

    PSS, not RSS: forked workers share the parent's pages copy-on-write, and a sum of RSS would
    count each shared page once per process (measured here: 33 GB of RSS for a 6 GB process tree).
    """
    total = 0
    for p in [pid, *_descendants(pid)]:
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
                    break
        except OSError:
            continue
    return total


def run_sampled(command: list[str], env: dict[str, str], interval_s: float) -> int:
    """Run the training process; sample its tree's PSS from here until it exits; the peak (0 off Linux)."""
    peak = 0
    sample = Path("/proc/self/smaps_rollup").exists()
    with subprocess.Popen(command, env=env) as child:
        while child.poll() is None:
            if sample:
                peak = max(peak, _pss_tree_bytes(child.pid))
            time.sleep(interval_s)
    if child.returncode != 0:
        raise subprocess.CalledProcessError(child.returncode, command)
    return peak


class StepClock:
    """Stamps the end of every optimizer step (a global post-step hook); CUDA synchronised first."""

    def __init__(self, device: Any) -> None:
        from torch.optim.optimizer import register_optimizer_step_post_hook

        self.ends: list[float] = []
        self._device = device
        self._cuda = device.type == "cuda"
        self._handle = register_optimizer_step_post_hook(self._stamp)

    def _stamp(self, *_: object) -> None:
        import torch

        if self._cuda:
            torch.cuda.synchronize(self._device)
        self.ends.append(time.perf_counter())

    def close(self) -> None:
        self._handle.remove()


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
    from edu_emotionnet.data import session_datasets
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
    splits, inputs = session_datasets(args.data, config.model, None)  # what train() reads, as it reads it
    with torch.device("meta"):
        parameters = sum(p.numel() for p in build_model(config.model, inputs).parameters())
    shape = split_shape(splits["train"].rows, config.model.inputs.audio)
    predicted = estimate(config, shape, per_rank_batch=args.batch_size, parameters=parameters,
                         bf16=config.train.bf16 and device.type == "cuda")
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    started = time.perf_counter()
    clock = StepClock(device)
    try:
        train(config, args.run, resume=False)
    finally:
        clock.close()
    wall = time.perf_counter() - started
    if len(clock.ends) != args.steps:
        raise SystemExit(f"expected {args.steps} optimizer steps, saw {len(clock.ends)}")
    steady = clock.ends[-1] - clock.ends[args.warmup_steps - 1]
    record = json.loads((args.run / METRICS).read_text().splitlines()[0])
    if "sessions_per_s" not in record:
        raise SystemExit(f"{args.run / METRICS} has no sessions_per_s: {sorted(record)}")
    result: dict[str, Any] = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({os.cpu_count()} cores, {torch.get_num_threads()} threads)",
        "steps": args.steps, "batch_size": args.batch_size, "text_dim": args.text_dim, "parameters": parameters,
        "num_workers": config.train.num_workers, "sessions_per_s": record["sessions_per_s"], "wall_s": wall,
        "warmup_steps": args.warmup_steps, "steady_sessions_per_s": (args.steps - args.warmup_steps) * args.batch_size / steady,
        "steady_step_s": [clock.ends[i] - clock.ends[i - 1] for i in range(args.warmup_steps, args.steps)],
        "peak_rss_self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
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
    parser.add_argument("--warmup-steps", type=int, default=2,
                        help="steps left out of the steady-state figure (at least 1, fewer than --steps)")
    parser.add_argument("--memory-interval", type=float, default=0.05, help="seconds between host-memory samples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="work folder (default: a temporary one, removed)")
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not 1 <= args.warmup_steps < args.steps:
        parser.error(f"--warmup-steps {args.warmup_steps}: needs 1 <= N < --steps ({args.steps})")
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
                   "--batch-size", str(args.batch_size), "--text-dim", str(args.text_dim),
                   "--warmup-steps", str(args.warmup_steps)]
        for flag, value in (("--num-workers", args.num_workers), ("--threads", args.threads)):
            if value is not None:
                command += [flag, str(value)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "model"), str(ROOT), os.environ.get("PYTHONPATH", "")])}
        load = os.getloadavg()[0]
        peak_tree = run_sampled(command, env, args.memory_interval)
        result = {**json.loads((work / "result.json").read_text()), "peak_rss_tree": peak_tree,
                  "load_before": load, "load_after": os.getloadavg()[0]}
    report(result)


def report(r: dict[str, Any]) -> None:
    gb = 1e9
    print(f"device: {r['device']}; paper config, {r['parameters'] / 1e6:.1f} M parameters, batch {r['batch_size']}, "
          f"{r['steps']} steps, {r['num_workers']} DataLoader workers")
    steps = r["steady_step_s"]
    print(f"sessions/s: whole training loop {r['sessions_per_s']:.2f} (DataLoader start and first step included); "
          f"steady state {r['steady_sessions_per_s']:.2f} (steps {r['warmup_steps'] + 1}-{r['steps']}: "
          f"{min(steps):.3f}-{max(steps):.3f} s per step)")
    print(f"whole run in the training process, start-up, validation and test included: {r['wall_s']:.1f} s; "
          f"load average {r['load_before']:.1f} before, {r['load_after']:.1f} after")
    if "peak_device_allocated" in r:
        print(f"peak device memory: {r['peak_device_allocated'] / gb:.2f} GB allocated, {r['peak_device_reserved'] / gb:.2f} GB reserved "
              f"(pre-flight estimate {r['estimate_device'] / gb:.2f} GB)")
    else:
        print(f"peak device memory: n/a on cpu (pre-flight estimate of activations + optimizer state {r['estimate_device'] / gb:.2f} GB, "
              "held in host memory)")
    print(f"peak host RSS: {r['peak_rss_self'] / gb:.2f} GB (training process, ru_maxrss); {r['peak_rss_tree'] / gb:.2f} GB "
          f"with its DataLoader workers (summed PSS, sampled from another process); pre-flight estimate of input batches {r['estimate_host'] / gb:.2f} GB")


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


if __name__ == "__main__":
    main()
