"""The paper's baselines, all causal on the same step grid so every model streams and is compared fairly.

- Unimodal (audio-only, visual-only, text-only): one modality's encoder, a causal step Transformer.
- Early fusion: un-contextualised input projections pooled onto the grid and concatenated, then
  one causal Transformer over the fused steps (fusion before any temporal modelling).
- Late fusion: one full unimodal model per modality; step distributions averaged over the
  modalities seen so far.
- MulT (Tsai et al., ACL 2019; official code yaohungt/Multimodal-Transformer), at the full model's
  depth and width: per modality an input projection and a causal temporal convolution over steps
  (`options.kernel`), crossmodal Transformers with `options.crossmodal_layers` layers (null = `layers`) for every
  ordered pair (causal, masked, with a null key), a causal self-attention Transformer with
  `options.self_attention_layers` layers (null = `layers`) over each target's concatenated crossmodal streams, and the official residual head over
  the three targets' features at step t (the "last step" of the prefix up to t). Differences from
  Tsai et al.: crossmodal attention runs on the 1 s step grid (each modality is projected at its own
  rate and pooled onto the grid first), not on the unaligned native sequences, so every model
  predicts causally per step; the concatenation (2d) is mapped back to d so the self-attention
  Transformers have the full model's width (the official code runs them at 2d); GELU feed-forward
  layers of width `ff_mult` x d instead of ReLU 4d; one dropout rate (`dropout`) for all.
- MulT (size-matched): the same model with its own option defaults (`MulTSizeMatchedOptions`):
  about the full model's parameter count, where the paper-depth MulT has 2.55x.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from edu_affect_data.core.strict_config import StrictModel
from edu_affect_data.core.vocabulary import CLASSES, MODALITIES
from edu_emotionnet.attention import (
    CausalConv1d,
    CausalCrossAttention,
    CausalTransformer,
    StreamState,
    consumed,
    slot_of,
)
from edu_emotionnet.batch import Batch
from edu_emotionnet.config import ModelConfig
from edu_emotionnet.encoders import GridEncoder, sinusoidal_positions
from edu_emotionnet.inputs import ModelInputs
from edu_emotionnet.outputs import AffectModel, ModelOutput
from edu_emotionnet.registry import ModelSpec, ReportPlace


class StepClassifier(nn.Module):
    """Grid features -> causal Transformer over steps (keys: steps with data) -> log y^_t."""

    def __init__(self, in_dim: int, config: ModelConfig, layers: int = 1) -> None:
        super().__init__()
        self.project = nn.Linear(in_dim, config.d_model)
        self.context = CausalTransformer(config.d_model, layers, config.heads, config.ff_mult, config.dropout, config.window_steps)
        self.classify = nn.Sequential(nn.Linear(config.d_model, config.d_model), nn.GELU(), nn.Linear(config.d_model, len(CLASSES)))

    def forward(self, x: torch.Tensor, key_valid: torch.Tensor, state: StreamState | None = None) -> torch.Tensor:
        first = consumed(state, self, x.shape[1])
        x = self.project(x) + sinusoidal_positions(x.shape[1], self.project.out_features, x.device, start=first)
        return F.log_softmax(self.classify(self.context(x, key_valid, state=state)).float(), dim=-1)


class Unimodal(AffectModel):
    """One modality: the single one its registry entry names (`audio_only`, `visual_only`, `text_only`)."""

    streams = True

    def __init__(self, config: ModelConfig, inputs: ModelInputs) -> None:
        super().__init__()
        (self.modality,) = config.modalities
        self.modalities = (self.modality,)
        self.session_prediction = config.session_prediction
        self.encoder = GridEncoder(config, self.modalities, inputs)
        self.head = StepClassifier(config.d_model, config)

    def forward(self, batch: Batch, state: StreamState | None = None) -> ModelOutput:
        h, avail = self.encoder(batch, state)
        return self._output(self.head(h[self.modality], avail[self.modality], state), batch.step_valid())


#: The paper's Table II baselines; the full model must beat each of them (claim (b)).
AUDIO_ONLY = ModelSpec("audio_only", Unimodal, ("audio",), ReportPlace("Audio-only", "unimodal", roles=frozenset({"claim_b"})))
VISUAL_ONLY = ModelSpec("visual_only", Unimodal, ("video",), ReportPlace("Visual-only", "unimodal", roles=frozenset({"claim_b"})))
TEXT_ONLY = ModelSpec("text_only", Unimodal, ("text",), ReportPlace("Text-only", "unimodal", roles=frozenset({"claim_b"})))


class EarlyFusion(AffectModel):
    streams = True

    def __init__(self, config: ModelConfig, inputs: ModelInputs) -> None:
        super().__init__()
        self.modalities = config.modalities
        self.session_prediction = config.session_prediction
        self.encoder = GridEncoder(config, self.modalities, inputs, contextual=False)
        width = len(self.modalities) * (config.d_model + 1)
        self.head = StepClassifier(width, config, layers=config.layers)

    def forward(self, batch: Batch, state: StreamState | None = None) -> ModelOutput:
        h, avail = self.encoder(batch, state)
        fused = torch.cat([h[m] for m in self.modalities] + [avail[m][..., None].to(h[m].dtype) for m in self.modalities], dim=-1)
        any_avail = torch.stack([avail[m] for m in self.modalities]).any(0)
        return self._output(self.head(fused, any_avail, state), batch.step_valid())


EARLY_FUSION = ModelSpec("early_fusion", EarlyFusion, MODALITIES, ReportPlace("Early Fusion", "fusion", roles=frozenset({"claim_b"})))


class _Seen:
    """Late fusion's stream: which modalities were available at some earlier step (B, M)."""

    def __init__(self) -> None:
        self.seen: torch.Tensor | None = None


