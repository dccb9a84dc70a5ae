"""Per-modality encoders: input projection, positional encoding, causal Transformer, grid pooling.

Each encoder runs at its modality's own rate (the audio column's frames after down-sampling,
video frames, word pieces) and only then pools onto the common step grid, so within-modality
context is modelled at full resolution while fusion happens on aligned steps. Every attention is
causal in the modality's own order (`edu_emotionnet.attention`) and no element attends to a masked
one, except itself: that keeps a row whose whole prefix is missing defined (no softmax over nothing,
no NaN) while its output is still dropped from pooling by the mask. With `model.attention_window_s`
an element sees only the elements of the last W seconds.

Every module takes an optional `StreamState`: without it a call is a whole session, with it the
call is the next chunk of a stream (`streaming`), computed by the same code. The widths and the
audio frame period come from the dataset (`ModelInputs`), never from constants here.
"""

from __future__ import annotations

import errno
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from edu_emotionnet.attention import (
    CausalConv1d,
    CausalTransformer,
    StreamState,
    consumed,
    running_clock,
    slot_of,
)
from edu_emotionnet.batch import Batch, LateInputError, pool_to_grid
from edu_emotionnet.config import ModelConfig
from edu_emotionnet.inputs import ModelInputs

#: ImageNet statistics; also right for a from-scratch CNN (inputs roughly centred).
_PIXEL_MEAN = (0.485, 0.456, 0.406)
_PIXEL_STD = (0.229, 0.224, 0.225)


