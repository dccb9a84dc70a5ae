"""Benchmark of streaming prediction latency per 1-s step (run by hand, not in CI).

    .venv/bin/python bench/streaming_latency.py                      # the paper config
    .venv/bin/python bench/streaming_latency.py --set model.layers=2 # any override

Builds the configured model with random weights (latency does not depend on the weights) on CPU
with one torch thread, plants one 30-s session of the paper's shape (3,000 MFCC frames at 10 ms,
30 video frames per second (stored embeddings as the paper config reads them), 128 word-piece tokens of a 768-wide text model spread over the 30 s),
and streams it step by step through `StreamingPredictor`, incrementally (cached keys/values,
carried state) and, for reference, by re-running the prefix. Prints the median latency of steps 2
and 30 over the repeats and their ratio, as wall time and as the thread's CPU time (the figure
that other processes on a shared machine do not inflate). Targets (issue 14): <= 10 ms per step and step 30 <= 1.2x
step 2 for the incremental predictor.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from edu_emotionnet.config import TrainConfig, load_train_config, parse_overrides
from edu_emotionnet.model import build_model
from edu_emotionnet.streaming import StreamingPredictor, session_steps

CONFIG = Path(__file__).resolve().parents[1] / "model" / "configs" / "edu_emotionnet.yaml"
SESSION_S = 30
MFCC_PER_S = 100
FPS = 30
TOKENS = 128
#: bert-base's hidden size (the paper's text model).
TEXT_DIM = 768


def planted_session(config: TrainConfig, generator: torch.Generator) -> dict[str, Any]:
    """One 30-s session item in `SessionDataset` form, random values of the paper's shapes."""
    n_frames = SESSION_S * FPS
    item: dict[str, Any] = {"session_id": "bench", "label": 0, "n_steps": SESSION_S}
    item["mfcc"] = torch.randn(SESSION_S * MFCC_PER_S, 40, generator=generator)
    item["frame_times"] = torch.arange(n_frames, dtype=torch.float32) / FPS
    item["frame_available"] = torch.ones(n_frames, dtype=torch.bool)
    if config.model.video.input == "embeddings":
        item["frame_embeddings"] = torch.randn(n_frames, config.model.video.embedding_dim, generator=generator).half()
    else:
        size = config.model.video.frame_size
        item["frames"] = torch.randint(0, 256, (n_frames, 3, size, size), dtype=torch.uint8, generator=generator)
    words = TOKENS - 2  # [CLS] pieces [SEP]
    ends = torch.full((TOKENS,), -1.0)
    ends[1 : words + 1] = torch.linspace(0.3, SESSION_S - 0.05, words)
    mask = torch.zeros(TOKENS, dtype=torch.bool)
    mask[1 : words + 1] = True
    item.update(tokens=torch.randn(TOKENS, TEXT_DIM, generator=generator), token_end_s=ends, token_mask=mask)
    return item


def stream_latencies(predictor: StreamingPredictor, item: dict[str, Any], repeats: int) -> tuple[list[list[float]], list[list[float]]]:
    """Per repeat, the wall latency (ms, `StepOutput.latency_ms`) and the thread's CPU time (ms) of
    every step; one untimed pass first (allocations, caches). On a shared machine the CPU time is
    the figure other processes do not inflate."""
    steps = session_steps(item, predictor.config.model.step_s)
    walls, cpus = [], []
    for repeat in range(repeats + 1):
        predictor.reset()
        wall, cpu = [], []
        for features in steps:
            started = time.thread_time()
            wall.append(predictor.step(features).latency_ms)
            cpu.append((time.thread_time() - started) * 1000)
        if repeat:
            walls.append(wall)
            cpus.append(cpu)
    return walls, cpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-rerun", action="store_true", help="do not time the prefix re-run reference")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = load_train_config(args.config, parse_overrides(args.overrides))
    model = build_model(config.model, TEXT_DIM).eval()
    item = planted_session(config, torch.Generator().manual_seed(0))
    print(f"config {args.config.name} {' '.join(args.overrides)}: d={config.model.d_model}, layers={config.model.layers}, "
          f"video input {config.model.video.input}; CPU, {args.threads} thread(s); "
          f"{SESSION_S} steps of 1 s, median of {args.repeats} sessions")
    modes = [("incremental", True)] + ([] if args.skip_rerun else [("prefix re-run", False)])
    for name, incremental in modes:
        predictor = StreamingPredictor.for_model(model, config, TEXT_DIM, incremental=incremental)
        for clock, runs in zip(("wall", "cpu"), stream_latencies(predictor, item, args.repeats), strict=True):
            per_step = [statistics.median(run[t] for run in runs) for t in range(SESSION_S)]
            step2, step30 = per_step[1], per_step[SESSION_S - 1]
            print(f"{name:>14} ({clock:>4}): step 2 {step2:7.2f} ms, step 30 {step30:7.2f} ms, ratio step30/step2 "
                  f"{step30 / step2:5.2f}, mean {statistics.mean(per_step):7.2f} ms, max {max(per_step):7.2f} ms")


if __name__ == "__main__":
    main()
