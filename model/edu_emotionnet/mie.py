"""Modality Importance Estimation (MIE, paper Eq. 6-7).

w_t^i = sigmoid(MLP_i([h_t^i, g_t^i])) * a_t^i, normalised over modalities to sum 1, and
z_t = sum_i w_t^i g_t^i. The availability a_t^i zeroes a missing modality before normalising,
so its weight is exactly 0 rather than merely small. A step where nothing is available gets all
weights 0 and z_t = 0 (finite; the feedback loop still carries the previous prediction).
The -MIE ablation keeps the masking and replaces the learned gate by equal weights.
"""

from __future__ import annotations

import torch
from torch import nn


def normalise_weights(raw: torch.Tensor, avail: torch.Tensor) -> torch.Tensor:
    """(B, T, M) gates times availability, divided by their sum (0 where nothing is available)."""
    gated = raw * avail.to(raw.dtype)
    return gated / gated.sum(dim=-1, keepdim=True).clamp_min(1e-6)


class ModalityImportance(nn.Module):
    def __init__(self, modalities: tuple[str, ...], d_model: int, learned: bool = True) -> None:
        super().__init__()
        self.modalities = modalities
        self.learned = learned
        self.gates = (
            nn.ModuleDict(
                {m: nn.Sequential(nn.Linear(2 * d_model, d_model), nn.GELU(), nn.Linear(d_model, 1)) for m in modalities}
            )
            if learned
            else None
        )

    def forward(
        self, h: dict[str, torch.Tensor], g: dict[str, torch.Tensor], avail: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Fused z (B, T, d) and the weights (B, T, M) in the order of `modalities`."""
        mask = torch.stack([avail[m] for m in self.modalities], dim=-1)
        stacked = torch.stack([g[m] for m in self.modalities], dim=-2)  # (B, T, M, d)
        if self.gates is not None:
            raw = torch.cat(
                [torch.sigmoid(self.gates[m](torch.cat([h[m], g[m]], dim=-1))) for m in self.modalities], dim=-1
            )
        else:
            raw = torch.ones_like(mask, dtype=stacked.dtype)
        weights = normalise_weights(raw, mask)
        return (weights[..., None] * stacked).sum(dim=-2), weights
