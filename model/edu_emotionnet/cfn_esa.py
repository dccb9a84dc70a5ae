"""CFN-ESA (Li et al., IEEE TAFFC 2024) as a causal step classifier: recurrence-based unimodal encoders
(RUME), a text-centred attention-based cross-modal encoder (ACME), and the label-based emotion-shift
module (LESM) as an auxiliary task.

Followed: "CFN-ESA: A Cross-Modal Fusion Network with Emotion-Shift Awareness for Dialogue Emotion
Recognition" and the official code lijfrank-open/CFN-ESA (`model.py`, `model_rume.py`,
`model_acme.py`, `shift.py`, `trainer.py`), read, not copied.

Kept from the original:
- per-modality input projections, then one RUME shared by the three modalities (as the official
  code applies a single instance to each): per layer a GRU with a residual LayerNorm, then a
  feed-forward block (d -> 2d -> d) with a LayerNorm over input + recurrent + feed-forward;
- ACME layers, text-centred: self-attention per modality, then text attends to video and to audio
  (the two results concatenated and projected with a ReLU) while video and audio each attend to
  text, then a feed-forward block per modality, each stage with residual LayerNorms; the three
  streams concatenated, projected with a ReLU and dropout, and classified by one linear layer;
- LESM: a second pass through ACME (another dropout sample) gives a contrast representation; a
  pair's representation is the two-layer classifier (ReLU, dropout) over [first item's fused
  feature, second item's contrast feature], trained with cross-entropy to say whether the two
  items' labels differ, class-balanced (the official weights 1/(2p) and 1/(2(1-p)) by the shift
  rate p), added to the classification loss with weight `options.shift_weight` (the official
  `lambd`, 1.0). The module is a training-time task only: inference never reads it.

Adapted to a session on the causal step grid (every simplification):
- Utterances -> steps. The official inputs are one feature vector per utterance of a dialogue;
  here they are each modality's un-contextualised input projection pooled onto the step grid
  (`GridEncoder(contextual=False)`, the encoders' inputs of every other baseline; a step where a
  modality has nothing gets its learned `missing` vector), so temporal context comes from RUME.
- Causal. The GRUs are unidirectional (the official ones are bidirectional over the dialogue) and
  every ACME attention is causal: step t attends steps s <= t inside the session, plus a learned
  null key (`cmaa.CausalCrossAttention`; the official attention sees the whole dialogue).
- Emotion-shift targets. In a dialogue the utterances carry their own labels and LESM pairs every
  two utterances of one dialogue. A session here carries one label, so every pair of its steps is
  "no shift": on the step grid alone the target is constant and teaches nothing. The pairs are
  therefore taken across the sessions of a training batch, at the same step index: session i's
  fused feature at step t against session j's contrast feature at step t, for every ordered pair
  (i, j) where both have step t, the target being whether their session labels differ. Pairs
  i = j are kept (target "no shift", as the official diagonal), so the module still sees the
  within-session case. The batch plays the dialogue's role: a random group, not a conversation,
  so the "shift" is between learners' states, not across time. Same-step pairing keeps the cost
  at B * B * T pairs (the official pairs all utterances, L * L per dialogue).
- The class-balancing shift rate is the batch's own (the official one is measured once on the
  training set of IEMOCAP or MELD); the classification loss is the shared unweighted sequence
  loss (the official one weights classes by inverse frequency).
- ACME depth defaults to the full model's encoder depth (`options.acme_layers` null -> `layers`;
  the official default is 5 layers of width 512 and 8 heads); RUME keeps the official 2 layers.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from edu_affect_data.core.strict_config import StrictModel
from edu_affect_data.core.vocabulary import CLASSES, MODALITIES
from edu_emotionnet.attention import CausalCrossAttention, StreamState, slot_of
from edu_emotionnet.batch import Batch
from edu_emotionnet.config import ModelConfig
from edu_emotionnet.encoders import GridEncoder
from edu_emotionnet.inputs import ModelInputs
from edu_emotionnet.outputs import AffectModel, ModelOutput
from edu_emotionnet.registry import ModelSpec, ReportPlace


class CFNESAOptions(StrictModel):
    """`model.options` of CFN-ESA."""

    rume_layers: int = Field(2, ge=1, description="Layers of the recurrence-based unimodal encoder (a unidirectional GRU and a feed-forward block each), shared by the modalities as in the official code.")
    acme_layers: int | None = Field(None, ge=1, description="Layers of the text-centred attention-based cross-modal encoder; null = `layers` (the full model's encoder depth).")
    shift_hidden: int = Field(128, ge=1, description="Hidden width of the emotion-shift classifier over step pairs.")
    shift_dropout: float = Field(0.05, ge=0, lt=1, description="Dropout in the emotion-shift classifier.")
    shift_weight: float = Field(1.0, ge=0, description="Weight of the emotion-shift loss next to the classification loss (training only); 0 removes the module.")

#: ACME's centre: the modality the official model treats as the primary source of emotion.
CENTRE = "text"


def feed_forward(d: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d, 2 * d), nn.ReLU(), nn.Dropout(dropout), nn.Linear(2 * d, d), nn.Dropout(dropout))


class _Hidden:
    """A recurrent layer's hidden state between streamed steps (None before the first)."""

    def __init__(self) -> None:
        self.hidden: Any = None


