"""HybridFusion baseline: hybrid multi-attention fusion after Moorthy & Moon (Mathematics 13(7):1100, 2025).

Source. S. Moorthy and Y.-K. Moon, "Hybrid Multi-Attention Network for Audio-Visual Emotion
Recognition Through Multimodal Feature Fusion" (HMATN), the paper's reference [11]. Only the
article's abstract, contribution list and section headings were available to us, not its
equations, layer sizes or code; the structure below follows that text, and every detail the text
leaves open is our choice, named here. HMATN has:

- an audio and a visual network (pretrained backbones and temporal models) for each stream;
- a "collaborative" cross-attention whose weights come from the relation between the combined
  (joint) audio-visual representation and each single modality (the formulation of the joint
  cross-attention of Praveen et al., CVPRW 2022);
- HASPCM, a hybrid of single-modal attention (SMA, intra-modal) and parallel cross-modal
  attention (PCMA, both directions at once, inter-modal);
- a cross-modality relation attention (CMRA) and a feature-level fusion before the regressor.

Here, on the common step grid and causal (y^_t sees inputs up to step t only):

- Streams: the same per-modality encoders as Edu-EmotionNet (`GridEncoder`: input projection
  and causal Transformer at each modality's own rate, pooled onto the grid), not HMATN's
  backbones, so every model reads the same features with the same encoders.
- Joint cross-attention: the joint vector J_t is a linear map of the concatenated modality
  features at step t; each modality's step t attends the causal prefix s <= t of J (a step where
  no modality is present is no key). In Praveen et al.'s formulation the correlation matrix spans
  a whole clip and a weight matrix has the clip length as a dimension; a causal, variable-length
  version has to attend over the prefix, so it is written as multi-head attention with J as keys.
- HASPCM: SMA is causal self-attention of a modality over its own present steps; PCMA is causal
  cross-attention of each modality over each other one's present steps, all pairs computed from
  the same block input (in parallel, not stacked) and averaged per target. SMA and PCMA are added
  to the residual stream, then a feed-forward layer (pre-norm, like every block here).
  `model.options.blocks` of these are stacked (HMATN's depth is not given in the text: default 1).
- CMRA and feature-level fusion: at each step an additive relation score of every modality
  against the joint vector, a softmax over the modalities present at that step (over all of them
  when none is), the attention-weighted sum of the modality features, concatenated with the
  joint vector, then a two-layer classifier. The fusion weights are returned as `weights`.
- Text: HMATN is audio-visual. Text enters as a third stream in exactly the same places (its own
  SMA, PCMA with both other modalities, a part of the joint vector, a candidate in the fusion
  attention), as MulT and the full model treat it.
- Attention everywhere carries a learned null key (`CausalCrossAttention`), so a step whose
  visible prefix is empty stays defined.
- Trained like every model here (cross-entropy on the step grid, same optimiser and selection);
  HMATN's regression losses for valence and arousal do not apply to four classes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from edu_affect_data.core.strict_config import StrictModel
from edu_affect_data.core.vocabulary import CLASSES, MODALITIES
from edu_emotionnet.attention import CausalCrossAttention, StreamState
from edu_emotionnet.batch import Batch
from edu_emotionnet.config import ModelConfig
from edu_emotionnet.encoders import GridEncoder
from edu_emotionnet.inputs import ModelInputs
from edu_emotionnet.outputs import AffectModel, ModelOutput
from edu_emotionnet.registry import ModelSpec, ReportPlace


class HybridFusionOptions(StrictModel):
    """`model.options` of HybridFusion."""

    blocks: int = Field(1, ge=1, description="Stacked hybrid multi-attention blocks (joint cross-attention, single-modal and parallel cross-modal attention).")


def _per_modality(modalities: tuple[str, ...], make: type[nn.Module], *args: object) -> nn.ModuleDict:
    return nn.ModuleDict({m: make(*args) for m in modalities})


class HybridBlock(nn.Module):
    """Joint cross-attention, then SMA + PCMA in parallel, then a feed-forward layer (all pre-norm, residual)."""

    def __init__(self, modalities: tuple[str, ...], config: ModelConfig) -> None:
        super().__init__()
        d, heads, dropout, window = config.d_model, config.heads, config.dropout, config.window_steps
        self.modalities = modalities
        self.pairs = [(i, j) for i in modalities for j in modalities if i != j]
        self.joint = nn.Linear(len(modalities) * d, d)
        self.norm_joint = nn.LayerNorm(d)
        self.norm_query = _per_modality(modalities, nn.LayerNorm, d)
        self.joint_attention = _per_modality(modalities, CausalCrossAttention, d, heads, dropout, window)
        self.norm_hybrid = _per_modality(modalities, nn.LayerNorm, d)
        self.single = _per_modality(modalities, CausalCrossAttention, d, heads, dropout, window)
        self.cross = nn.ModuleDict({f"{i}<-{j}": CausalCrossAttention(d, heads, dropout, window) for i, j in self.pairs})
        self.norm_ff = _per_modality(modalities, nn.LayerNorm, d)
        self.ff = nn.ModuleDict(
            {
                m: nn.Sequential(nn.Linear(d, d * config.ff_mult), nn.GELU(), nn.Dropout(dropout), nn.Linear(d * config.ff_mult, d))
                for m in modalities
            }
        )
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, x: dict[str, torch.Tensor], avail: dict[str, torch.Tensor], any_avail: torch.Tensor, state: StreamState | None = None
    ) -> dict[str, torch.Tensor]:
        joint = self.norm_joint(self.joint(torch.cat([x[m] for m in self.modalities], dim=-1)))
        x = {m: x[m] + self.dropout(self.joint_attention[m](self.norm_query[m](x[m]), joint, any_avail, state)) for m in self.modalities}
        normed = {m: self.norm_hybrid[m](x[m]) for m in self.modalities}
        out = {}
        for i in self.modalities:
            single = self.single[i](normed[i], normed[i], avail[i], state)
            cross = torch.stack([self.cross[f"{i}<-{j}"](normed[i], normed[j], avail[j], state) for j in self.modalities if j != i]).mean(0)
            y = x[i] + self.dropout(single) + self.dropout(cross)
            out[i] = y + self.ff[i](self.norm_ff[i](y))
        return out


class RelationFusion(nn.Module):
    """Per step: relation scores of each modality against the joint vector, a softmax over the present
    modalities, the weighted sum concatenated with the joint vector, a classifier -> (log y^_t, weights)."""

    def __init__(self, modalities: tuple[str, ...], config: ModelConfig) -> None:
        super().__init__()
        d = config.d_model
        self.modalities = modalities
        self.joint = nn.Linear(len(modalities) * d, d)
        self.key = nn.Linear(d, d)
        self.query = nn.Linear(d, d, bias=False)
        self.score = nn.Linear(d, 1, bias=False)
        self.norm = nn.LayerNorm(2 * d)
        self.classify = nn.Sequential(nn.Linear(2 * d, d), nn.GELU(), nn.Dropout(config.dropout), nn.Linear(d, len(CLASSES)))

    def forward(self, x: dict[str, torch.Tensor], avail: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        stacked = torch.stack([x[m] for m in self.modalities], dim=-2)  # (B, T, M, d)
        joint = self.joint(stacked.flatten(-2))  # (B, T, d)
        scores = self.score(torch.tanh(self.key(stacked) + self.query(joint)[..., None, :])).squeeze(-1).float()
        present = torch.stack([avail[m] for m in self.modalities], dim=-1)
        present = present | ~present.any(-1, keepdim=True)  # nothing present: weigh every (learned missing) vector
        weights = scores.masked_fill(~present, float("-inf")).softmax(-1)
        fused = (weights[..., None].to(stacked.dtype) * stacked).sum(-2)
        logits = self.classify(self.norm(torch.cat([fused, joint], dim=-1)))
        return F.log_softmax(logits.float(), dim=-1), weights


class HybridFusion(AffectModel):
    """Encoders -> `options.blocks` x HybridBlock -> RelationFusion; weights are the fusion attention."""

    streams = True

    def __init__(self, config: ModelConfig, inputs: ModelInputs) -> None:
        super().__init__()
        self.modalities = config.modalities
        if len(self.modalities) < 2:
            raise ValueError("HybridFusion fuses at least two modalities")
        self.session_prediction = config.session_prediction
        self.encoder = GridEncoder(config, self.modalities, inputs)
        self.blocks = nn.ModuleList(HybridBlock(self.modalities, config) for _ in range(config.options_as(HybridFusionOptions).blocks))
        self.norm = _per_modality(self.modalities, nn.LayerNorm, config.d_model)
        self.fusion = RelationFusion(self.modalities, config)

    def forward(self, batch: Batch, state: StreamState | None = None) -> ModelOutput:
        x, avail = self.encoder(batch, state)
        any_avail = torch.stack([avail[m] for m in self.modalities]).any(0)
        for block in self.blocks:
            x = block(x, avail, any_avail, state)
        log_probs, weights = self.fusion({m: self.norm[m](x[m]) for m in self.modalities}, avail)
        return self._output(log_probs, batch.step_valid(), weights)


#: The paper's comparison model of Fig. 4.
HYBRID_FUSION = ModelSpec(
    "hybrid_fusion", HybridFusion, MODALITIES, ReportPlace("HybridFusion", "fusion", roles=frozenset({"figure_4"})),
    options=HybridFusionOptions,
)
