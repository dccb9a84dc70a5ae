"""What every model returns, and the base class the trainer, evaluator and streamer rely on."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from edu_emotionnet.attention import StreamState
from edu_emotionnet.batch import Batch
from edu_emotionnet.inputs import ModelInputs
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
    """A causal session classifier over the step grid: y^_t depends on inputs up to step t only.

    Streaming is optional. A model whose `forward(batch, state)` accepts a `StreamState` sets
    `streams = True`: `step(chunk, state)` then gives step t's output from the inputs that arrived
    during step t, by the very code of the whole-session forward (each module keeps what later
    steps need in its slot of `state`). A model without it is streamed by re-running the received
    prefix (`streaming.StreamingPredictor` says which way it runs).
    """

    modalities: tuple[str, ...]
    #: The dataset inputs it was built over (set by `model.build_model`).
    inputs: ModelInputs
    kl_weight: float = 0.0
    session_prediction: str = "last"
    #: Whether `forward` takes a `StreamState` (and so `step` works).
    streams: bool = False

    def forward(self, batch: Batch) -> ModelOutput:  # pragma: no cover - abstract
        raise NotImplementedError

    def init_state(self) -> StreamState:
        """An empty stream: every module starts its slot at the first step."""
        if not self.streams:
            raise NotImplementedError(f"{type(self).__name__} has no step-wise form: stream it by re-running the prefix")
        return StreamState()

    def step(self, chunk: Batch, state: StreamState) -> ModelOutput:
        """Step t's output (B, 1, ...) from `chunk`, the inputs that arrived during step t."""
        if not self.streams:
            raise NotImplementedError(f"{type(self).__name__} has no step-wise form: stream it by re-running the prefix")
        if self.training:
            raise RuntimeError("streaming runs in eval mode (dropout would differ per call)")
        return self(chunk, state)  # type: ignore[no-any-return]

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