class LateFusion(AffectModel):
    streams = True

    def __init__(self, config: ModelConfig, inputs: ModelInputs) -> None:
        super().__init__()
        self.modalities = config.modalities
        self.session_prediction = config.session_prediction
        self.encoder = GridEncoder(config, self.modalities, inputs)
        self.heads = nn.ModuleDict({m: StepClassifier(config.d_model, config) for m in self.modalities})

    def forward(self, batch: Batch, state: StreamState | None = None) -> ModelOutput:
        h, avail = self.encoder(batch, state)
        per_modality = torch.stack([self.heads[m](h[m], avail[m], state) for m in self.modalities], dim=-2)  # (B,T,M,C)
        carried = slot_of(state, self, _Seen)
        present = torch.stack([avail[m] for m in self.modalities], dim=-1)
        if carried.seen is not None:
            present = torch.cat([carried.seen[:, None], present], dim=1)
        seen = present.long().cummax(dim=1).values.bool()
        if carried.seen is not None:
            seen = seen[:, 1:]
        carried.seen = seen[:, -1]
        seen = seen | ~seen.any(-1, keepdim=True)  # nothing seen yet: average all heads (their priors)
        weights = seen.float() / seen.float().sum(-1, keepdim=True)
        mixture = (per_modality.exp() * weights[..., None]).sum(-2).clamp_min(1e-12).log()
        return self._output(mixture, batch.step_valid(), weights)


#: Also the model of the paper's robustness comparison (Fig. 5), the other side of claim (d).
LATE_FUSION = ModelSpec(
    "late_fusion", LateFusion, MODALITIES, ReportPlace("Late Fusion", "fusion", roles=frozenset({"claim_b", "claim_d"}))
)


class MulTOptions(StrictModel):
    """`model.options` of MulT."""

    crossmodal_layers: int | None = Field(None, ge=1, description="Crossmodal Transformer layers per modality pair; null = `layers` (the full model's encoder depth).")
    self_attention_layers: int | None = Field(None, ge=1, description="Self-attention Transformer layers per target modality; null = `layers`.")
    kernel: int = Field(3, ge=1, description="Steps seen by the causal temporal convolution over each modality's grid features (1 = a per-step projection).")

    def depths(self, layers: int) -> tuple[int, int]:
        """(crossmodal, self-attention) layers of a model whose config has `layers` layers."""
        return (self.crossmodal_layers or layers, self.self_attention_layers or layers)


