"""Self-MM (Yu et al., AAAI 2021) as a causal step classifier: a multimodal task plus unimodal subtasks
whose labels are generated self-supervisedly from the multimodal label (the ULGM).

Followed: "Learning Modality-Specific Representations with Self-Supervised Multi-Task Learning for
Multimodal Sentiment Analysis" and its reference implementation in thuiar/MMSA
(`models/multiTask/SELF_MM.py`, `trains/multiTask/SELF_MM.py`), read, not copied.

Kept from the original:
- one representation per modality from its own sub-network (there: BERT for text, an LSTM whose
  final state summarises audio or video), each passed through a ReLU "post" layer (the unimodal
  feature F_s) and a two-layer head; the fused feature F_f is a ReLU layer over the concatenated
  unimodal representations, with its own two-layer head (the multimodal task, used for inference);
- the ULGM: class centres of F_f and of every F_s, and a unimodal label built from how far a
  sample's F_s leans towards its class relative to how far its F_f does; the fused centres use the
  multimodal label, a modality's centres use that modality's own generated labels (their sign there);
- the label rule y_s = y_m * (1 + alpha) / 2 + (delta_s - delta_f) / 2, alpha = delta_s / delta_f
  (the average of the paper's ratio and difference rules), delta_r the relative distance of
  representation r to its own and the other centre (below), clamped to the label range; each
  unimodal loss weighted per sample by tanh|y_s - y_m|,
  so a modality that agrees with the fused representation contributes nothing; the total loss is
  the multimodal loss plus the sum of the weighted unimodal losses;
- unimodal losses and label generation only in training; evaluation scores the multimodal head.

Adapted to 4-class classification on the causal step grid (every simplification):
- Sequence -> step grid. Each modality's sub-network is the shared per-modality encoder
  (`GridEncoder`, as for every other baseline) followed by a unidirectional LSTM over the grid
  steps, whose output at step t summarises the modality up to t (the original's final LSTM state,
  made causal and per step). Every (session, step) is one sample; its multimodal label is the
  session's label. A modality's items are the steps at or after its first available step.
- Regression -> classes. The original's positive/negative centres become one centre per class;
  "own" is the item's labelled class and "other" the nearest centre of any other class (with two
  classes exactly the original's pair). The multimodal label is +1 on a [-1, 1] scale from "the
  labelled class" to "the nearest other class" (the clamp is the range, as the original clamps at
  its +-3); the unimodal label y_s maps to the soft target (1 + y_s) / 2 on the labelled class and
  (1 - y_s) / 2 on the modality's nearest other class, trained with soft-target cross-entropy
  (the original: L1 on scores). y_m = 1 makes the sample weight tanh(1 - y_s).
- Relative distance normalised by how far apart the two centres are:
  delta_r = (d_r(other) - d_r(own)) / |c_r(own) - c_r(other)|, in [-1, 1] by the triangle
  inequality. The paper and the reference's active code divide by d_r(own); the reference keeps
  this normalisation as a commented-out alternative. Why: cross-entropy pulls the fused features
  tightly onto their class centre, d_f(own) -> 0 makes delta_f unbounded, and the difference term
  then gives a modality the label of another class even where its feature is nearer its own class.
  Measured on the planted test data (seed 0, 12 epochs, the last five training batches): dividing
  by d(own), 75 % of the audio items, 60 % of the video items and 85 % of the text items got a
  label of another class, although audio alone and video alone classify that data perfectly; with
  the centre distance, 25 %, 3 % and 72 % (text alone is at chance there).
- Centres: the original recomputes them after every batch as the mean of a memory holding every
  training sample's latest features, and smooths each sample's generated label over epochs with
  y^(n) = (n-1)/(n+1) y^(n-1) + 2/(n+1) y_new. A model here sees neither sample indices nor the
  training set's size, so there is no per-sample memory: each centre is an exponential moving
  average of its class's batch means (`options.centre_momentum`; the first batch that has the class
  sets it), kept as buffers (saved with checkpoints, so resuming is exact), and labels are
  generated afresh per batch from those slowly moving centres (no per-sample label momentum).
- Warm-up: the original generates labels from its second epoch; here, until every class has a
  centre in the fused space and in the modality's, the unimodal label is the multimodal one
  (weight 0, as the original's first epoch, where y_s = y_m gives tanh 0).
- The original leaves alpha unguarded when delta_f is near 0 (it adds 1e-8); so does this one:
  the clamp bounds the label.
- Under DDP the centres follow rank 0's batches (DDP broadcasts buffers from rank 0 before each
  forward); the other ranks' updates are overwritten.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from edu_affect_data.core.strict_config import StrictModel
from edu_affect_data.core.vocabulary import CLASSES, MODALITIES
from edu_emotionnet.attention import StreamState, slot_of
from edu_emotionnet.batch import Batch
from edu_emotionnet.config import ModelConfig
from edu_emotionnet.encoders import GridEncoder
from edu_emotionnet.inputs import ModelInputs
from edu_emotionnet.outputs import AffectModel, ModelOutput
from edu_emotionnet.registry import ModelSpec, ReportPlace

#: The original's guard against division by zero in the relative distances.
_EPS = 1e-8
FUSION = "fusion"


class SelfMMOptions(StrictModel):
    """`model.options` of Self-MM."""

    centre_momentum: float = Field(0.9, ge=0, lt=1, description="Momentum m of the ULGM class centres, updated once per training batch as m * centre + (1 - m) * the class's batch mean.")


class UnimodalLabelGenerator(nn.Module):
    """ULGM: momentum class centres per representation, and unimodal labels from relative distances.

    Representation 0 is the fused one, 1.. the modalities. Buffers: `centres` (R, C, d) and `ready`
    (R, C) (whether a class's centre was ever set).
    """

    centres: torch.Tensor
    ready: torch.Tensor

    def __init__(self, n_representations: int, n_classes: int, dim: int, momentum: float) -> None:
        super().__init__()
        self.momentum = momentum
        self.register_buffer("centres", torch.zeros(n_representations, n_classes, dim))
        self.register_buffer("ready", torch.zeros(n_representations, n_classes, dtype=torch.bool))

    @torch.no_grad()
    def update(self, representation: int, features: torch.Tensor, classes: torch.Tensor) -> None:
        """Move each class centre present in `classes` towards its batch mean: c <- m c + (1 - m) mean."""
        n_classes = self.centres.shape[1]
        one_hot = F.one_hot(classes, n_classes).to(torch.float32)  # (N, C)
        counts = one_hot.sum(0)
        means = one_hot.T @ features.float() / counts.clamp_min(1.0)[:, None]
        present = counts > 0
        old = self.centres[representation]
        mixed = torch.where(self.ready[representation][:, None], self.momentum * old + (1 - self.momentum) * means, means)
        self.centres[representation] = torch.where(present[:, None], mixed, old)
        self.ready[representation] |= present

    def margins(self, representation: int, features: torch.Tensor, classes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """delta = (d(nearest other centre) - d(own centre)) / d(own centre, that other centre), and that other class.

        In [-1, 1] by the triangle inequality: 1 at the own centre, -1 at the other one.
        """
        centres = self.centres[representation]
        distances = torch.cdist(features.float(), centres)  # (N, C)
        own = distances.gather(1, classes[:, None]).squeeze(1)
        other, nearest = distances.scatter(1, classes[:, None], float("inf")).min(1)
        apart = (centres[classes] - centres[nearest]).norm(dim=-1)
        return (other - own) / (apart + _EPS), nearest

    @torch.no_grad()
    def targets(
        self, modality: int, unimodal: torch.Tensor, fused: torch.Tensor, classes: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Soft targets (N, C), sample weights tanh|y_s - y_m| (N,) and the unimodal label's class (N,).

        `unimodal` and `fused` are the features of the same N items, `classes` their multimodal label.
        """
        n_classes = self.centres.shape[1]
        hard = F.one_hot(classes, n_classes).to(torch.float32)
        if not bool(self.ready[0].all() and self.ready[modality].all()):
            return hard, torch.zeros_like(classes, dtype=torch.float32), classes
        delta_f, _ = self.margins(0, fused, classes)
        delta_s, nearest = self.margins(modality, unimodal, classes)
        alpha = delta_s / (delta_f + _EPS)
        label = (0.5 * (1 + alpha) + 0.5 * (delta_s - delta_f)).clamp(-1.0, 1.0)  # y_m = 1
        target = hard * ((1 + label) / 2)[:, None] + F.one_hot(nearest, n_classes) * ((1 - label) / 2)[:, None]
        return target, torch.tanh(1 - label), torch.where(label >= 0, classes, nearest)


class _Recurrent:
    """Each modality's LSTM state (h, c) between streamed steps."""

    def __init__(self) -> None:
        self.hidden: dict[str, Any] = {}


class SelfMM(AffectModel):
    streams = True

    def __init__(self, config: ModelConfig, inputs: ModelInputs) -> None:
        super().__init__()
        self.modalities = config.modalities
        self.session_prediction = config.session_prediction
        d, n_classes = config.d_model, len(CLASSES)
        self.encoder = GridEncoder(config, self.modalities, inputs)
        self.subnets = nn.ModuleDict({m: nn.LSTM(d, d, batch_first=True) for m in self.modalities})
        self.dropout = nn.Dropout(config.dropout)
        self.post = nn.ModuleDict(
            {FUSION: nn.Linear(len(self.modalities) * d, d), **{m: nn.Linear(d, d) for m in self.modalities}}
        )
        self.heads = nn.ModuleDict(
            {name: nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, n_classes)) for name in (FUSION, *self.modalities)}
        )
        self.ulgm = UnimodalLabelGenerator(1 + len(self.modalities), n_classes, d, config.options_as(SelfMMOptions).centre_momentum)

    def _summarise(self, modality: str, x: torch.Tensor, state: StreamState | None) -> torch.Tensor:
        carried = slot_of(state, self, _Recurrent)
        # In float32 whatever the autocast: recurrent kernels differ in which low precisions they take.
        with torch.autocast(x.device.type, enabled=False):
            out, carried.hidden[modality] = self.subnets[modality](x.float(), carried.hidden.get(modality))
        return out  # type: ignore[no-any-return]

    def _features(self, name: str, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.post[name](self.dropout(x)))

    def _log_probs(self, name: str, features: torch.Tensor) -> torch.Tensor:
        return F.log_softmax(self.heads[name](features).float(), dim=-1)

    def forward(self, batch: Batch, state: StreamState | None = None) -> ModelOutput:
        h, avail = self.encoder(batch, state)
        step_valid = batch.step_valid()
        summary = {m: self._summarise(m, h[m], state) for m in self.modalities}
        fused = self._features(FUSION, torch.cat([summary[m] for m in self.modalities], dim=-1))
        auxiliary = None
        if self.training:
            auxiliary = {f"{FUSION}_features": fused}
            for m in self.modalities:
                features = self._features(m, summary[m])
                auxiliary[f"{m}_features"] = features
                auxiliary[f"{m}_log_probs"] = self._log_probs(m, features)
                auxiliary[f"{m}_seen"] = avail[m].long().cummax(dim=1).values.bool() & step_valid
        return self._output(self._log_probs(FUSION, fused), step_valid, auxiliary=auxiliary)

    def loss(self, output: ModelOutput, labels: torch.Tensor) -> torch.Tensor:
        """Multimodal loss; in training also the weighted unimodal losses, then the centres move."""
        loss = super().loss(output, labels)
        aux = output.auxiliary
        if not self.training or aux is None:
            return loss
        step_labels = labels[:, None].expand_as(output.step_valid)
        fused = aux[f"{FUSION}_features"].detach()
        updates = [(0, fused[output.step_valid], step_labels[output.step_valid])]
        for r, m in enumerate(self.modalities, start=1):
            seen = aux[f"{m}_seen"]
            unimodal = aux[f"{m}_features"].detach()
            target, weight, assigned = self.ulgm.targets(r, unimodal[seen], fused[seen], step_labels[seen])
            ce = -(target * aux[f"{m}_log_probs"][seen]).sum(-1) * weight
            # Per session the mean over its items (a session where m never appears adds 0), then the
            # batch mean: the shape of the multimodal loss, and the original's mean over samples.
            per_step = torch.zeros(seen.shape, device=ce.device, dtype=ce.dtype).index_put((seen,), ce)
            loss = loss + (per_step.sum(1) / seen.sum(1).clamp_min(1).to(ce.dtype)).mean()
            updates.append((r, unimodal[seen], assigned))
        for r, features, classes in updates:  # after every label was made from the centres as they were
            self.ulgm.update(r, features, classes)
        return loss


SELF_MM = ModelSpec("self_mm", SelfMM, MODALITIES, ReportPlace("Self-MM", "fusion"), options=SelfMMOptions)
