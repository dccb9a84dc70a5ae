"""Incremental inference: step t of a causal model from the inputs of step t and a carried state.

Every model is causal on the step grid (`AffectModel`), so its output at step t depends on the
inputs received up to step t only. Re-running the model over the whole prefix at each step gives
that output exactly but costs O(t) per step; the functions here compute the same thing from the
step's new inputs and a state that holds what the earlier steps left behind:

- a causal Transformer (`CausalTransformer`): per layer, the keys and values of every earlier
  position and whether each was valid (a later query never changes them);
- a sequence encoder: how many elements it consumed (the sinusoidal positions continue from there);
- the audio encoder's strided causal convolutions: per layer, the inputs the next output still
  needs (its left context: up to `kernel - 1` of them) and how many outputs were emitted; an output
  is emitted as soon as its newest input arrives, exactly as the left-padded full convolution
  would place it;
- the video encoder: how many stored frames were seen (`frame_stride` counts from the first one);
  the frame CNN (pixel input) is per frame, so embedding only the new frames is exact;
- CMAA: per modality pair, the projected keys and values of the source's steps so far, after the
  learned null entry;
- MIE: nothing (pointwise per step); TFL: the previous step's distribution.

Each function mirrors its module's `forward` operation by operation and reads the module's own
weights, so the modules stay plain `nn.Module`s with one `forward`. `tests/model/test_streaming.py`
holds every step equal to the full forward within 1e-5, for the full model and its ablations; a
change to a `forward` that is not mirrored here fails those tests.

Models without a stepper here (`incremental_model` returns None) are streamed by re-running the
prefix (`streaming.StreamingPredictor.incremental` says which way a predictor runs).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from edu_emotionnet.batch import MFCC_HOP_S, Batch, pool_to_grid
from edu_emotionnet.cmaa import CausalCrossAttention, CrossModalAlignment
from edu_emotionnet.encoders import (
    AudioEncoder,
    CausalTransformer,
    GridEncoder,
    SequenceEncoder,
    TextEncoder,
    VideoEncoder,
    sinusoidal_positions,
)
from edu_emotionnet.model import EduEmotionNet
from edu_emotionnet.tfl import TemporalFeedback

#: Initial capacity (elements) of a growing key/value buffer; it doubles when full.
INITIAL_CAPACITY = 64


class LateInputError(ValueError):
    """An element of step t timed in an earlier step: the earlier outputs are already given out."""


class GrowingBuffer:
    """A tensor that grows along `dim` by appends; capacity doubles, so an append copies only the new part."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.data: torch.Tensor | None = None
        self.length = 0

    def append(self, x: torch.Tensor) -> None:
        n = x.shape[self.dim]
        if self.data is None:
            shape = list(x.shape)
            shape[self.dim] = max(INITIAL_CAPACITY, 2 * n)
            self.data = x.new_empty(shape)
        elif self.length + n > self.data.shape[self.dim]:
            shape = list(self.data.shape)
            shape[self.dim] = max(2 * shape[self.dim], self.length + n)
            grown = self.data.new_empty(shape)
            grown.narrow(self.dim, 0, self.length).copy_(self.view())
            self.data = grown
        self.data.narrow(self.dim, self.length, n).copy_(x)
        self.length += n

    def view(self) -> torch.Tensor:
        if self.data is None:
            raise RuntimeError("GrowingBuffer.view before any append")
        return self.data.narrow(self.dim, 0, self.length)


