"""The strict training configuration of Edu-EmotionNet and its baselines (`model/configs/*.yaml`).

Loaded by the project's one strict YAML loader (`edu_affect_data.core.strict_config`): a variant config
stays tiny by naming a `base:` file (relative to itself) and stating only what it changes;
mappings merge recursively, anything else replaces. `--set key=value` overrides are applied after
merging and before validation (opening `key: null` sections), so a command-line value is checked
exactly like a YAML one, and a misspelled key anywhere is an error that names its dotted path.
`model.arch` must name an architecture of `edu_emotionnet.registry`, which also decides the
modalities a run reads and what `model.options` may hold: the shared `ModelConfig` has only what
every architecture reads, each arch's own knobs are its options model, declared in its module.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    Field,
    SerializeAsAny,
    ValidationInfo,
    field_validator,
    model_validator,
)

from edu_affect_data.core import strict_config
from edu_affect_data.core.strict_config import ConfigError, NoOptions, StrictModel
from edu_affect_data.core.vocabulary import CLASSES, MODALITIES
from edu_emotionnet.inputs import InputsConfig
from edu_emotionnet.moved_keys import moved_key_problems, remap_moved_keys
from edu_emotionnet.registry import DEFAULT_ARCH, model_spec

OptionsT = TypeVar("OptionsT", bound=BaseModel)

__all__ = [
    "CLASSES",
    "MODALITIES",
    "ModelConfig",
    "TrainConfig",
    "TrainConfigError",
    "VideoEncoderConfig",
    "VideoInput",
    "config_from_dict",
    "load_train_config",
    "parse_overrides",
    "validate_tree",
]


class TrainConfigError(ConfigError):
    """A training or suite configuration that does not load; the message names file and key."""


class AudioEncoderConfig(StrictModel):
    conv_channels: int = Field(64, ge=1, description="Channels of the strided down-sampling convolutions.")
    strides: list[int] = Field([2, 2], description="Stride of each causal conv layer; their product is the down-sampling factor over the audio column's frames (10 ms for MFCC and eGeMAPS).")
    kernel: int = Field(5, ge=1, description="Kernel of each causal conv layer (left-padded so no output sees the future).")


#: What the video encoder reads: the dataset's stored frame embeddings, or the JPEG frames themselves.
VideoInput = Literal["embeddings", "pixels"]


class VideoEncoderConfig(StrictModel):
    """The video branch. `embeddings` (the paper's way, and every shipped config's): the features stage
    already ran a frozen pretrained image network over each frame, so training reads D-dim vectors
    and never decodes a pixel; a ResNet-50 trained end to end on 30 fps x 224 px frames would need
    ~4.5 TiB of activations per batch of 128 sessions (`edu_emotionnet.preflight`). `pixels` trains a
    frame CNN end to end (small CPU configs, fine-tuning studies) and is checked by the pre-flight.
    """

    input: VideoInput = Field("embeddings", description="`embeddings`: the stored `frame_embeddings` (a linear projection into the causal Transformer); `pixels`: the stored JPEG frames through `backbone`.")
    embedding_dim: int = Field(1280, ge=1, description="Width D of the dataset's `frame_embeddings` (EfficientNet-Lite0: 1280, ResNet-50: 2048); checked against the dataset when it loads.")
    backbone: Literal["resnet", "small_cnn"] = Field("resnet", description="Input `pixels` only. `resnet`: transformers.ResNetModel; `small_cnn`: a 3-layer CNN for CPU configs.")
    pretrained: Path | None = Field(None, description="Input `pixels`: local folder of a pretrained ResNet checkpoint (AutoModel layout); null = ResNetConfig from scratch.")
    resnet_depths: list[int] = Field([3, 4, 6, 3], description="Input `pixels`: blocks per stage when built from scratch (ResNet-50).")
    resnet_hidden_sizes: list[int] = Field([256, 512, 1024, 2048], description="Input `pixels`: channels per stage when built from scratch.")
    frame_size: int = Field(224, ge=8, description="Input `pixels`: side of the square frames fed to the CNN; below 224 the frames are pre-decoded and down-scaled once into a cache.")
    cnn_channels: int = Field(32, ge=1, description="Input `pixels`: width of the small CNN.")
    frame_chunk: int = Field(512, ge=1, description="Input `pixels`: frames per CNN call (bounds the forward's peak, not the activations saved for backward).")
    frame_stride: int = Field(1, ge=1, description="Encode every k-th stored frame or embedding (30 fps -> 15 fps at 2): divides the video encoder's positions, and with `pixels` the frame CNN's work, which on CPU is most of a fused model's time.")


class ModelConfig(StrictModel):
    """What every architecture shares (width, depth, the encoders, the step grid), its `arch`, and the
    arch's own `options` (`ModelSpec.options`, declared in the arch's module)."""

    arch: str = Field(DEFAULT_ARCH, description="Architecture, a name of `edu_emotionnet.registry` (the model or a baseline).")
    options: SerializeAsAny[BaseModel] = Field(
        None, validate_default=True,  # None: the arch's defaults, filled in by `_options_of_arch`
        description="The options of `arch`, checked by that arch's own options model (`ModelSpec.options`; the built-ins' "
        "in docs/baselines.md): absent keys take its defaults, a key it does not declare is an error.",
    )
    d_model: int = Field(256, ge=8)
    layers: int = Field(4, ge=1, description="Causal Transformer layers per modality encoder.")
    heads: int = Field(4, ge=1)
    ff_mult: int = Field(4, ge=1, description="Feed-forward width as a multiple of d_model.")
    dropout: float = Field(0.2, ge=0, lt=1)
    input_norm: bool = Field(True, description="LayerNorm on each modality's features before the input projection (every model, baselines included).")
    step_s: float = Field(1.0, gt=0, description="Width of one step of the common time grid, seconds.")
    attention_window_s: float | None = Field(
        None, gt=0,
        description="Every attention over time sees only the last W seconds (encoders: element times; the step grid: "
        "steps after t - W/step_s), in training and streaming alike, so a streamed step costs the same at any "
        "length; null = the whole causal prefix.",
    )
    inputs: InputsConfig = Field(default_factory=InputsConfig, description="The dataset column each encoder reads; widths and frame periods come from the dataset.")
    session_prediction: Literal["last", "mean"] = Field("last", description="Session label from the last valid step, or the mean over valid steps.")
    audio: AudioEncoderConfig = AudioEncoderConfig()
    video: VideoEncoderConfig = VideoEncoderConfig()

    @model_validator(mode="before")
    @classmethod
    def _no_moved_keys(cls, data: Any) -> Any:
        problems = moved_key_problems(data) if isinstance(data, Mapping) else []
        if problems:
            raise ValueError("; ".join(problems))
        return data

    @field_validator("arch")
    @classmethod
    def _known_arch(cls, arch: str) -> str:
        model_spec(arch)  # an unknown name raises, listing the registered ones
        return arch

    @field_validator("options", mode="before")
    @classmethod
    def _options_of_arch(cls, raw: Any, info: ValidationInfo) -> BaseModel:
        arch = info.data.get("arch")
        if arch is None:  # the arch itself did not validate: that error is the one to read
            return NoOptions()
        spec = model_spec(arch)
        if isinstance(raw, spec.options):
            return raw
        return spec.parse_options(raw.model_dump() if isinstance(raw, BaseModel) else raw)

    @model_validator(mode="after")
    def _heads_divide(self) -> ModelConfig:
        if self.d_model % self.heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by heads ({self.heads})")
        return self

    @property
    def window_steps(self) -> float | None:
        """`attention_window_s` in steps, for the attentions over the step grid."""
        return None if self.attention_window_s is None else self.attention_window_s / self.step_s

    @property
    def modalities(self) -> tuple[str, ...]:
        """The dataset modalities this architecture reads (the others are never loaded or encoded)."""
        return model_spec(self.arch).modalities

    def options_as(self, kind: type[OptionsT]) -> OptionsT:
        """`options` as the arch's own options model `kind` (how a model class reads its options, typed)."""
        if not isinstance(self.options, kind):
            raise TypeError(f"model arch {self.arch!r} has {type(self.options).__name__} options, not {kind.__name__}")
        return self.options


