"""The pipeline configuration: one strict schema for `pipelines/*.yaml`, composed of its owners' sections.

Each section is defined next to the code that reads it (`corpora.config`, `stages.candidates`,
`media.options`, `annotation.options`, `stages.split`, `stages.features.options`,
`stages.publish`), so no stage imports this module: a stage receives the slice of this schema its
`StageSpec` declares (`build.STAGES`). Registered objects (corpora, feature extractors,
aggregation methods) validate their own options. This module only composes the sections, checks
what spans two of them, and loads a file.

Strict on purpose: a misspelled key (`hop_lenth`) is an error naming its path, never a silent
default. `load_config` applies `--set`-style overrides before validation so a command-line flag
is checked exactly like a YAML value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from edu_affect_data.annotation.options import AggregationConfig, AnnotationConfig
from edu_affect_data.core.strict_config import (
    ConfigError,
    StrictModel,
    describe_validation_error,
    load_strict,
    parse_overrides,
)
from edu_affect_data.corpora.config import CorpusConfig, check_corpora, normalise_corpora
from edu_affect_data.media.options import GapsConfig, MediaConfig
from edu_affect_data.stages.candidates import SessionsConfig
from edu_affect_data.stages.features.options import FeaturesConfig
from edu_affect_data.stages.features.registry import DEFAULT_EXTRACTORS
from edu_affect_data.stages.publish import DatasetConfig
from edu_affect_data.stages.split import BalanceConfig, SplitConfig

__all__ = ["ConfigError", "PipelineConfig", "describe_validation_error", "load_config", "parse_overrides"]


class PipelineConfig(StrictModel):
    name: str = Field("edu-affect", description="Name of the build, used in the dataset card.")
    seed: int = Field(0, description="Seed of every random choice (balance, split, simulation, bootstrap).")
    corpora: dict[str, CorpusConfig] = Field(
        default_factory=dict,
        description="Corpora to read, by registered name (built-ins iemocap, mosei; plugins through the entry "
        "points `edu_affect_data.corpora`): `NAME: {root: PATH or null, ...reader options}`, e.g. `mosei: {root: "
        "/data/CMU_MOSEI, speaker_map: speakers.csv}`. Shorthands: `NAME: PATH`, `mosei_speaker_map: PATH`.",
    )
    sessions: SessionsConfig = Field(default_factory=SessionsConfig)
    gaps: GapsConfig = Field(default_factory=GapsConfig)
    media: MediaConfig = Field(default_factory=MediaConfig)
    annotation: AnnotationConfig = Field(default_factory=AnnotationConfig)
    aggregation: AggregationConfig = Field(default_factory=AggregationConfig)
    balance: BalanceConfig = Field(default_factory=BalanceConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    features: FeaturesConfig = Field(default_factory=FeaturesConfig)
    dataset: DatasetConfig = Field(default_factory=DatasetConfig)

    @model_validator(mode="after")
    def _clips_from_proxies(self) -> PipelineConfig:
        if self.annotation.clip.height is not None and self.annotation.clip.height > self.media.proxy_height:
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
    return load_strict(PipelineConfig, path, overrides, complete=_default_extractors)


def _default_extractors(tree: dict[str, Any]) -> None:
    """An absent `features.extractors` is the default extractors, spelled out so that an override
    of one extractor's option amends that mapping instead of becoming the whole selection."""
    features = tree.get("features")
    if features is None:
        features = tree["features"] = {}
    if isinstance(features, dict) and features.get("extractors") is None:
        features["extractors"] = dict.fromkeys(DEFAULT_EXTRACTORS)
