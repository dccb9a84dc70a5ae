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
from torch import nn

from edu_emotionnet.attention import CausalCrossAttention, StreamState


class CrossModalAlignment(nn.Module):
    """g_t^i = mean over j != i of LayerNorm(h_t^i + Attn(h^i -> causal prefix of h^j)).

    `window_steps`: with `model.attention_window_s`, step t of i sees the steps of j after t - W.
    """

    def __init__(self, modalities: tuple[str, ...], d_model: int, heads: int, dropout: float, window_steps: float | None = None) -> None:
        super().__init__()
        if len(modalities) < 2:
            raise ValueError("CMAA needs at least two modalities")
        self.modalities = modalities
        self.pairs = [(i, j) for i in modalities for j in modalities if i != j]
        self.attend = nn.ModuleDict({f"{i}<-{j}": CausalCrossAttention(d_model, heads, dropout, window_steps) for i, j in self.pairs})
        self.norm = nn.ModuleDict({f"{i}<-{j}": nn.LayerNorm(d_model) for i, j in self.pairs})
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, grid: dict[str, torch.Tensor], avail: dict[str, torch.Tensor], state: StreamState | None = None
    ) -> dict[str, torch.Tensor]:
        aligned: dict[str, list[torch.Tensor]] = {m: [] for m in self.modalities}
        for i, j in self.pairs:
            name = f"{i}<-{j}"
            update = self.attend[name](grid[i], grid[j], avail[j], state)
            aligned[i].append(self.norm[name](grid[i] + self.dropout(update)))
        return {m: torch.stack(parts).mean(dim=0) for m, parts in aligned.items()}
