"""Pre-flight: will one optimizer step fit? Estimated from the config and the data's shape, before training.

A config that cannot fit should stop in a second with a sentence, not after minutes of data
loading with an out-of-memory kill (or, on a GPU, hours into a queue). The paper's setting read
literally (a ResNet-50 trained end to end on every 30 fps frame, batch 128 x 30 s) needs ~4.5 TiB
of saved activations per step; the same model on stored frame embeddings needs ~28 GiB.

The estimate is a pure function of the config, the longest session of the training split and
the parameter count (`estimate`); `check` compares it with the device's and the host's memory and
raises `PreflightError` with one line naming the estimate, the limit and the knobs. Activations
are counted as the tensors autograd saves for backward, in elements per unit of shape, with
constants measured on this project's modules (`saved_activation_bytes`, torch 2.13, CPU, float32;
deduplicated by storage, parameters excluded):

- causal Transformer layer (pre-norm, dropout on): 12.1 elements per position per d_model,
  3.0 per position per d_model per ff_mult, and 3.0 per head per (query, key) pair (the float
  attention mask, the softmax probabilities and the dropout mask of CPU's math attention; CUDA's
  fused kernels save less, so on a GPU the estimate errs high);
- ResNet (transformers.ResNetModel, training mode) per 224-px frame: a stem of 2.37 M elements
  plus 3.46 per output element of each stage (ResNet-50: 21.5 M elements, 81.9 MiB in float32,
  41.7 MiB under bf16 autocast; NOTES section 9's "~64 MiB per frame" counted the weights'
  bf16 copies too), scaling with the frame's area;
- the small CNN: exactly 3 S^2 + 2 c (S/2)^2 + 4 c (S/4)^2 + 2 c (S/8)^2 per S-px frame.

Under bf16 autocast (CUDA) an element is taken as 2 bytes (measured 50.9% of float32 for the
ResNet), else 4. The fusion modules run on the step grid (~30 steps per session) and are left out
(< 1% of the encoders at the paper's shape). Parameters, gradients and AdamW's two moments add
16 bytes per parameter.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from edu_emotionnet.config import TrainConfig, VideoEncoderConfig

#: Elements autograd saves per position, per layer of `CausalTransformer` (measured; module docstring).
LAYER_PER_D = 12.1
LAYER_PER_D_FF = 3.0
ATTENTION_PER_HEAD_PAIR = 3.0
#: transformers.ResNetModel, per 224-px frame (measured): the stem, and per stage output element.
RESNET_STEM_224 = 2.372e6
RESNET_PER_STAGE_OUTPUT = 3.461
#: Default DataLoader prefetch: each worker keeps this many batches ready.
PREFETCH_FACTOR = 2
GIB = 2**30


class PreflightError(RuntimeError):
    """The configured run cannot fit in the memory of this device or host."""


@dataclass(frozen=True)
class SessionShape:
    """The training split's shape: the longest session's sequences and the split's totals.

    Padding makes every batch as long as its longest session, so the worst step is a batch of
    the longest one; `total_*` (sums over the split) size `train.in_memory`.
    """

    sessions: int
    audio_frames: int  # frames of the audio input column (`model.inputs.audio`)
    audio_width: int  # its values per frame
    video_frames: int  # stored frames (or frame embeddings)
    tokens: int
    text_dim: int
    embedding_dim: int  # 0 when the dataset has no frame embeddings
    total_audio_frames: int = 0
    total_video_frames: int = 0


@dataclass(frozen=True)
class Estimate:
    """Bytes of one optimizer step on one rank; `parts` names where they go (for the message)."""

    activations: int
    states: int
    host_batch: int  # one padded batch of inputs on the host
    host: int  # every batch in flight (DataLoader prefetch, pinned copy) plus `in_memory` sessions
    parts: dict[str, int] = field(default_factory=dict)

    @property
    def device(self) -> int:
        return self.activations + self.states


def human(n: float) -> str:
    """Bytes in binary units, 3 significant digits (`4.58 TiB`)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


# ---------------------------------------------------------------------------------- activations
def transformer_elements(length: int, d_model: int, layers: int, heads: int, ff_mult: int) -> float:
    """Saved elements of one sequence of `length` positions through a `CausalTransformer`."""
    per_layer = length * d_model * (LAYER_PER_D + LAYER_PER_D_FF * ff_mult) + ATTENTION_PER_HEAD_PAIR * heads * length**2
    return layers * per_layer + 2 * length * d_model  # + the final LayerNorm


def sequence_elements(length: int, in_dim: int, config: TrainConfig) -> float:
    """`SequenceEncoder`: input LayerNorm and projection (2 in_dim + 3 d per position) plus the Transformer.

    Counted for every architecture: baselines whose encoders skip the Transformer (early and late
    fusion) get an upper bound, which is what a pre-flight needs.
    """
    m = config.model
    front = length * (2 * in_dim + 3 * m.d_model)
    return front + transformer_elements(length, m.d_model, m.layers, m.heads, m.ff_mult)


