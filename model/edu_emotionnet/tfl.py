"""Temporal Feedback Loop (TFL, paper Eq. 8-10) and the sequence loss every model trains with.

z~_t = MLP_fb([z_t, y^_{t-1}]), y^_t = softmax(MLP_cls(z~_t)), y^_0 uniform. The loss is
mean_t CE(y^_t, y) + lambda * mean_t KL(y^_{t-1} || y^_t) over consecutive valid steps (t >= 2:
pulling the first prediction towards the uniform y^_0 would only teach the model to hesitate).
KL direction: F.kl_div(input=log y^_t, target=y^_{t-1}) = sum y^_{t-1} (log y^_{t-1} - log y^_t)
= KL(y^_{t-1} || y^_t). The -TFL ablation feeds zeros instead of y^_{t-1} and uses lambda 0.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from edu_emotionnet.attention import StreamState, slot_of


class _Previous:
    """y^_{t-1} (B, C) of a stream; None before its first step (then uniform)."""

    def __init__(self) -> None:
        self.probs: torch.Tensor | None = None


class TemporalFeedback(nn.Module):
    def __init__(self, d_model: int, n_classes: int, feedback: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        self.n_classes = n_classes
        self.feedback = feedback
        self.fuse = nn.Sequential(nn.Linear(d_model + n_classes, d_model), nn.GELU(), nn.Dropout(dropout), nn.Linear(d_model, d_model))
        self.classify = nn.Sequential(nn.GELU(), nn.Linear(d_model, d_model), nn.GELU(), nn.Linear(d_model, n_classes))

    def forward(self, z: torch.Tensor, state: StreamState | None = None) -> torch.Tensor:
        """Step log-probabilities (B, T, C), computed step by step (y^_t depends on y^_{t-1});
        streamed, y^_{t-1} is carried in `state` from the previous call."""
        batch, steps, _ = z.shape
        carried = slot_of(state, self, _Previous)
        previous = carried.probs
        if previous is None:
            previous = torch.full((batch, self.n_classes), 1.0 / self.n_classes, device=z.device, dtype=z.dtype)
        outputs = []
        for t in range(steps):
            fed = previous if self.feedback else torch.zeros_like(previous)
            log_probs = F.log_softmax(self.classify(self.fuse(torch.cat([z[:, t], fed], dim=-1))).float(), dim=-1)
            outputs.append(log_probs)
            previous = log_probs.exp().to(z.dtype)
        carried.probs = previous
        return torch.stack(outputs, dim=1)


def consistency_kl(step_log_probs: torch.Tensor, step_valid: torch.Tensor) -> torch.Tensor:
    """(B,) mean over consecutive valid steps of KL(y^_{t-1} || y^_t); 0 for one-step sessions."""
    current, previous = step_log_probs[:, 1:], step_log_probs[:, :-1]
    kl = F.kl_div(current, previous, reduction="none", log_target=True).sum(-1)  # KL(prev || current)
    pair_valid = (step_valid[:, 1:] & step_valid[:, :-1]).to(kl.dtype)
    return (kl * pair_valid).sum(1) / pair_valid.sum(1).clamp_min(1.0)


def sequence_loss(
    step_log_probs: torch.Tensor, labels: torch.Tensor, step_valid: torch.Tensor, kl_weight: float
) -> torch.Tensor:
    """Per-session mean over its valid steps of CE, plus lambda * consistency KL, averaged over the batch."""
    valid = step_valid.to(step_log_probs.dtype)
    target = labels[:, None, None].expand(-1, step_log_probs.shape[1], 1)
    ce = -step_log_probs.gather(-1, target).squeeze(-1)
    per_session = (ce * valid).sum(1) / valid.sum(1).clamp_min(1.0)
    if kl_weight > 0:
        per_session = per_session + kl_weight * consistency_kl(step_log_probs, step_valid)
    return per_session.mean()


def session_log_probs(step_log_probs: torch.Tensor, step_valid: torch.Tensor, how: str) -> torch.Tensor:
    """Session prediction: the last valid step's distribution, or the mean distribution over valid steps."""
    if how == "last":
        last = step_valid.long().sum(1).clamp_min(1) - 1
        return step_log_probs[torch.arange(step_log_probs.shape[0], device=last.device), last]
    weights = step_valid.to(step_log_probs.dtype)[..., None]
    mean = (step_log_probs.exp() * weights).sum(1) / weights.sum(1).clamp_min(1.0)
    return mean.clamp_min(1e-12).log()
