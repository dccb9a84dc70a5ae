"""Benchmark of streaming prediction latency per 1-s step on a long session (run by hand, not in CI).

    .venv/bin/python bench/streaming_latency.py                        # paper config, its window, 120 s
    .venv/bin/python bench/streaming_latency.py --windows 8 none       # compare windows (none = the whole prefix)
    .venv/bin/python bench/streaming_latency.py --set model.layers=2   # any override

Builds the configured model with random weights (latency does not depend on the weights) on CPU
with one torch thread, plants one session of the paper's shape (`--session-s` seconds, default 120:
100 MFCC frames of 40 coefficients per second, 30 stored 1280-d frame embeddings per second, 128
word pieces of a 768-wide text model spread over the first 30 s, as the paper's text is truncated
at 128 tokens), and streams it step by step through `StreamingPredictor`, incrementally (each
module's `step`). Each `--windows` value is one variant of `model.attention_window_s`; the variants
are interleaved within every repeat (variant A, B, A, B, ...), so a load change on a shared machine
hits them alike, and each figure is the median over the repeats. Printed per variant: steps 2 and
120 (the last), their ratio, the mean and the maximum, as wall time and as the thread's CPU time
(the figure other processes on a shared machine inflate least), with `uptime`'s load before and
after. Targets (issue 23): <= 10 ms per step and step 120 / step 2 <= 1.2 with the window.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from edu_emotionnet.config import TrainConfig, load_train_config, parse_overrides
from edu_emotionnet.inputs import InputSpec, ModelInputs
from edu_emotionnet.model import build_model
from edu_emotionnet.streaming import StreamingPredictor, session_steps

CONFIG = Path(__file__).resolve().parents[1] / "model" / "configs" / "edu_emotionnet.yaml"
MFCC_PER_S = 100
N_MFCC = 40
FPS = 30
TOKENS = 128
TEXT_S = 30
#: bert-base's hidden size (the paper's text model).
TEXT_DIM = 768


def paper_inputs(config: TrainConfig) -> ModelInputs:
    """The paper dataset's inputs: 40 MFCC every 10 ms, the config's frame embeddings, bert-base tokens."""
    return ModelInputs({
        "audio": InputSpec("mfcc", N_MFCC, 1 / MFCC_PER_S),
        "video": InputSpec("frame_embeddings", config.model.video.embedding_dim),
        "text": InputSpec("token_embeddings", TEXT_DIM),
    })


def planted_session(config: TrainConfig, seconds: int, generator: torch.Generator) -> dict[str, Any]:
    """One session item in `SessionDataset` form, random values of the paper's shapes."""
    n_frames = seconds * FPS
    item: dict[str, Any] = {"session_id": "bench", "label": 0, "n_steps": seconds}
    item["audio"] = torch.randn(seconds * MFCC_PER_S, N_MFCC, generator=generator)
    item["frame_times"] = torch.arange(n_frames, dtype=torch.float32) / FPS
    item["frame_available"] = torch.ones(n_frames, dtype=torch.bool)
    if config.model.video.input == "embeddings":
        item["frame_embeddings"] = torch.randn(n_frames, config.model.video.embedding_dim, generator=generator).half()
    else:
        size = config.model.video.frame_size
        item["frames"] = torch.randint(0, 256, (n_frames, 3, size, size), dtype=torch.uint8, generator=generator)
    words = TOKENS - 2  # [CLS] pieces [SEP]
    ends = torch.full((TOKENS,), -1.0)
    ends[1 : words + 1] = torch.linspace(0.3, min(seconds, TEXT_S) - 0.05, words)
    mask = torch.zeros(TOKENS, dtype=torch.bool)
    mask[1 : words + 1] = True
    item.update(tokens=torch.randn(TOKENS, TEXT_DIM, generator=generator), token_end_s=ends, token_mask=mask)
    return item


def stream_once(predictor: StreamingPredictor, steps: list[Any]) -> tuple[list[float], list[float]]:
    """Wall (ms, `StepOutput.latency_ms`) and the thread's CPU time (ms) of every step of one session."""
    predictor.reset()
    wall, cpu = [], []
    for features in steps:
        started = time.thread_time()
        wall.append(predictor.step(features).latency_ms)
        cpu.append((time.thread_time() - started) * 1000)
    return wall, cpu


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--session-s", type=int, default=120)
    parser.add_argument("--windows", nargs="+", default=["config"], metavar="SECONDS|none|config",
                        help="model.attention_window_s variants, interleaved (config = the config's own)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    base = load_train_config(args.config, parse_overrides(args.overrides))
    variants: dict[str, StreamingPredictor] = {}
    for window in args.windows:
        value = base.model.attention_window_s if window == "config" else None if window == "none" else float(window)
        config = load_train_config(args.config, {**parse_overrides(args.overrides), "model.attention_window_s": value})
        torch.manual_seed(0)
        model = build_model(config.model, paper_inputs(config)).eval()
        variants[f"window {value if value is not None else 'none'} s"] = StreamingPredictor.for_model(model, config)
    item = planted_session(base, args.session_s, torch.Generator().manual_seed(0))
    steps = session_steps(item, base.model.step_s, 1 / MFCC_PER_S)
    print(f"config {args.config.name} {' '.join(args.overrides)}: d={base.model.d_model}, layers={base.model.layers}, "
          f"video input {base.model.video.input}; CPU, {args.threads} thread(s), torch {torch.__version__}; "
          f"{len(steps)} steps of {base.model.step_s:g} s; {args.repeats} interleaved repeats after one untimed pass each")
    print(f"load average (1, 5, 15 min) before: {load()}")
    runs: dict[str, list[tuple[list[float], list[float]]]] = {name: [] for name in variants}
    for repeat in range(args.repeats + 1):
        for name, predictor in variants.items():
            timed = stream_once(predictor, steps)
            if repeat:  # the first pass allocates and warms caches
                runs[name].append(timed)
    print(f"load average (1, 5, 15 min) after:  {load()}")
    last = len(steps) - 1
    for name, timed in runs.items():
        for clock, index in (("wall", 0), ("cpu", 1)):
            per_step = [statistics.median(run[index][t] for run in timed) for t in range(len(steps))]
            print(f"{name:>16} ({clock:>4}): step 2 {per_step[1]:6.2f} ms, step {last + 1} {per_step[last]:6.2f} ms, "
                  f"ratio {per_step[last] / per_step[1]:5.2f}, mean {statistics.mean(per_step):6.2f} ms, max {max(per_step):6.2f} ms")


if __name__ == "__main__":
    main()