def resnet_frame_elements(video: VideoEncoderConfig) -> float:
    """Saved elements of one frame through transformers.ResNetModel (stage s runs at 56 / 2^s px at 224)."""
    stages = sum(depth * hidden * (56 / 2**s) ** 2 for s, (depth, hidden) in enumerate(zip(video.resnet_depths, video.resnet_hidden_sizes, strict=True)))
    return (RESNET_STEM_224 + RESNET_PER_STAGE_OUTPUT * stages) * (video.frame_size / 224) ** 2


def small_cnn_frame_elements(video: VideoEncoderConfig) -> float:
    """Saved elements of one frame through `SmallFrameCNN` (exact for sides divisible by 8)."""
    s, c = video.frame_size, video.cnn_channels
    return 3 * s**2 + 2 * c * (s / 2) ** 2 + 4 * c * (s / 4) ** 2 + 2 * c * (s / 8) ** 2


def activation_parts(config: TrainConfig, shape: SessionShape, batch: int) -> dict[str, float]:
    """Saved elements of one step of `batch` longest sessions, per part of the model."""
    m, video = config.model, config.model.video
    parts: dict[str, float] = {}
    if "audio" in m.modalities:
        length, channels, elements = shape.audio_frames, shape.audio_width, 0.0
        for stride in m.audio.strides:  # padded input, conv output and GELU output per layer
            out = math.ceil(length / stride)
            elements += channels * (length + m.audio.kernel - 1) + 2 * m.audio.conv_channels * out
            length, channels = out, m.audio.conv_channels
        parts["audio encoder"] = batch * (elements + sequence_elements(length, channels, config))
    if "video" in m.modalities:
        frames = math.ceil(shape.video_frames / video.frame_stride)
        if video.input == "pixels":
            per_frame = resnet_frame_elements(video) if video.backbone == "resnet" else small_cnn_frame_elements(video)
            parts["frame CNN"] = batch * frames * per_frame
            in_dim = video.resnet_hidden_sizes[-1] if video.backbone == "resnet" else 2 * video.cnn_channels
        else:
            in_dim = video.embedding_dim
        parts["video encoder"] = batch * sequence_elements(frames, in_dim, config)
    if "text" in m.modalities:
        parts["text encoder"] = batch * sequence_elements(shape.tokens, shape.text_dim, config)
    return parts


# ----------------------------------------------------------------------------------- host inputs
def session_input_bytes(config: TrainConfig, shape: SessionShape, audio_frames: int, video_frames: int, sessions: int = 1) -> int:
    """Host bytes of model inputs as `SessionDataset` gives them: `sessions` sessions holding
    `audio_frames` and `video_frames` in all (token sequences have a fixed length)."""
    m, video = config.model, config.model.video
    total = 0
    if "audio" in m.modalities:
        total += audio_frames * (shape.audio_width * 4 + 1)  # float32 frames + mask
    if "video" in m.modalities:
        if video.input == "embeddings":
            per_frame = shape.embedding_dim * 2  # float16, as stored
        else:  # uint8 RGB, decoded at 224 px by `datasets` or read from the frame cache at frame_size
            per_frame = 3 * video.frame_size**2
        total += video_frames * (per_frame + 4 + 1)  # + time and availability
    if "text" in m.modalities:
        total += sessions * shape.tokens * (shape.text_dim * 4 + 4 + 1)  # `datasets`' torch format gives float32
    return total


def estimate(config: TrainConfig, shape: SessionShape, *, per_rank_batch: int, parameters: int, bf16: bool) -> Estimate:
    """Activation, state and host-input bytes of one optimizer step on one rank (a pure function)."""
    element = 2 if bf16 else 4
    parts = {name: int(value * element) for name, value in activation_parts(config, shape, per_rank_batch).items()}
    # The padded batch and the items it was collated from exist together.
    host_batch = 2 * per_rank_batch * session_input_bytes(config, shape, shape.audio_frames, shape.video_frames)
    workers = config.train.num_workers
    in_flight = workers * PREFETCH_FACTOR + 1 if workers else 1
    host = host_batch * in_flight
    if config.train.in_memory:  # every session kept after its first read
        host += session_input_bytes(config, shape, shape.total_audio_frames, shape.total_video_frames, shape.sessions)
    return Estimate(activations=sum(parts.values()), states=16 * parameters, host_batch=host_batch, host=host, parts=parts)