def _split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    batch, length, dim = x.shape
    return x.view(batch, length, heads, dim // heads).transpose(1, 2)


def _merge_heads(x: torch.Tensor) -> torch.Tensor:
    batch, heads, length, dim = x.shape
    return x.transpose(1, 2).reshape(batch, length, heads * dim)


# ----------------------------------------------------------------------------- causal Transformer
@dataclass
class TransformerState:
    """Per layer the keys/values (B, heads, L, d/heads) of every position so far; their validity (B, L)."""

    keys: list[GrowingBuffer]
    values: list[GrowingBuffer]
    valid: GrowingBuffer = field(default_factory=lambda: GrowingBuffer(1))


def transformer_state(module: CausalTransformer) -> TransformerState:
    layers = len(module.stack.layers)
    return TransformerState([GrowingBuffer(2) for _ in range(layers)], [GrowingBuffer(2) for _ in range(layers)])


def transformer_step(module: CausalTransformer, state: TransformerState, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """`CausalTransformer.forward` for the new positions x (B, n, d): each attends to the valid
    earlier positions (cached) and the valid new ones up to itself, and always to itself."""
    n = x.shape[1]
    if n == 0:
        return module.norm(x)
    past = state.valid.length
    state.valid.append(valid)
    key_pos = torch.arange(past + n, device=x.device)
    query_pos = key_pos[past:, None]
    allowed = ((key_pos[None, :] <= query_pos)[None] & state.valid.view()[:, None, :]) | (key_pos[None, :] == query_pos)[None]
    # Additive form, made once for every layer (measured faster than a bool mask over a long cache).
    mask = torch.zeros(allowed.shape, dtype=x.dtype, device=x.device).masked_fill_(~allowed, float("-inf"))[:, None]
    for layer, keys, values in zip(module.stack.layers, state.keys, state.values, strict=True):
        attention = layer.self_attn
        query, key, value = F.linear(layer.norm1(x), attention.in_proj_weight, attention.in_proj_bias).chunk(3, dim=-1)
        keys.append(_split_heads(key, module.heads))
        values.append(_split_heads(value, module.heads))
        attended = F.scaled_dot_product_attention(_split_heads(query, module.heads), keys.view(), values.view(), attn_mask=mask)
        x = x + attention.out_proj(_merge_heads(attended))
        x = x + layer.linear2(layer.activation(layer.linear1(layer.norm2(x))))
    return module.norm(x)


# ----------------------------------------------------------------------------- modality encoders
@dataclass
class SequenceState:
    consumed: int
    context: TransformerState | None


def sequence_state(module: SequenceEncoder) -> SequenceState:
    return SequenceState(0, transformer_state(module.context) if module.context is not None else None)


def sequence_step(module: SequenceEncoder, state: SequenceState, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    n = x.shape[1]
    positions = sinusoidal_positions(n, module.project.out_features, x.device, start=state.consumed)
    state.consumed += n
    y = module.project(module.input_norm(x)) + positions
    if module.context is None or state.context is None:
        return y
    return transformer_step(module.context, state.context, y, valid)


@dataclass
class ConvState:
    """Inputs from absolute index `start` on that later outputs still need; counts received/emitted."""

    pending: torch.Tensor  # (B, C, M)
    start: int
    received: int = 0
    emitted: int = 0


def _conv_step(conv: nn.Conv1d, state: ConvState, x: torch.Tensor, stride: int, kernel: int) -> torch.Tensor:
    """New outputs of a left-padded strided conv: output p exists once its newest input p*stride has arrived."""
    state.pending = torch.cat([state.pending, x], dim=2)
    state.received += x.shape[2]
    last = (state.received - 1) // stride
    if last < state.emitted:
        return x.new_zeros(x.shape[0], conv.out_channels, 0)
    begin = state.emitted * stride - (kernel - 1) - state.start
    out = F.gelu(conv(state.pending[..., begin : last * stride + 1 - state.start]))
    state.emitted = last + 1
    keep = min(state.emitted * stride - (kernel - 1) - state.start, state.pending.shape[2])
    state.pending = state.pending[..., keep:]
    state.start += keep
    return out


@dataclass
class AudioState:
    convs: list[ConvState]
    masks: GrowingBuffer  # (B, frames received)
    positions: int
    sequence: SequenceState


def audio_state(module: AudioEncoder, batch: int, device: torch.device) -> AudioState:
    convs = [
        ConvState(torch.zeros(batch, int(conv.in_channels), module.kernel - 1, device=device), -(module.kernel - 1))  # type: ignore[arg-type]
        for conv in module.convs
    ]
    return AudioState(convs, GrowingBuffer(1), 0, sequence_state(module.sequence))


def audio_step(
    module: AudioEncoder, state: AudioState, mfcc: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    state.masks.append(mask)
    x = (mfcc * mask[..., None]).transpose(1, 2)
    for conv, conv_state, stride in zip(module.convs, state.convs, module.strides, strict=True):
        x = _conv_step(conv, conv_state, x, stride, module.kernel)  # type: ignore[arg-type]
    x = x.transpose(1, 2)
    first, state.positions = state.positions, state.positions + x.shape[1]
    newest = state.masks.view()[:, first * module.stride : state.positions * module.stride : module.stride]
    times = torch.arange(first, state.positions, device=x.device, dtype=torch.float32) * module.stride * MFCC_HOP_S
    return sequence_step(module.sequence, state.sequence, x, newest), times[None].expand(x.shape[0], -1), newest


@dataclass
class VideoState:
    seen: int
    sequence: SequenceState


def _embed_frames(module: VideoEncoder, frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-frame embeddings (B, n, D) of the available frames (zeros elsewhere), as `forward` makes them.

    Stored frame embeddings (B, n, D) (video input `embeddings`) are used as they are; pixels
    (B, n, 3, S, S) go through the frame CNN.
    """
    if module.cnn is None:
        return torch.where(mask[..., None], frames.float(), torch.zeros((), device=frames.device))
    batch, n_frames = frames.shape[:2]
    embedded = torch.zeros(batch, n_frames, module.out_dim, device=frames.device)
    picked = frames[mask]
    if picked.shape[0]:
        pixels = (picked.float() / 255.0 - module.pixel_mean) / module.pixel_std
        parts = [module.cnn(pixels[i : i + module.chunk]) for i in range(0, pixels.shape[0], module.chunk)]
        embedded = embedded.index_put((mask,), torch.cat(parts).to(embedded.dtype))
    return embedded


def video_step(
    module: VideoEncoder, state: VideoState, frames: torch.Tensor, times: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    offset = (-state.seen) % module.stride  # the stride counts from the session's first frame
    state.seen += frames.shape[1]
    frames, times, mask = frames[:, offset :: module.stride], times[:, offset :: module.stride], mask[:, offset :: module.stride]
    return sequence_step(module.sequence, state.sequence, _embed_frames(module, frames, mask), mask), times, mask


def text_step(
    module: TextEncoder, state: SequenceState, tokens: torch.Tensor, end_s: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return sequence_step(module.sequence, state, tokens.float() * mask[..., None], mask), end_s, mask


@dataclass
class GridState:
    steps: int
    encoders: dict[str, AudioState | VideoState | SequenceState]


def grid_state(module: GridEncoder, batch: int, device: torch.device) -> GridState:
    states: dict[str, AudioState | VideoState | SequenceState] = {}
    for modality, encoder in module.encoders.items():
        if isinstance(encoder, AudioEncoder):
            states[modality] = audio_state(encoder, batch, device)
        elif isinstance(encoder, VideoEncoder):
            states[modality] = VideoState(0, sequence_state(encoder.sequence))
        elif isinstance(encoder, TextEncoder):
            states[modality] = sequence_state(encoder.sequence)
        else:
            raise TypeError(f"no incremental form of the {type(encoder).__name__} encoding {modality}")
    return GridState(0, states)


def grid_step(module: GridEncoder, state: GridState, chunk: Batch) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Step t of `GridEncoder.forward`: per modality (B, 1, d) features and (B, 1) availability.

    `chunk` holds the elements that arrived during step t (any count, zero included). They are
    pooled as the full forward pools a prefix of t + 1 steps: an element timed past step t falls
    into step t; one timed before it is a `LateInputError`.
    """
    t = state.steps
    state.steps += 1
    grid, avail = {}, {}
    for modality in module.modalities:
        encoder, encoder_state = module.encoders[modality], state.encoders[modality]
        inputs = module._inputs(chunk, modality)
        if isinstance(encoder, AudioEncoder) and isinstance(encoder_state, AudioState):
            features, times, valid = audio_step(encoder, encoder_state, *inputs)
        elif isinstance(encoder, VideoEncoder) and isinstance(encoder_state, VideoState):
            features, times, valid = video_step(encoder, encoder_state, *inputs)
        elif isinstance(encoder, TextEncoder) and isinstance(encoder_state, SequenceState):
            features, times, valid = text_step(encoder, encoder_state, *inputs)
        else:  # pragma: no cover - grid_state pairs every encoder with its state
            raise TypeError(f"{modality}: state {type(encoder_state).__name__} does not fit {type(encoder).__name__}")
        pooled, present = pool_to_grid(features, times, valid, module.step_s, t + 1)
        if bool(present[:, :t].any()):
            raise LateInputError(f"step {t}: a {modality} element is timed in an earlier step, whose output is already given")
        present = present[:, t:]
        grid[modality] = torch.where(present[..., None], pooled[:, t:], module.missing[modality].to(pooled.dtype))
        avail[modality] = present
    return grid, avail


# ----------------------------------------------------------------------------- CMAA, TFL, the model
@dataclass
class CrossAttentionState:
    """The null entry, then the projected source steps so far: keys/values (B, heads, 1 + t, d/heads)."""

    keys: GrowingBuffer
    values: GrowingBuffer
    valid: GrowingBuffer


def cross_attention_state(module: CausalCrossAttention, batch: int, device: torch.device) -> CrossAttentionState:
    state = CrossAttentionState(GrowingBuffer(2), GrowingBuffer(2), GrowingBuffer(1))
    state.keys.append(_split_heads(module.null_key.detach().expand(batch, -1, -1), module.heads))
    state.values.append(_split_heads(module.null_value.detach().expand(batch, -1, -1), module.heads))
    state.valid.append(torch.ones(batch, 1, dtype=torch.bool, device=device))
    return state


def cross_attention_step(
    module: CausalCrossAttention, state: CrossAttentionState, target: torch.Tensor, source: torch.Tensor, source_valid: torch.Tensor
) -> torch.Tensor:
    """`CausalCrossAttention.forward` for one new step (B, 1, d) of target and source."""
    state.keys.append(_split_heads(module.key(source), module.heads))
    state.values.append(_split_heads(module.value(source), module.heads))
    state.valid.append(source_valid)
    attended = F.scaled_dot_product_attention(
        _split_heads(module.query(target), module.heads),
        state.keys.view(),
        state.values.view(),
        attn_mask=state.valid.view()[:, None, None, :],
    )
    return module.out(_merge_heads(attended))


def alignment_step(
    module: CrossModalAlignment, states: dict[str, CrossAttentionState], h: dict[str, torch.Tensor], avail: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    aligned: dict[str, list[torch.Tensor]] = {m: [] for m in module.modalities}
    for i, j in module.pairs:
        name = f"{i}<-{j}"
        update = cross_attention_step(module.attend[name], states[name], h[i], h[j], avail[j])  # type: ignore[arg-type]
        aligned[i].append(module.norm[name](h[i] + update))
    return {m: torch.stack(parts).mean(dim=0) for m, parts in aligned.items()}


def feedback_step(module: TemporalFeedback, z: torch.Tensor, previous: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One iteration of `TemporalFeedback.forward`'s loop: (log y^_t (B, C), y^_t to feed back)."""
    fed = previous if module.feedback else torch.zeros_like(previous)
    log_probs = F.log_softmax(module.classify(module.fuse(torch.cat([z, fed], dim=-1))).float(), dim=-1)
    return log_probs, log_probs.exp().to(z.dtype)


@dataclass
class EduEmotionNetState:
    grid: GridState
    pairs: dict[str, CrossAttentionState]
    previous: torch.Tensor  # (B, C): y^_{t-1}, uniform before the first step


class IncrementalEduEmotionNet:
    """`EduEmotionNet` one step at a time: `state = init_state(B)`, then `step(state, chunk)` per step."""

    def __init__(self, model: EduEmotionNet) -> None:
        self.model = model

    def init_state(self, batch: int = 1, device: torch.device | str = "cpu") -> EduEmotionNetState:
        model, device = self.model, torch.device(device)
        pairs = (
            {name: cross_attention_state(attend, batch, device) for name, attend in model.align.attend.items()}  # type: ignore[arg-type]
            if model.align is not None
            else {}
        )
        classes = model.feedback.n_classes
        return EduEmotionNetState(grid_state(model.encoder, batch, device), pairs, torch.full((batch, classes), 1.0 / classes, device=device))

    @torch.no_grad()
    def step(self, state: EduEmotionNetState, chunk: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Step t's log y^_t (B, C) and modality weights (B, M) from the elements that arrived during it."""
        model = self.model
        if model.training:
            raise RuntimeError("incremental inference runs in eval mode (dropout would differ per call)")
        h, avail = grid_step(model.encoder, state.grid, chunk)
        g = alignment_step(model.align, state.pairs, h, avail) if model.align is not None else h
        z, weights = model.importance(h, g, avail)
        log_probs, state.previous = feedback_step(model.feedback, z[:, 0], state.previous)
        return log_probs, weights[:, 0]


def incremental_model(model: nn.Module) -> IncrementalEduEmotionNet | None:
    """The step-wise form of `model`, or None for an architecture that has none (streamed by prefix re-runs)."""
    return IncrementalEduEmotionNet(model) if isinstance(model, EduEmotionNet) else None