class RecurrentLayer(nn.Module):
    """One RUME layer, made causal: unidirectional GRU, residual LayerNorm, then feed-forward."""

    def __init__(self, d: int, dropout: float) -> None:
        super().__init__()
        self.gru = nn.GRU(d, d, batch_first=True)
        self.project = nn.Linear(d, d)
        self.dropout = nn.Dropout(dropout)
        self.norm_recurrent, self.norm_out = nn.LayerNorm(d), nn.LayerNorm(d)
        self.ff = feed_forward(d, dropout)

    def forward(self, x: torch.Tensor, state: StreamState | None = None) -> torch.Tensor:
        """Streamed, the GRU's hidden state is carried from the previous call."""
        carried = slot_of(state, self, _Hidden)
        # In float32 whatever the autocast: recurrent kernels differ in which low precisions they take.
        with torch.autocast(x.device.type, enabled=False):
            recurrent, carried.hidden = self.gru(x.float(), carried.hidden)
        recurrent = self.norm_recurrent(x + self.dropout(self.project(recurrent.to(x.dtype))))
        return self.norm_out(x + recurrent + self.ff(recurrent))


class CrossModalLayer(nn.Module):
    """One ACME layer over the step grid, text-centred, every attention causal and masked to the session."""

    def __init__(self, modalities: tuple[str, ...], config: ModelConfig) -> None:
        super().__init__()
        if CENTRE not in modalities or len(modalities) != 3:
            raise ValueError(f"CFN-ESA's cross-modal encoder is text-centred over three modalities, got {modalities}")
        d, heads, dropout, window = config.d_model, config.heads, config.dropout, config.window_steps
        self.modalities = modalities
        self.others = tuple(m for m in modalities if m != CENTRE)
        self.self_attend = nn.ModuleDict({m: CausalCrossAttention(d, heads, dropout, window) for m in modalities})
        # Text attends each other modality; each other modality attends text.
        self.cross_attend = nn.ModuleDict(
            {**{f"{CENTRE}<-{m}": CausalCrossAttention(d, heads, dropout, window) for m in self.others},
             **{f"{m}<-{CENTRE}": CausalCrossAttention(d, heads, dropout, window) for m in self.others}}
        )
        self.merge_centre = nn.Linear(2 * d, d)
        self.ff = nn.ModuleDict({m: feed_forward(d, dropout) for m in modalities})
        self.norms = nn.ModuleDict({f"{m}_{stage}": nn.LayerNorm(d) for m in modalities for stage in ("self", "cross", "ff")})
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: dict[str, torch.Tensor], valid: torch.Tensor, state: StreamState | None = None) -> dict[str, torch.Tensor]:
        own = {m: self.norms[f"{m}_self"](x[m] + self.dropout(self.self_attend[m](x[m], x[m], valid, state))) for m in self.modalities}
        centre = torch.cat([self.dropout(self.cross_attend[f"{CENTRE}<-{m}"](own[CENTRE], own[m], valid, state)) for m in self.others], -1)
        cross = {CENTRE: F.relu(self.merge_centre(centre))}
        cross.update({m: self.cross_attend[f"{m}<-{CENTRE}"](own[m], own[CENTRE], valid, state) for m in self.others})
        mixed = {m: self.norms[f"{m}_cross"](x[m] + own[m] + self.dropout(cross[m])) for m in self.modalities}
        return {m: self.norms[f"{m}_ff"](x[m] + mixed[m] + self.ff[m](mixed[m])) for m in self.modalities}