# ------------------------------------------------------------------------------------ the data
def _lengths(table: Any, column: str) -> list[int]:
    """Per-row length of a list column (an `Array2D` counts its rows) without reading the values."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out: list[int] = []
    for chunk in table.column(column).chunks:
        storage = chunk.storage if isinstance(chunk, pa.ExtensionArray) else chunk
        out.extend(pc.fill_null(pc.list_value_length(storage), 0).to_pylist())
    return out


def split_shape(split: Any, audio_column: str = "mfcc") -> SessionShape:
    """The shape of a `datasets` split (or a `SessionDataset`'s rows) from Arrow lengths only;
    `audio_column` is the audio input (`model.inputs.audio`)."""
    features, table = split.features, split.data
    audio = _lengths(table, audio_column) if audio_column in features else [0]
    audio_shape = getattr(features.get(audio_column), "shape", None)
    video = _lengths(table, "frame_times") if "frame_times" in features else [0]
    tokens_feature = features.get("token_embeddings")
    tokens, text_dim = (int(tokens_feature.shape[0]), int(tokens_feature.shape[1])) if tokens_feature is not None else (0, 0)
    embeddings = features.get("frame_embeddings")
    return SessionShape(
        sessions=len(split),
        audio_frames=max(audio, default=0),
        audio_width=int(audio_shape[1]) if audio_shape is not None else 1,
        video_frames=max(video, default=0),
        tokens=tokens,
        text_dim=text_dim,
        embedding_dim=int(embeddings.shape[1]) if embeddings is not None else 0,
        total_audio_frames=sum(audio),
        total_video_frames=sum(video),
    )


# ---------------------------------------------------------------------------------- the limits
def host_available_bytes() -> int:
    """Memory the host can still give without swapping: Linux's MemAvailable (page cache counts as free)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except FileNotFoundError:
        pass
    # No /proc (macOS, BSD): the free pages, a stricter bound (the page cache counts as used).
    return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def device_memory_bytes(device: torch.device) -> int | None:
    """Total memory of a CUDA device; None for the CPU, whose activations live in host memory."""
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory)
    return None


def check(estimate: Estimate, config: TrainConfig, *, per_rank_batch: int, device_name: str,
          device_limit: int | None, host_limit: int) -> None:
    """Raise `PreflightError` (one line) when the step cannot fit; the message names the knobs."""
    video = config.model.video
    knobs = (f"lower model.video.frame_stride (now {video.frame_stride}) or train.batch_size (now {config.train.batch_size}, "
             f"{per_rank_batch} per rank)")
    if video.input == "pixels" and "video" in config.model.modalities:
        knobs += ", or train on stored frame embeddings (model.video.input: embeddings)"
    breakdown = ", ".join(f"{name} {human(size)}" for name, size in sorted(estimate.parts.items(), key=lambda kv: -kv[1]))
    need = f"activations {human(estimate.activations)} ({breakdown}) + parameters and optimizer {human(estimate.states)}"
    if device_limit is not None:
        if estimate.device > device_limit:
            raise PreflightError(f"pre-flight: one training step needs ~{human(estimate.device)} of {device_name} memory "
                                 f"[{need}] but the device has {human(device_limit)}; {knobs}")
        host_need, what = estimate.host, f"input batches {human(estimate.host)}"
    else:  # CPU training: activations and inputs share the host's memory
        host_need, what = estimate.device + estimate.host, f"{need} + input batches {human(estimate.host)}"
    if host_need > host_limit:
        raise PreflightError(f"pre-flight: one training step needs ~{human(host_need)} of host memory [{what}] "
                             f"but {human(host_limit)} is available; {knobs}, or lower train.num_workers "
                             f"(now {config.train.num_workers}) / set train.in_memory: false")


def preflight(config: TrainConfig, train_split: Any, device: torch.device, *, per_rank_batch: int, parameters: int) -> Estimate:
    """Estimate this run's step and stop it (`PreflightError`) when it cannot fit; else return the estimate.

    `train_split` is the training `SessionDataset` (its rows) or a `datasets` split.
    """
    rows = getattr(train_split, "rows", train_split)
    bf16 = config.train.bf16 and device.type == "cuda"
    found = estimate(config, split_shape(rows, config.model.inputs.audio), per_rank_batch=per_rank_batch, parameters=parameters, bf16=bf16)
    check(found, config, per_rank_batch=per_rank_batch, device_name=str(device),
          device_limit=device_memory_bytes(device), host_limit=host_available_bytes())
    return found


# ------------------------------------------------------------------- measuring (tests, benches)
def saved_activation_bytes(forward: Callable[[], Any], exclude: Mapping[int, Any] | None = None) -> int:
    """Bytes autograd saves for backward while `forward()` runs, each storage counted once.

    `exclude`: storages (by data pointer) not to count, e.g. the parameters'. How the constants
    above were measured; the tests hold `estimate` to it.
    """
    seen: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        forward()
    skip = set(exclude or {})
    return sum(size for pointer, size in seen.items() if pointer not in skip)