class TrainLoopConfig(StrictModel):
    epochs: int = Field(50, ge=1, description="Maximum epochs.")
    batch_size: int = Field(128, ge=1, description="Sessions per optimizer step (over all DDP ranks together).")
    lr: float = Field(1e-4, gt=0)
    weight_decay: float = Field(1e-5, ge=0)
    warmup_epochs: int = Field(5, ge=0, description="Linear warm-up of the learning rate, epochs.")
    decay_epochs: list[int] = Field([30, 40], description="Epochs at which the learning rate is multiplied by decay_factor.")
    decay_factor: float = Field(0.1, gt=0, le=1)
    patience: int = Field(5, ge=1, description="Epochs without a better validation choice (higher macro-F1, ties broken by lower loss) before stopping.")
    grad_clip: float | None = Field(1.0, gt=0, description="Max gradient norm; null = no clipping.")
    num_workers: int = Field(2, ge=0, description="DataLoader worker processes.")
    in_memory: bool = Field(False, description="Keep decoded sessions in memory after their first read (small datasets, many short epochs).")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int | None = Field(None, ge=1, description="torch intra-op threads during the run; null = torch's default. 1 for tiny models on shared CPUs, where two spinning threads run several times slower than one.")
    bf16: bool = Field(True, description="bf16 autocast on CUDA (never on CPU).")
    compile: bool = Field(False, description="torch.compile the model.")
    deterministic: bool = Field(True, description="torch.use_deterministic_algorithms (bit-exact resume on CPU).")
    progress: bool = Field(True, description="Show a progress bar (rank 0 only).")