class EmotionShift(nn.Module):
    """LESM's pair classifier: logits (B, B, T, 2) of "labels differ" for (i's fused, j's contrast) at each step.

    The first layer over the concatenation [a; b] is split as W_a a + W_b b, the same function
    computed once per item instead of once per pair.
    """

    def __init__(self, d: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.first = nn.Linear(d, hidden)
        self.second = nn.Linear(d, hidden, bias=False)
        self.dropout = nn.Dropout(dropout)
        self.classify = nn.Linear(hidden, 2)

    def forward(self, fused: torch.Tensor, contrast: torch.Tensor) -> torch.Tensor:
        pairs = self.first(fused)[:, None] + self.second(contrast)[None, :]  # (B, B, T, hidden)
        return self.classify(self.dropout(F.relu(pairs)))  # type: ignore[no-any-return]


def shift_targets(labels: torch.Tensor) -> torch.Tensor:
    """(B, B) long: 1 where sessions i and j carry different labels (an emotion shift between them)."""
    return (labels[:, None] != labels[None, :]).long()


def shift_loss(logits: torch.Tensor, labels: torch.Tensor, step_valid: torch.Tensor) -> torch.Tensor:
    """Class-balanced cross-entropy over the pairs whose two items both have the step.

    The mean over the "shift" pairs and the mean over the "no shift" pairs, averaged over the
    classes present: the official 1/(2p), 1/(2(1-p)) weighting with p the batch's shift rate.
    """
    targets = shift_targets(labels)[:, :, None].expand(-1, -1, logits.shape[2])
    pair_valid = (step_valid[:, None, :] & step_valid[None, :, :]).to(torch.float32)
    ce = F.cross_entropy(logits.float().flatten(0, 2), targets.flatten(), reduction="none").view_as(pair_valid)
    per_class = F.one_hot(targets, 2).to(torch.float32) * pair_valid[..., None]  # (B, B, T, 2)
    counts = per_class.sum((0, 1, 2))
    means = (per_class * ce[..., None]).sum((0, 1, 2)) / counts.clamp_min(1.0)
    present = (counts > 0).to(torch.float32)
    return (means * present).sum() / present.sum().clamp_min(1.0)


class CFNESA(AffectModel):
    streams = True

    def __init__(self, config: ModelConfig, inputs: ModelInputs) -> None:
        super().__init__()
        self.modalities = config.modalities
        self.session_prediction = config.session_prediction
        esa = config.options_as(CFNESAOptions)
        d = config.d_model
        self.encoder = GridEncoder(config, self.modalities, inputs, contextual=False)
        self.rume = nn.ModuleList(RecurrentLayer(d, config.dropout) for _ in range(esa.rume_layers))
        acme_layers = esa.acme_layers if esa.acme_layers is not None else config.layers
        self.acme = nn.ModuleList(CrossModalLayer(self.modalities, config) for _ in range(acme_layers))
        self.fuse = nn.Linear(len(self.modalities) * d, d)
        self.dropout = nn.Dropout(config.dropout)
        self.classify = nn.Linear(d, len(CLASSES))
        self.shift_weight = esa.shift_weight
        # Without its loss the module would have no gradient (DDP runs without find_unused_parameters).
        self.shift = EmotionShift(d, esa.shift_hidden, esa.shift_dropout) if esa.shift_weight > 0 else None

    def _unimodal(self, x: torch.Tensor, state: StreamState | None) -> torch.Tensor:
        for layer in self.rume:
            x = layer(x, state)
        return x

    def _fused(self, streams: dict[str, torch.Tensor], step_valid: torch.Tensor, state: StreamState | None = None) -> torch.Tensor:
        for layer in self.acme:
            streams = layer(streams, step_valid, state)
        return self.dropout(F.relu(self.fuse(torch.cat([streams[m] for m in self.modalities], dim=-1))))

    def forward(self, batch: Batch, state: StreamState | None = None) -> ModelOutput:
        h, _ = self.encoder(batch, state)
        step_valid = batch.step_valid()
        # One RUME serves the three modalities: each keeps its own recurrent state.
        streams = {m: self._unimodal(h[m], state.scope(m) if state is not None else None) for m in self.modalities}
        fused = self._fused(streams, step_valid, state)
        auxiliary = None
        if self.training and self.shift is not None:
            auxiliary = {"shift_logits": self.shift(fused, self._fused(streams, step_valid))}
        return self._output(F.log_softmax(self.classify(fused).float(), dim=-1), step_valid, auxiliary=auxiliary)

    def loss(self, output: ModelOutput, labels: torch.Tensor) -> torch.Tensor:
        """Classification loss; in training plus `shift_weight` times the emotion-shift loss."""
        loss = super().loss(output, labels)
        if self.training and output.auxiliary is not None:
            loss = loss + self.shift_weight * shift_loss(output.auxiliary["shift_logits"], labels, output.step_valid)
        return loss


CFN_ESA = ModelSpec("cfn_esa", CFNESA, MODALITIES, ReportPlace("CFN-ESA", "fusion"), options=CFNESAOptions)