class MulTSizeMatchedOptions(MulTOptions):
    """`model.options` of MulT (size-matched): MulT made about as large as the full model.

    At the full model's depth and width MulT has 2.55x its parameters (6 crossmodal and 3
    self-attention stacks of `layers` layers against 3 encoder stacks), so a comparison with it
    mixes architecture and capacity. One crossmodal layer per pair and half the self-attention
    depth give 1.00x at the paper's size (d=256, 4 layers: 12.23 M both, text 384). At
    tiny_cpu.yaml's size (1 layer) MulT is already at its smallest (one layer per stack: 1.39x, the
    same model as the paper-depth row there): the input encoders that both share dominate it.
    """

    crossmodal_layers: int | None = Field(1, ge=1, description="Crossmodal Transformer layers per modality pair; null = `layers`.")
    self_attention_layers: int | None = Field(None, ge=1, description="Self-attention Transformer layers per target modality; null = half of `layers`, at least 1 (2 at the paper's 4).")

    def depths(self, layers: int) -> tuple[int, int]:
        return (self.crossmodal_layers or layers, self.self_attention_layers or max(1, layers // 2))


class CrossmodalBlock(nn.Module):
    """Pre-norm crossmodal Transformer block: target attends the source's causal prefix, then FFN."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        d = config.d_model
        self.norm_target, self.norm_source, self.norm_ff = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.attend = CausalCrossAttention(d, config.heads, config.dropout, config.window_steps)
        self.ff = nn.Sequential(nn.Linear(d, d * config.ff_mult), nn.GELU(), nn.Dropout(config.dropout), nn.Linear(d * config.ff_mult, d))

    def forward(
        self, target: torch.Tensor, source: torch.Tensor, source_valid: torch.Tensor, state: StreamState | None = None
    ) -> torch.Tensor:
        target = target + self.attend(self.norm_target(target), self.norm_source(source), source_valid, state)
        return target + self.ff(self.norm_ff(target))


class MulT(AffectModel):
    """Temporal convolutions -> crossmodal Transformers per pair -> self-attention per target -> residual head."""

    streams = True

    def __init__(self, config: ModelConfig, inputs: ModelInputs) -> None:
        super().__init__()
        self.modalities = config.modalities
        if len(self.modalities) < 2:
            raise ValueError("MulT needs at least two modalities")
        self.session_prediction = config.session_prediction
        self.encoder = GridEncoder(config, self.modalities, inputs, contextual=False)
        d = config.d_model
        options = config.options_as(MulTOptions)
        self.kernel = options.kernel
        # Tsai et al. Sec. 3.1: a 1-D temporal convolution per modality (bias-free, as the official
        # code's projections); here causal over steps (left padding only).
        self.temporal = nn.ModuleDict({m: CausalConv1d(d, d, self.kernel, bias=False) for m in self.modalities})
        self.embed_dropout = nn.Dropout(config.dropout)
        depth, self_depth = options.depths(config.layers)
        self.pairs = [(i, j) for i in self.modalities for j in self.modalities if i != j]
        self.crossmodal = nn.ModuleDict(
            {f"{i}<-{j}": nn.ModuleList(CrossmodalBlock(config) for _ in range(depth)) for i, j in self.pairs}
        )
        self.crossmodal_norm = nn.ModuleDict({f"{i}<-{j}": nn.LayerNorm(d) for i, j in self.pairs})
        others = len(self.modalities) - 1
        self.merge = nn.ModuleDict({m: nn.Linear(others * d, d) for m in self.modalities})
        self.self_attention = nn.ModuleDict(
            {m: CausalTransformer(d, self_depth, config.heads, config.ff_mult, config.dropout, config.window_steps) for m in self.modalities}
        )
        width = len(self.modalities) * d
        self.proj1, self.proj2 = nn.Linear(width, width), nn.Linear(width, width)
        self.out_dropout = nn.Dropout(config.dropout)
        self.out = nn.Linear(width, len(CLASSES))

    def _temporal(self, modality: str, x: torch.Tensor, state: StreamState | None = None) -> torch.Tensor:
        conv = self.temporal[modality]
        y = conv(x.transpose(1, 2), state).transpose(1, 2)
        first = consumed(state.scope(modality) if state is not None else None, self, y.shape[1])
        return self.embed_dropout(y + sinusoidal_positions(y.shape[1], y.shape[2], y.device, start=first))

    def forward(self, batch: Batch, state: StreamState | None = None) -> ModelOutput:
        h, avail = self.encoder(batch, state)
        step_valid = batch.step_valid()
        x = {m: self._temporal(m, h[m], state) for m in self.modalities}
        targets = []
        for i in self.modalities:
            streams = []
            for j in self.modalities:
                if j == i:
                    continue
                y = x[i]
                for block in self.crossmodal[f"{i}<-{j}"]:  # type: ignore[attr-defined]
                    y = block(y, x[j], avail[j], state)
                streams.append(self.crossmodal_norm[f"{i}<-{j}"](y))
            targets.append(self.self_attention[i](self.merge[i](torch.cat(streams, dim=-1)), step_valid, state=state))
        last = torch.cat(targets, dim=-1)  # step t's features: the last step of the prefix up to t
        hidden = self.proj2(self.out_dropout(F.relu(self.proj1(last)))) + last
        return self._output(F.log_softmax(self.out(hidden).float(), dim=-1), step_valid)


MULT = ModelSpec("mult", MulT, MODALITIES, ReportPlace("MulT", "fusion"), options=MulTOptions)
#: The same MulT at about the full model's parameter count (its options' defaults), beside the
#: paper-depth row, so that a difference between the two is capacity, not architecture.
MULT_SIZE_MATCHED = ModelSpec(
    "mult_size_matched", MulT, MODALITIES, ReportPlace("MulT (size-matched)", "fusion"), options=MulTSizeMatchedOptions
)