def sinusoidal_positions(length: int, dim: int, device: torch.device, start: int = 0) -> torch.Tensor:
    """(length, dim) fixed sinusoidal encoding of positions start..start+length-1 (Vaswani et al.).

    PE(p, 2i) = sin(p / 10000^(2i/dim)), PE(p, 2i+1) = cos(p / 10000^(2i/dim)). Each row depends only
    on its own position, in the same float32 arithmetic whatever ``start``, so a streamed chunk
    adds exactly the rows the whole-sequence forward adds.
    """
    position = torch.arange(start, start + length, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim, device=device)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq[: dim // 2])
    return table


@dataclass
class _SequenceSlot:
    """A sequence encoder's stream: elements consumed (where positions go on) and the clock so far (B,)."""

    seen: int = 0
    clock: torch.Tensor | None = None


@dataclass
class _AudioSlot:
    """An audio encoder's stream: frames received and positions emitted."""

    received: int = 0
    emitted: int = 0


class SequenceEncoder(nn.Module):
    """Shared tail of every modality: project to d, add positions, optionally contextualise."""

    def __init__(self, in_dim: int, config: ModelConfig, contextual: bool) -> None:
        super().__init__()
        # Raw widths and scales differ wildly (MiniLM pieces have norm ~7 over 384 dims, CNN and
        # conv features drift during training); a LayerNorm puts every modality on one footing.
        self.input_norm: nn.Module = nn.LayerNorm(in_dim) if config.input_norm else nn.Identity()
        self.project = nn.Linear(in_dim, config.d_model)
        self.dropout = nn.Dropout(config.dropout)
        self.context = (
            CausalTransformer(config.d_model, config.layers, config.heads, config.ff_mult, config.dropout, config.attention_window_s)
            if contextual
            else None
        )

    def forward(self, x: torch.Tensor, valid: torch.Tensor, times: torch.Tensor, state: StreamState | None = None) -> torch.Tensor:
        """`x` (B, n, in_dim) new elements, their validity and times (seconds from the session start)."""
        slot = slot_of(state, self, _SequenceSlot)
        first, slot.seen = slot.seen, slot.seen + x.shape[1]
        x = self.project(self.input_norm(x)) + sinusoidal_positions(x.shape[1], self.project.out_features, x.device, start=first)
        x = self.dropout(x)
        if self.context is None:
            return x
        clock = running_clock(times, valid, slot.clock)
        if clock.shape[1]:
            slot.clock = clock[:, -1]
        return self.context(x, valid, clock, state)


class AudioEncoder(nn.Module):
    """Audio frames (the `model.inputs.audio` column) -> causal strided convolutions (temporal
    down-sampling) -> sequence encoder. Position p carries the time of the newest frame it saw."""

    def __init__(self, config: ModelConfig, width: int, period_s: float, contextual: bool = True) -> None:
        super().__init__()
        audio = config.audio
        self.period_s = period_s
        self.strides = list(audio.strides)
        self.stride = math.prod(self.strides)
        convs, channels = [], width
        for stride in self.strides:
            convs.append(CausalConv1d(channels, audio.conv_channels, audio.kernel, stride=stride))
            channels = audio.conv_channels
        self.convs = nn.ModuleList(convs)
        self.sequence = SequenceEncoder(channels, config, contextual)

    def forward(
        self, audio: torch.Tensor, mask: torch.Tensor, state: StreamState | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        slot = slot_of(state, self, _AudioSlot)
        received, slot.received = slot.received, slot.received + audio.shape[1]
        x = (audio * mask[..., None]).transpose(1, 2)  # (B, width, n)
        for conv in self.convs:
            x = F.gelu(conv(x, state))
        x = x.transpose(1, 2)  # (B, m, C): the positions whose newest frame arrived in this chunk
        first, slot.emitted = slot.emitted, slot.emitted + x.shape[1]
        frames = torch.arange(first, first + x.shape[1], device=x.device) * self.stride  # each position's newest frame
        newest = mask[:, frames - received]
        times = (frames.to(torch.float32) * self.period_s)[None].expand(x.shape[0], -1)
        return self.sequence(x, newest, times, state), times, newest


class SmallFrameCNN(nn.Module):
    """Three strided convolutions and global pooling: a frame embedding cheap enough for CPU runs."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(3, channels, 3, stride=2, padding=1),
            nn.GELU(),
            nn.Conv2d(channels, channels * 2, 3, stride=2, padding=1),
            nn.GELU(),
            nn.Conv2d(channels * 2, channels * 2, 3, stride=2, padding=1),
            nn.GELU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.out_dim = channels * 2

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.layers(pixels).flatten(1)


class ResNetFrameCNN(nn.Module):
    """transformers.ResNetModel: a local pretrained checkpoint when given, else ResNetConfig from scratch."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        from transformers import ResNetConfig, ResNetModel

        video = config.video
        if video.pretrained is not None:
            if not video.pretrained.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, "model.video.pretrained is not a folder", str(video.pretrained))
            self.resnet = ResNetModel.from_pretrained(str(video.pretrained), local_files_only=True)
        else:
            self.resnet = ResNetModel(
                ResNetConfig(depths=list(video.resnet_depths), hidden_sizes=list(video.resnet_hidden_sizes))
            )
        self.out_dim = int(self.resnet.config.hidden_sizes[-1])  # type: ignore[index]

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.resnet(pixel_values=pixels).pooler_output.flatten(1)


class VideoEncoder(nn.Module):
    """Video -> sequence encoder over frames: stored frame embeddings, or pixels through a frame CNN.

    `embeddings` (`model.video.input`): the (B, F, D) vectors a frozen pretrained image network
    made in the features stage go straight into the sequence encoder (its input LayerNorm and
    linear projection to d); there is no CNN, so `cnn` is None. `pixels`: the available frames go
    through the frame CNN, trained end to end. Either way unavailable frames enter as zeros and are
    masked out of attention and pooling.
    """

    def __init__(self, config: ModelConfig, contextual: bool = True) -> None:
        super().__init__()
        video = config.video
        self.input = video.input
        self.chunk = video.frame_chunk
        self.stride = video.frame_stride
        self.cnn: nn.Module | None = None
        if video.input == "pixels":
            self.cnn = SmallFrameCNN(video.cnn_channels) if video.backbone == "small_cnn" else ResNetFrameCNN(config)
        out_dim = int(self.cnn.out_dim) if self.cnn is not None else video.embedding_dim  # type: ignore[arg-type]
        self.out_dim = out_dim
        self.pixel_mean: torch.Tensor
        self.pixel_std: torch.Tensor
        self.register_buffer("pixel_mean", torch.tensor(_PIXEL_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(_PIXEL_STD).view(1, 3, 1, 1), persistent=False)
        self.sequence = SequenceEncoder(out_dim, config, contextual)

    def forward(
        self, video: torch.Tensor, times: torch.Tensor, mask: torch.Tensor, state: StreamState | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """`video`: (B, F, D) embeddings or (B, F, 3, S, S) uint8 pixels, as `model.video.input` says."""
        # Every k-th frame counted from the session's first one, so a stream keeps the same frames.
        offset = (-consumed(state, self, video.shape[1])) % self.stride
        video, times, mask = video[:, offset :: self.stride], times[:, offset :: self.stride], mask[:, offset :: self.stride]
        if self.cnn is None:
            if video.dim() != 3 or video.shape[-1] != self.out_dim:
                raise ValueError(f"video input `embeddings` expects (B, F, {self.out_dim}) frame embeddings, got {tuple(video.shape)}")
            embedded = torch.where(mask[..., None], video.float(), torch.zeros((), device=video.device))
            return self.sequence(embedded, mask, times, state), times, mask
        if video.dim() != 5:
            raise ValueError(f"video input `pixels` expects (B, F, 3, S, S) frames, got {tuple(video.shape)}")
        batch, n_frames = video.shape[:2]
        picked = video[mask]  # only real, available frames go through the CNN
        embedded = torch.zeros(batch, n_frames, self.out_dim, device=video.device)
        # The CNN runs even on no frame at all (an empty batch: zero gradients, BatchNorm untouched):
        # skipping it would leave its parameters without a gradient on that DDP rank, and DDP waits.
        pixels = (picked.float() / 255.0 - self.pixel_mean) / self.pixel_std
        parts = [self.cnn(pixels[i : i + self.chunk]) for i in range(0, max(1, pixels.shape[0]), self.chunk)]
        embedded = embedded.index_put((mask,), torch.cat(parts).to(embedded.dtype))
        return self.sequence(embedded, mask, times, state), times, mask


class TextEncoder(nn.Module):
    """Stored token embeddings of the text model -> sequence encoder over word pieces."""

    def __init__(self, config: ModelConfig, text_dim: int, contextual: bool = True) -> None:
        super().__init__()
        self.sequence = SequenceEncoder(text_dim, config, contextual)

    def forward(
        self, tokens: torch.Tensor, end_s: torch.Tensor, mask: torch.Tensor, state: StreamState | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.sequence(tokens.float() * mask[..., None], mask, end_s, state), end_s, mask


@dataclass
class _GridSlot:
    steps: int = 0


class GridEncoder(nn.Module):
    """The modalities of one model, each encoded and pooled onto the common step grid.

    Steps where a modality has nothing get a learned per-modality `missing` vector, so the grid
    is always finite; the availability mask says which steps are real. Streamed, each call is one
    step t: its chunk holds the elements that arrived during step t (any count, zero included),
    pooled as the whole forward pools a prefix of t + 1 steps (an element timed past step t falls
    into step t; one timed before it is a `LateInputError`).
    """

    def __init__(self, config: ModelConfig, modalities: tuple[str, ...], inputs: ModelInputs, contextual: bool = True) -> None:
        super().__init__()
        self.step_s = config.step_s
        self.modalities = modalities
        encoders: dict[str, nn.Module] = {}
        if "audio" in modalities:
            audio = inputs["audio"]
            if audio.period_s is None:
                raise ValueError(f"audio input {audio.column!r} has no frame period: it cannot feed the audio encoder")
            encoders["audio"] = AudioEncoder(config, audio.width, audio.period_s, contextual)
        if "video" in modalities:
            encoders["video"] = VideoEncoder(config, contextual)
        if "text" in modalities:
            encoders["text"] = TextEncoder(config, inputs.width("text"), contextual)
        self.encoders = nn.ModuleDict(encoders)
        self.missing = nn.ParameterDict({m: nn.Parameter(torch.zeros(config.d_model)) for m in modalities})

    def _inputs(self, batch: Batch, modality: str) -> tuple[torch.Tensor, ...]:
        inputs: tuple[torch.Tensor | None, ...]
        if modality == "audio":
            inputs = (batch.audio, batch.audio_mask)
        elif modality == "video":
            pixels = self.encoders["video"].input == "pixels"
            inputs = (batch.frames if pixels else batch.frame_embeddings, batch.frame_times, batch.frame_mask)
        else:
            inputs = (batch.tokens, batch.token_end_s, batch.token_mask)
        if any(value is None for value in inputs):
            raise ValueError(f"this model reads {modality} but the batch carries none")
        return inputs  # type: ignore[return-value]

    def forward(self, batch: Batch, state: StreamState | None = None) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Per modality: grid features (B, T, d) and availability (B, T); streamed, T = 1 (this step)."""
        step_valid = batch.step_valid()
        first = slot_of(state, self, _GridSlot).steps
        n_steps: int | torch.Tensor = batch.n_steps if state is None else first + 1
        if state is not None:
            state.slot(self, _GridSlot).steps += 1
        grid, avail = {}, {}
        for modality in self.modalities:
            features, times, valid = self.encoders[modality](*self._inputs(batch, modality), state=state)
            try:
                pooled, present = pool_to_grid(features, times, valid, self.step_s, n_steps, first=first)
            except LateInputError:
                raise LateInputError(f"step {first}: a {modality} element is timed in an earlier step, whose output is already given") from None
            present = present & step_valid
            grid[modality] = torch.where(present[..., None], pooled, self.missing[modality].to(pooled.dtype))
            avail[modality] = present
        return grid, avail
