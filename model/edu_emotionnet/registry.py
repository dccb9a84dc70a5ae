"""The one table of model architectures: `config.model.arch` -> (class, modalities, family).

Everything that depends on the architecture reads it from here: the config validation (an unknown
`arch` is a config error naming the known ones), `build_model`, the modalities a run loads and
encodes (the others are never read from the dataset), and the report's tables (`family`).

Classes are named as `"module:Class"` and imported on first build, so validating a config does
not import torch. A new architecture is one entry: in `BUILTINS` below for a built-in,
`register_model(spec)` from code, or a `ModelSpec` exposed by another package through the
entry-point group `edu_emotionnet.models` (`edu_affect_data.core.registry`), e.g. in its pyproject.toml:

    [project.entry-points."edu_emotionnet.models"]
    my_gru = "my_package.models:MY_GRU"   # MY_GRU = ModelSpec("my_gru", "my_package.models:GRU", ...)

The class is called as `Class(config: ModelConfig, text_dim: int)` and must be an `AffectModel`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from edu_affect_data.core.registry import Registry, RegistryError, import_target
from edu_affect_data.core.vocabulary import MODALITIES

if TYPE_CHECKING:
    from edu_emotionnet.config import ModelConfig
    from edu_emotionnet.outputs import AffectModel

#: The report's grouping: `full` is the paper's model (its ablations are the same arch with a
#: component switched off), `unimodal` and `fusion` are the baselines of Table II.
Family = Literal["full", "unimodal", "fusion"]
FAMILIES: tuple[Family, ...] = ("full", "unimodal", "fusion")
ENTRY_POINT_GROUP = "edu_emotionnet.models"


class UnknownModelError(RegistryError):
    """An `arch` that no `register_model` call (or entry point) has named (a ValueError, so the
    config validation reports it under `model.arch`)."""


@dataclass(frozen=True)
class ModelSpec:
    """One architecture: its `arch` name, class, the modalities it reads, its report family."""

    name: str
    #: `"module:Class"` (imported on first build) or the class itself.
    model: str | type
    modalities: tuple[str, ...]
    family: Family

    def __post_init__(self) -> None:
        unknown = [m for m in self.modalities if m not in MODALITIES]
        if not self.modalities or unknown or len(set(self.modalities)) != len(self.modalities):
            raise ValueError(f"model {self.name!r}: modalities {self.modalities} must be distinct names from {MODALITIES}")
        if self.family not in FAMILIES:
            raise ValueError(f"model {self.name!r}: family {self.family!r} is not one of {FAMILIES}")
        if isinstance(self.model, str) and ":" not in self.model:
            raise ValueError(f"model {self.name!r}: {self.model!r} is not 'module:Class'")

    def model_class(self) -> type:
        if not isinstance(self.model, str):
            return self.model
        return import_target(self.model)  # type: ignore[no-any-return]

    def build(self, config: ModelConfig, text_dim: int) -> AffectModel:
        """A fresh instance for `config` (whose `arch` is this spec's name)."""
        return self.model_class()(config, text_dim)  # type: ignore[no-any-return]


def _check(name: str, spec: Any) -> ModelSpec:
    if not isinstance(spec, ModelSpec) or spec.name != name:
        raise UnknownModelError(f"a {type(spec).__name__} is not a ModelSpec named {name!r}")
    return spec


#: The paper's model (its ablations are switches of the same arch) and the baselines of Table II.
BUILTINS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("edu_emotionnet", "edu_emotionnet.model:EduEmotionNet", MODALITIES, "full"),
        ModelSpec("audio_only", "edu_emotionnet.baselines:Unimodal", ("audio",), "unimodal"),
        ModelSpec("visual_only", "edu_emotionnet.baselines:Unimodal", ("video",), "unimodal"),
        ModelSpec("text_only", "edu_emotionnet.baselines:Unimodal", ("text",), "unimodal"),
        ModelSpec("early_fusion", "edu_emotionnet.baselines:EarlyFusion", MODALITIES, "fusion"),
        ModelSpec("late_fusion", "edu_emotionnet.baselines:LateFusion", MODALITIES, "fusion"),
        ModelSpec("mult", "edu_emotionnet.baselines:MulT", MODALITIES, "fusion"),
        ModelSpec("self_mm", "edu_emotionnet.self_mm:SelfMM", MODALITIES, "fusion"),
        ModelSpec("cfn_esa", "edu_emotionnet.cfn_esa:CFNESA", MODALITIES, "fusion"),
        ModelSpec("hybrid_fusion", "edu_emotionnet.hybrid_fusion:HybridFusion", MODALITIES, "fusion"),
    )
}


MODELS: Registry[ModelSpec] = Registry(
    "model arch", ENTRY_POINT_GROUP, _check, builtins=BUILTINS, error=UnknownModelError, unknown=UnknownModelError
)


def register_model(spec: ModelSpec, *, replace: bool = False) -> ModelSpec:
    """Add `spec` to the registry; registering a taken name twice is an error unless `replace`."""
    return MODELS.register(spec.name, spec, replace=replace)


def model_names() -> tuple[str, ...]:
    """Every registered `arch`: built-ins in registration order, then entry points."""
    return MODELS.names()


def model_spec(arch: str) -> ModelSpec:
    """The spec of `arch`; an unknown name is an error listing the known ones."""
    return MODELS.get(arch)
