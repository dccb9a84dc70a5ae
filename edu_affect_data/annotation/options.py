"""The annotation campaign's settings (`annotation:` and `aggregation:` sections of a pipeline).

Defined here, with the code that reads them, so the annotation package never imports the
pipeline configuration that composes them (`edu_affect_data.config`). `CampaignSettings` is what a
campaign reads of the pipeline configuration: the build hands the annotate and pull stages a
slice with exactly these keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import (
    BaseModel,
    Field,
    SerializeAsAny,
    ValidationInfo,
    field_validator,
    model_validator,
)

from edu_affect_data.annotation.methods import estimator_options, method_names
from edu_affect_data.core.strict_config import NoOptions, StrictModel, parse_options


class ClipConfig(StrictModel):
    """The browser clips: by default the proxy's own frames, cut by stream copy (`annotation.clips`)."""

    height: int | None = Field(
        None,
        gt=0,
        description="Height of the browser clips shown to annotators (width keeps the aspect). null: the proxy's "
        "(`media.proxy_height`, or the source's where lower), cut by stream copy; another height re-encodes.",
    )
    fps: float | None = Field(
        None,
        gt=0,
        description="Frame rate of the clips. null: each source's own rate (stream copy; Label Studio's frameRate "
        "is then each task's `fps`); a number re-encodes every clip at it and sets the labeling config's frameRate.",
    )
    crf: int = Field(26, ge=0, le=51, description="x264 quality of the clips, where they are re-encoded (a height or fps the proxy does not have).")


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

    @property
    def first_ratings(self) -> int | None:
        """Each session's first ratings that are an unbiased sample: `initial` under adaptive overlap
        (later ones were asked for because these disagreed), None (all) under fixed overlap."""
        return self.initial if self.adaptive else None


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
    """How votes become a label: a registered estimator (`annotation.methods`) with its own options.

    `options` is validated by the estimator's `options` model (Dawid-Skene: `n_iter`, `tol`;
    majority: none), so a misspelled option is an error naming `aggregation.options.KEY`.
    """

    method: str = Field(
        "majority",
        description="Label estimator (`annotation.methods`: majority, dawid_skene, or a registered one); the reviewer's choice always overrides.",
    )
    options: SerializeAsAny[BaseModel] = Field(
        default_factory=NoOptions,
        validate_default=True,  # the default becomes the method's options model with its defaults
        description="Options of the estimator `method` names (dawid_skene: `n_iter`, `tol`; majority: none); null = its defaults.",
    )
    min_votes: int = Field(2, ge=1, description="Valid votes needed before a strict majority can decide.")

    @field_validator("method")
    @classmethod
    def _registered_method(cls, value: str) -> str:
        if value not in method_names():
            raise ValueError(f"unknown aggregation method {value!r}; known: {', '.join(method_names())}")
        return value

    @field_validator("options", mode="before")
    @classmethod
    def _method_options(cls, value: Any, info: ValidationInfo) -> Any:
        """Checked by the estimator's own options model (the method is validated first)."""
        method = info.data.get("method")
        if method is None:  # the method itself is invalid: that error is reported
            return NoOptions()
        if isinstance(value, BaseModel):
            value = value.model_dump()
        return parse_options(estimator_options(method), value, "aggregation.options", f"aggregation method {method}")


class CampaignSettings(Protocol):
    """What a campaign reads of the pipeline configuration (the annotate and pull stages' slice)."""

    @property
    def seed(self) -> int: ...

    @property
    def annotation(self) -> AnnotationConfig: ...

    @property
    def aggregation(self) -> AggregationConfig: ...
