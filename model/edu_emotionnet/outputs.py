"""What every model returns, and the base class the trainer, evaluator and streamer rely on."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from edu_emotionnet.batch import Batch
from edu_emotionnet.tfl import sequence_loss, session_log_probs


@dataclass(frozen=True)
class ModelOutput:
    step_log_probs: torch.Tensor  # (B, T, C) log y^_t
    step_valid: torch.Tensor  # (B, T) bool
    session_log_probs: torch.Tensor  # (B, C)
    #: (B, T, M) modality weights in the order of `modalities`; None for models without them.
    weights: torch.Tensor | None = None
    #: Training-only tensors that the model's own `loss` reads for its auxiliary tasks (Self-MM's
    #: unimodal subtasks, CFN-ESA's emotion-shift pairs); None in evaluation and for other models.
    auxiliary: dict[str, torch.Tensor] | None = None


class AffectModel(nn.Module):
    """A causal session classifier over the step grid: y^_t depends on inputs up to step t only."""

    modalities: tuple[str, ...]
    kl_weight: float = 0.0
    session_prediction: str = "last"

    def forward(self, batch: Batch) -> ModelOutput:  # pragma: no cover - abstract
        raise NotImplementedError

    def _output(
        self,
        step_log_probs: torch.Tensor,
        step_valid: torch.Tensor,
        weights: torch.Tensor | None = None,
        auxiliary: dict[str, torch.Tensor] | None = None,
    ) -> ModelOutput:
        return ModelOutput(
            step_log_probs, step_valid, session_log_probs(step_log_probs, step_valid, self.session_prediction), weights,
            auxiliary,
        )

    def loss(self, output: ModelOutput, labels: torch.Tensor) -> torch.Tensor:
        """The trainer's objective. A model with auxiliary tasks overrides this and adds them only in
        training mode, so the validation loss that breaks selection ties is the main task's alone."""
        return sequence_loss(output.step_log_probs, labels, output.step_valid, self.kl_weight)
