"""Per-modality encoders: input projection, positional encoding, causal Transformer, grid pooling.

Each encoder runs at its modality's own rate (down-sampled MFCC frames, video frames, word
pieces) and only then pools onto the common step grid, so within-modality context is modelled at
full resolution while fusion happens on aligned steps. Every attention is causal in the
modality's own order and no element attends to a masked one, except itself: that keeps a row
whose whole prefix is missing defined (no softmax over nothing, no NaN) while its output is still
dropped from pooling by the mask.
"""

from __future__ import annotations

import errno
import math

import torch
import torch.nn.functional as F
from torch import nn

from edu_emotionnet.batch import MFCC_HOP_S, Batch, pool_to_grid
from edu_emotionnet.config import ModelConfig

N_MFCC = 40
#: ImageNet statistics; also right for a from-scratch CNN (inputs roughly centred).
_PIXEL_MEAN = (0.485, 0.456, 0.406)
_PIXEL_STD = (0.229, 0.224, 0.225)


def sinusoidal_positions(length: int, dim: int, device: torch.device, start: int = 0) -> torch.Tensor:
    """(length, dim) fixed sinusoidal encoding of positions start..start+length-1 (Vaswani et al.).

    PE(p, 2i) = sin(p / 10000^(2i/dim)), PE(p, 2i+1) = cos(p / 10000^(2i/dim)). Each row depends only
    on its own position, in the same float32 arithmetic whatever ``start``, so the streaming
    encoder (`incremental`) adds exactly the rows the full-sequence forward adds.
    """
    position = torch.arange(start, start + length, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim, device=device)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq[: dim // 2])
    return table


def causal_attention_mask(valid: torch.Tensor, heads: int) -> torch.Tensor:
    """(B*heads, L, L) bool mask for nn.TransformerEncoder, True = may NOT attend.

    Position i may attend to j when j <= i and j is valid, and always to itself.
    """
    length = valid.shape[1]
    idx = torch.arange(length, device=valid.device)
    causal = idx[None, :] <= idx[:, None]  # (L, L): key j <= query i
    allowed = causal[None] & valid[:, None, :]
    allowed = allowed | torch.eye(length, dtype=torch.bool, device=valid.device)[None]
    return (~allowed).repeat_interleave(heads, dim=0)


class CausalTransformer(nn.Module):
    """A pre-norm Transformer encoder whose attention only looks back and skips masked positions."""

    def __init__(self, d_model: int, layers: int, heads: int, ff_mult: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        layer = nn.TransformerEncoderLayer(
            d_model, heads, d_model * ff_mult, dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.stack = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        mask = causal_attention_mask(valid, self.heads)
        return self.norm(self.stack(x, mask=mask))


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
            CausalTransformer(config.d_model, config.layers, config.heads, config.ff_mult, config.dropout)
            if contextual
            else None
        )

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        x = self.project(self.input_norm(x)) + sinusoidal_positions(x.shape[1], self.project.out_features, x.device)
        x = self.dropout(x)
        return self.context(x, valid) if self.context is not None else x


class AudioEncoder(nn.Module):
    """MFCC frames -> causal strided convolutions (temporal down-sampling) -> sequence encoder."""

    def __init__(self, config: ModelConfig, contextual: bool = True) -> None:
        super().__init__()
        audio = config.audio
        self.kernel = audio.kernel
        self.strides = list(audio.strides)
        self.stride = math.prod(self.strides)
        convs, channels = [], N_MFCC
        for stride in self.strides:
            convs.append(nn.Conv1d(channels, audio.conv_channels, audio.kernel, stride=stride))
            channels = audio.conv_channels
        self.convs = nn.ModuleList(convs)
        self.sequence = SequenceEncoder(channels, config, contextual)

    def forward(self, mfcc: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = (mfcc * mask[..., None]).transpose(1, 2)  # (B, 40, Ta)
        for conv in self.convs:
            # Left padding only: output p sees inputs <= p*stride, never the future.
            x = F.gelu(conv(F.pad(x, (self.kernel - 1, 0))))
        x = x.transpose(1, 2)  # (B, L, C), L = ceil(Ta / stride)
        newest = mask[:, :: self.stride][:, : x.shape[1]]  # the newest input frame each position saw
        times = torch.arange(x.shape[1], device=x.device, dtype=torch.float32) * self.stride * MFCC_HOP_S
        times = times[None].expand(x.shape[0], -1)
        return self.sequence(x, newest), times, newest


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

    def forward(self, video: torch.Tensor, times: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """`video`: (B, F, D) embeddings or (B, F, 3, S, S) uint8 pixels, as `model.video.input` says."""
        # Counted from each session's first frame, so a streamed prefix keeps the same frames.
        video, times, mask = video[:, :: self.stride], times[:, :: self.stride], mask[:, :: self.stride]
        if self.cnn is None:
            if video.dim() != 3 or video.shape[-1] != self.out_dim:
                raise ValueError(f"video input `embeddings` expects (B, F, {self.out_dim}) frame embeddings, got {tuple(video.shape)}")
            embedded = torch.where(mask[..., None], video.float(), torch.zeros((), device=video.device))
            return self.sequence(embedded, mask), times, mask
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
        return self.sequence(embedded, mask), times, mask


class TextEncoder(nn.Module):
    """Stored token embeddings of the text model -> sequence encoder over word pieces."""

    def __init__(self, config: ModelConfig, text_dim: int, contextual: bool = True) -> None:
        super().__init__()
        self.sequence = SequenceEncoder(text_dim, config, contextual)

    def forward(self, tokens: torch.Tensor, end_s: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.sequence(tokens.float() * mask[..., None], mask), end_s, mask


class GridEncoder(nn.Module):
    """The modalities of one model, each encoded and pooled onto the common step grid.

    Steps where a modality has nothing get a learned per-modality `missing` vector, so the grid
    is always finite; the availability mask says which steps are real.
    """

    def __init__(self, config: ModelConfig, modalities: tuple[str, ...], text_dim: int, contextual: bool = True) -> None:
        super().__init__()
        self.step_s = config.step_s
        self.modalities = modalities
        encoders: dict[str, nn.Module] = {}
        if "audio" in modalities:
            encoders["audio"] = AudioEncoder(config, contextual)
        if "video" in modalities:
            encoders["video"] = VideoEncoder(config, contextual)
        if "text" in modalities:
            encoders["text"] = TextEncoder(config, text_dim, contextual)
        self.encoders = nn.ModuleDict(encoders)
        self.missing = nn.ParameterDict({m: nn.Parameter(torch.zeros(config.d_model)) for m in modalities})

    def _inputs(self, batch: Batch, modality: str) -> tuple[torch.Tensor, ...]:
        inputs: tuple[torch.Tensor | None, ...]
        if modality == "audio":
            inputs = (batch.mfcc, batch.mfcc_mask)
        elif modality == "video":
            pixels = self.encoders["video"].input == "pixels"
            inputs = (batch.frames if pixels else batch.frame_embeddings, batch.frame_times, batch.frame_mask)
        else:
            inputs = (batch.tokens, batch.token_end_s, batch.token_mask)
        if any(value is None for value in inputs):
            raise ValueError(f"this model reads {modality} but the batch carries none")
        return inputs  # type: ignore[return-value]

    def forward(self, batch: Batch) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Per modality: grid features (B, T, d) and availability (B, T)."""
        step_valid = batch.step_valid()
        grid, avail = {}, {}
        for modality in self.modalities:
            features, times, valid = self.encoders[modality](*self._inputs(batch, modality))
            pooled, present = pool_to_grid(features, times, valid, self.step_s, batch.n_steps)
            present = present & step_valid
            grid[modality] = torch.where(present[..., None], pooled, self.missing[modality].to(pooled.dtype))
            avail[modality] = present
        return grid, avail
