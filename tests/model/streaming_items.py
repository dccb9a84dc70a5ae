"""Synthetic sessions in `SessionDataset` item form, for the streaming and causality tests.

Random values of the real shapes, with the awkward cases planted: unavailable frames, a stretch
with no frames at all, steps without words, special tokens inside the sequence, and an MFCC frame
count that is not a multiple of the audio encoder's down-sampling.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from edu_emotionnet.config import TrainConfig, load_train_config

CONFIGS = Path(__file__).resolve().parents[2] / "model" / "configs"
TEXT_DIM = 24
EMBEDDING_DIM = 20
#: Video settings of the two inputs: stored embeddings (the paper's), or pixels through the small CNN.
VIDEO = {
    "embeddings": {"model.video.input": "embeddings", "model.video.embedding_dim": EMBEDDING_DIM, "model.video.frame_stride": 1},
    "pixels": {"model.video.input": "pixels", "model.video.backbone": "small_cnn", "model.video.frame_size": 16,
               "model.video.cnn_channels": 4, "model.video.frame_stride": 2},
}


def tiny_config(variant: str = "edu_emotionnet.yaml", video: str = "embeddings", **overrides: Any) -> TrainConfig:
    """tiny_cpu.yaml under `variant`, with one of the two video inputs and dotted overrides."""
    values: dict[str, Any] = {**VIDEO[video], "model.dropout": 0.0}
    values.update({k.replace("__", "."): v for k, v in overrides.items()})
    return load_train_config(CONFIGS / variant, values, rebase=CONFIGS / "tiny_cpu.yaml")


def session_item(config: TrainConfig, duration_s: float, seed: int, fps: float = 5.0) -> dict[str, Any]:
    """One session: audio (MFCC-like) frames at 10 ms, frames at `fps` (none in [2, 3.5) s), words ~2 per second."""
    generator = torch.Generator().manual_seed(seed)
    n_steps = max(1, int(torch.tensor(duration_s / config.model.step_s).ceil()))
    item: dict[str, Any] = {"session_id": f"s{seed}", "label": seed % 4, "n_steps": n_steps}
    item["audio"] = torch.randn(round(duration_s * 100) + 1, 40, generator=generator)
    times = torch.arange(0, duration_s, 1 / fps, dtype=torch.float32)
    times = times[(times < 2.0) | (times >= 3.5)]
    item["frame_times"] = times
    item["frame_available"] = torch.rand(len(times), generator=generator) > 0.2
    video = config.model.video
    if video.input == "embeddings":
        item["frame_embeddings"] = torch.randn(len(times), video.embedding_dim, generator=generator).half()
    else:
        item["frames"] = torch.randint(0, 256, (len(times), 3, video.frame_size, video.frame_size), dtype=torch.uint8, generator=generator)
    n_words, n_tokens = int(duration_s * 2), 64
    ends = torch.full((n_tokens,), -1.0)
    word_ends = torch.sort(torch.rand(n_words, generator=generator) * (duration_s - 0.2) + 0.2).values
    ends[1 : n_words + 1] = word_ends
    mask = torch.zeros(n_tokens, dtype=torch.bool)
    mask[1 : n_words + 1] = True
    mask[n_words // 2] = False  # a special token inside the sequence rides with its neighbour
    item["tokens"] = torch.randn(n_tokens, TEXT_DIM, generator=generator).half()
    item["token_end_s"] = ends
    item["token_mask"] = mask
    return item