class EvalConfig(StrictModel):
    missing_rates: list[float] = Field([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6], description="Rates of the missing-modality robustness evaluation.")
    robustness_seed: int = Field(0, description="Seed of the drop masks (the same masks for every model and training seed).")


class TrainConfig(StrictModel):
    name: str = Field("edu_emotionnet", description="Model name in reports.")
    data: Path | None = Field(None, description="Dataset folder that datasets.load_dataset reads (train/validation/test).")
    cache_dir: Path | None = Field(None, description="Frame cache folder; null = <data>/../.cache/edu_emotionnet.")
    seed: int = 0
    # A factory, not an instance: building one validates its arch, which imports the arch's module.
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainLoopConfig = TrainLoopConfig()
    eval: EvalConfig = EvalConfig()


# ------------------------------------------------------------------------------------- loading
def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """`key.sub=value` strings to a mapping; values are parsed as YAML (`3`, `false`, `[1,2]`)."""
    return strict_config.parse_overrides(pairs, TrainConfigError)


def validate_tree(tree: dict[str, Any], source: str) -> TrainConfig:
    """Validate a raw tree; every bad key path is listed under `source`."""
    return strict_config.validate_tree(TrainConfig, tree, source, TrainConfigError)


def load_train_config(
    path: Path, overrides: dict[str, Any] | None = None, *, rebase: Path | None = None
) -> TrainConfig:
    """Read a config with its `base:` chain, apply dotted overrides, validate strictly."""
    return strict_config.load_strict(TrainConfig, Path(path), overrides, rebase=rebase, error=TrainConfigError)


def config_from_dict(tree: dict[str, Any]) -> TrainConfig:
    """Rebuild a config stored in a run folder (results.json, config.json, ckpt.pt, best.pt); one
    written before the model options had flat arch keys, moved by `moved_keys.remap_moved_keys`."""
    return validate_tree(remap_moved_keys(tree), "<stored config>")
