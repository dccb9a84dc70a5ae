"""The padded, masked batch every model consumes, and the common time grid it is pooled onto.

All times are seconds from the session start. A mask is True where the element is real and
usable; padding, missing frames and special tokens are False. The grid has `n_steps` steps of
`step_s` seconds per session; an element belongs to the step its time falls in (audio positions
carry the start time of the newest audio frame they have seen, frames their timestamp, tokens
their end time: a word is known once it has been spoken), so pooling into step t never uses
anything later than the end of step t. `audio` holds whichever per-frame column `model.inputs.audio`
names (MFCC, eGeMAPS, ...), as wide as the dataset declares it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import torch


class LateInputError(ValueError):
    """A streamed element of step t timed in an earlier step: the earlier outputs are already given out."""


@dataclass(frozen=True)
class Batch:
    labels: torch.Tensor  # (B,) long
    n_steps: torch.Tensor  # (B,) long, >= 1
    audio: torch.Tensor | None = None  # (B, Ta, width) float: the `model.inputs.audio` column's frames
    audio_mask: torch.Tensor | None = None  # (B, Ta) bool
    frames: torch.Tensor | None = None  # (B, F, 3, S, S) uint8
    frame_embeddings: torch.Tensor | None = None  # (B, F, D) float16: video input `embeddings` (instead of frames)
    frame_times: torch.Tensor | None = None  # (B, F) float
    frame_mask: torch.Tensor | None = None  # (B, F) bool: real and available
    tokens: torch.Tensor | None = None  # (B, L, H) float
    token_end_s: torch.Tensor | None = None  # (B, L) float
    token_mask: torch.Tensor | None = None  # (B, L) bool: real word pieces with a time
    session_ids: tuple[str, ...] = ()

    def to(self, device: torch.device) -> Batch:
        moved: dict[str, Any] = {
            f.name: (value.to(device, non_blocking=True) if isinstance(value, torch.Tensor) else value)
            for f in fields(self)
            for value in (getattr(self, f.name),)
        }
        return replace(self, **moved)

    def masked(
        self,
        audio_mask: torch.Tensor | None = None,
        frame_mask: torch.Tensor | None = None,
        token_mask: torch.Tensor | None = None,
    ) -> Batch:
        """The same batch with some inputs marked missing (robustness evaluation, streaming)."""
        return replace(
            self,
            audio_mask=self.audio_mask if audio_mask is None else audio_mask,
            frame_mask=self.frame_mask if frame_mask is None else frame_mask,
            token_mask=self.token_mask if token_mask is None else token_mask,
        )

    @property
    def size(self) -> int:
        return int(self.labels.shape[0])

    def step_valid(self) -> torch.Tensor:
        """(B, T) True for the steps inside each session, T = the longest session's steps."""
        horizon = int(self.n_steps.max())
        return torch.arange(horizon, device=self.n_steps.device)[None, :] < self.n_steps[:, None]


def step_of(times: torch.Tensor, step_s: float, n_steps: int | torch.Tensor) -> torch.Tensor:
    """Step index of each time (B, L); times past a session's grid fall into its last step.

    `n_steps` is one grid length for every row, or each session's own (B,). A batch must pass the
    latter: clamped to the batch's longest grid, a shorter session's late elements (the MFCC
    frame centred on its last sample, a word ending after the cut) would land past its own end,
    where they are dropped, so its prediction would depend on the sessions batched with it.
    """
    index = torch.floor(times.clamp_min(0) / step_s).long()
    if isinstance(n_steps, torch.Tensor):
        last = (n_steps.to(index.device) - 1).view(-1, *([1] * (index.dim() - 1)))
        return torch.minimum(index, last)
    return index.clamp(0, n_steps - 1)


def pool_to_grid(
    features: torch.Tensor,
    times: torch.Tensor,
    valid: torch.Tensor,
    step_s: float,
    n_steps: int | torch.Tensor,
    first: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean of the valid features in each step: (B, L, d) -> (B, T, d) and availability (B, T).

    `n_steps`: each session's grid length (B,), T = the longest (or one length for all rows).
    `first`: the grid's steps before it are already given out (a stream): the result covers steps
    first..T-1, and a valid element timed before `first` is a `LateInputError`.
    """
    steps = step_of(times, step_s, n_steps) - first
    if first and bool((valid & (steps < 0)).any()):
        raise LateInputError(f"step {first}: an element is timed in an earlier step, whose output is already given")
    horizon = (int(n_steps.max()) if isinstance(n_steps, torch.Tensor) else n_steps) - first
    one_hot = (steps[..., None] == torch.arange(horizon, device=steps.device)) & valid[..., None]
    weights = one_hot.to(features.dtype)  # (B, L, T)
    counts = weights.sum(dim=1)  # (B, T)
    pooled = torch.einsum("blt,bld->btd", weights, features) / counts.clamp_min(1.0)[..., None]
    return pooled, counts > 0
