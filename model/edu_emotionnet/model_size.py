"""Parameter counts of configured models, for the report's table of model sizes.

A comparison of architectures says little unless their sizes are known: a baseline can win or
lose by capacity alone. The counts here come from building each model exactly as training would
(`build_model`, the same config and text width), on PyTorch's `meta` device by default: shapes
without storage, so even paper-size models (tens of millions of parameters, or a ResNet-50 frame
CNN) are counted in milliseconds without allocating their weights. Nothing is trained or loaded.

What counts: every trainable and frozen parameter of `model.parameters()` (a shared parameter
once), the learned missing-modality vectors and null keys included, buffers excluded. The text
width is a parameter because the stored token embeddings decide the text projection's size (384
for MiniLM, 768 for bert-base); the video embedding width comes from the config.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import torch
from torch import nn

from edu_emotionnet.config import TrainConfig
from edu_emotionnet.inputs import ModelInputs
from edu_emotionnet.model import build_model


class ModelSize(NamedTuple):
    name: str
    arch: str
    parameters: int


def count_parameters(model: nn.Module) -> int:
    """Number of parameter elements; `parameters()` yields a shared parameter once."""
    return sum(p.numel() for p in model.parameters())


def parameter_counts(configs: Iterable[TrainConfig], inputs: ModelInputs, device: str = "meta") -> list[ModelSize]:
    """(name, arch, parameters) of each config's model at its configured size, in the given order.

    `device="cpu"` builds real weights instead (slower; the counts are the same).
    """
    rows = []
    for config in configs:
        with torch.device(device):
            model = build_model(config.model, inputs)
        rows.append(ModelSize(config.name, config.model.arch, count_parameters(model)))
    return rows


def _millions(n: int) -> str:
    return f"{n / 1e6:.2f} M" if n >= 10_000 else f"{n / 1e3:.1f} k"


def parameter_table(rows: Iterable[ModelSize], reference: str | None = None) -> str:
    """Markdown table of `parameter_counts` rows; with `reference` (a row's name) a column of each
    model's size relative to that one (e.g. the full model)."""
    rows = list(rows)
    base = next((r.parameters for r in rows if r.name == reference), None)
    if reference is not None and base is None:
        raise ValueError(f"no model named {reference!r} among {[r.name for r in rows]}")
    head = "| model | arch | parameters | size |" + (f" x {reference} |" if base else "")
    rule = "|---|---|---:|---:|" + ("---:|" if base else "")
    lines = [head, rule]
    for row in rows:
        cells = f"| {row.name} | {row.arch} | {row.parameters:,} | {_millions(row.parameters)} |"
        lines.append(cells + (f" {row.parameters / base:.2f} |" if base else ""))
    return "\n".join(lines)
