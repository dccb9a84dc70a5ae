"""Cross-Modal Attention Alignment (CMAA, paper Eq. 4-5).

Every modality i attends over every other modality j along the step grid, causally: step t of i
sees the steps s <= t of j where j is available. A learned null key/value is always visible, so a
step whose whole visible source prefix is missing attends to the null entry and stays defined.
The aligned feature of i from j keeps i's own feature as a residual (as in the crossmodal blocks
of MulT): without it, a step where only i is present would lose i's information entirely, since
MIE then gives every other modality weight zero. g_i is the mean of i's two aligned features.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def causal_source_mask(source_valid: torch.Tensor) -> torch.Tensor:
    """(B, 1, T, 1 + T) bool, True = may attend: the null key, then source steps s <= t that are valid."""
    batch, steps = source_valid.shape
    idx = torch.arange(steps, device=source_valid.device)
    causal = idx[None, :] <= idx[:, None]  # (T query, T key)
    allowed = causal[None] & source_valid[:, None, :]
    null = torch.ones(batch, steps, 1, dtype=torch.bool, device=source_valid.device)
    return torch.cat([null, allowed], dim=2)[:, None]


class CausalCrossAttention(nn.Module):
    """Multi-head attention of a target sequence over the causal, masked prefix of a source."""

    def __init__(self, d_model: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(d_model, d_model)
        self.key = nn.Linear(d_model, d_model)
        self.value = nn.Linear(d_model, d_model)
        self.out = nn.Linear(d_model, d_model)
        self.null_key = nn.Parameter(torch.zeros(1, 1, d_model))
        self.null_value = nn.Parameter(torch.zeros(1, 1, d_model))
        self.dropout = dropout

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, dim = x.shape
        return x.view(batch, length, self.heads, dim // self.heads).transpose(1, 2)

    def forward(self, target: torch.Tensor, source: torch.Tensor, source_valid: torch.Tensor) -> torch.Tensor:
        batch = target.shape[0]
        keys = torch.cat([self.null_key.expand(batch, -1, -1).to(source.dtype), self.key(source)], dim=1)
        values = torch.cat([self.null_value.expand(batch, -1, -1).to(source.dtype), self.value(source)], dim=1)
        # The paper writes a softmax over the single key of step t, which is degenerate (its weight
        # is always 1, so "attention" would be a plain linear map). We attend over the causal
        # prefix s <= t of the source instead, plus the null key so a fully masked row is defined.
        attended = F.scaled_dot_product_attention(
            self._heads(self.query(target)),
            self._heads(keys),
            self._heads(values),
            attn_mask=causal_source_mask(source_valid),
            dropout_p=self.dropout if self.training else 0.0,
        )
        return self.out(attended.transpose(1, 2).reshape_as(target))


class CrossModalAlignment(nn.Module):
    """g_t^i = mean over j != i of LayerNorm(h_t^i + Attn(h^i -> causal prefix of h^j))."""

    def __init__(self, modalities: tuple[str, ...], d_model: int, heads: int, dropout: float) -> None:
        super().__init__()
        if len(modalities) < 2:
            raise ValueError("CMAA needs at least two modalities")
        self.modalities = modalities
        self.pairs = [(i, j) for i in modalities for j in modalities if i != j]
        self.attend = nn.ModuleDict({f"{i}<-{j}": CausalCrossAttention(d_model, heads, dropout) for i, j in self.pairs})
        self.norm = nn.ModuleDict({f"{i}<-{j}": nn.LayerNorm(d_model) for i, j in self.pairs})
        self.dropout = nn.Dropout(dropout)

    def forward(self, grid: dict[str, torch.Tensor], avail: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        aligned: dict[str, list[torch.Tensor]] = {m: [] for m in self.modalities}
        for i, j in self.pairs:
            name = f"{i}<-{j}"
            update = self.attend[name](grid[i], grid[j], avail[j])
            aligned[i].append(self.norm[name](grid[i] + self.dropout(update)))
        return {m: torch.stack(parts).mean(dim=0) for m, parts in aligned.items()}
