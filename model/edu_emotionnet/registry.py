"""The one table of model architectures: `config.model.arch` -> its `ModelSpec`.

A spec is declared next to its class, as timm registers a model beside its definition: the class,
the modalities it reads (the others are never loaded or encoded), its own strict options model
(`model.options` in YAML; a key it does not declare is a config error) and where the report
shows it (`ReportPlace`). The report, its claims and its figures read models from here only: no
module names a model to decide a table, a claim or a figure.

Built-ins are one line each in `BUILTINS` below, naming where their spec lives ("module:SPEC",
imported on first use, so listing the names imports nothing). Another package adds a model with
`register_model(spec)` from code, or exposes its spec through the entry-point group
`edu_emotionnet.models` (`edu_affect_data.core.registry`), e.g. in its pyproject.toml:

    [project.entry-points."edu_emotionnet.models"]
    my_gru = "my_package.models:MY_GRU"   # MY_GRU = ModelSpec("my_gru", GRU, MODALITIES, ReportPlace("GRU"))

The class is called as `Class(config: ModelConfig, inputs: ModelInputs)` (the dataset's columns,
widths and frame periods, `edu_emotionnet.inputs`), must be an `AffectModel` and reads its options
as `config.options_as(ItsOptions)`; it streams step by step when it sets `streams = True`. Validating a config imports the module of
its arch (its options live there), so an arch is checked by exactly the code that will run it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic import BaseModel

from edu_affect_data.core.registry import Registry, RegistryError
from edu_affect_data.core.strict_config import NoOptions, parse_options
from edu_affect_data.core.vocabulary import MODALITIES

if TYPE_CHECKING:
    from edu_emotionnet.outputs import AffectModel

ENTRY_POINT_GROUP = "edu_emotionnet.models"
#: The architecture of a config that names none: the paper's model.
DEFAULT_ARCH = "edu_emotionnet"

#: Table II compares unimodal with fusion models (the paper's "Performance comparison").
TableIIGroup = Literal["unimodal", "fusion"]
#: Report roles that the paper gives one named model; a role is held by the registered models
#: whose `ReportPlace.roles` name it, never by a name written in the report's code.
ReportRole = Literal["claim_b", "claim_d", "figure_4"]
REPORT_ROLES: dict[ReportRole, str] = {
    "claim_b": "claim (b): a baseline the full model must beat significantly (the paper's Table II baselines)",
    "claim_d": "claim (d): the model whose accuracy drop under missing modalities the full model's is compared with",
    "figure_4": "Fig. 4: the full model's per-class comparison model unless `edu-data report --baseline` names another run",
}


class UnknownModelError(RegistryError):
    """An `arch` that no `register_model` call (or entry point) has named (a ValueError, so the
    config validation reports it under `model.arch`)."""


@dataclass(frozen=True)
class ReportPlace:
    """Where a model's runs appear in `edu-data report` (Tables I-III, the claims, Fig. 4).

    Every run is a row of Table I, named `display` (and by its run name in the next column). A run
    of the full model with some of its `ablations` switched off is instead a row of Table III named
    `display` plus the labels of the switches that are off, and is in no other table or role.
    """

    #: The model's name in the tables, e.g. "MulT".
    display: str
    #: Its group in Table II (unimodal against fusion models); None: not a row of Table II.
    table_ii: TableIIGroup | None = None
    #: The paper's model: first row, the reference of every paired test, claim and figure.
    full_model: bool = False
    #: Full model only: boolean option -> Table III label of the run that switches it off
    #: ({"tfl": "-TFL feedback"}); the ablations are the same arch with options changed.
    ablations: Mapping[str, str] = field(default_factory=dict, hash=False)
    #: The roles of `REPORT_ROLES` the paper gives this model.
    roles: frozenset[ReportRole] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "roles", frozenset(self.roles))
        if not self.display.strip():
            raise ValueError("a ReportPlace needs a display name")
        if self.table_ii is not None and self.table_ii not in get_args(TableIIGroup):
            raise ValueError(f"table_ii {self.table_ii!r} is not one of {get_args(TableIIGroup)}")
        if self.ablations and not self.full_model:
            raise ValueError(f"{self.display}: only the full model has ablations")
        unknown = sorted(set(self.roles) - set(REPORT_ROLES))
        if unknown:
            raise ValueError(f"{self.display}: unknown report roles {unknown}; known: {sorted(REPORT_ROLES)}")


@dataclass(frozen=True)
class ModelSpec:
    """One architecture: its `arch` name, class, the modalities it reads, its report place, its options."""

    name: str
    model: type[AffectModel]
    modalities: tuple[str, ...]
    table: ReportPlace
    #: The strict pydantic model of `model.options` for this arch (unknown keys are errors).
    options: type[BaseModel] = NoOptions

    def __post_init__(self) -> None:
        unknown = [m for m in self.modalities if m not in MODALITIES]
        if not self.modalities or unknown or len(set(self.modalities)) != len(self.modalities):
            raise ValueError(f"model {self.name!r}: modalities {self.modalities} must be distinct names from {MODALITIES}")
        if not isinstance(self.model, type):
            raise ValueError(f"model {self.name!r}: {self.model!r} is not a class")
        if not (isinstance(self.options, type) and issubclass(self.options, BaseModel)):
            raise ValueError(f"model {self.name!r}: options {self.options!r} is not a pydantic model")
        if self.options.model_config.get("extra") != "forbid":
            raise ValueError(f"model {self.name!r}: options {self.options.__name__} must forbid unknown keys (a StrictModel)")
        fields = self.options.model_fields
        for option in self.table.ablations:
            if option not in fields or fields[option].annotation is not bool or fields[option].default is not True:
                raise ValueError(f"model {self.name!r}: ablation {option!r} is not a boolean option of "
                                 f"{self.options.__name__} that defaults to true")

    def parse_options(self, raw: Mapping[str, Any] | None, where: str = "model.options") -> BaseModel:
        """`raw` validated by this arch's options model (None: its defaults); errors name `where.KEY`."""
        return parse_options(self.options, raw, where, f"model arch {self.name!r}")


def _check(name: str, spec: Any) -> ModelSpec:
    if not isinstance(spec, ModelSpec) or spec.name != name:
        raise UnknownModelError(f"a {type(spec).__name__} is not a ModelSpec named {name!r}")
    return spec


#: The paper's model (its ablations are options of the same arch) and the baselines of Tables I-II,
#: each declared beside its class.
BUILTINS: dict[str, str] = {
    "edu_emotionnet": "edu_emotionnet.model:EDU_EMOTIONNET",
    "audio_only": "edu_emotionnet.baselines:AUDIO_ONLY",
    "visual_only": "edu_emotionnet.baselines:VISUAL_ONLY",
    "text_only": "edu_emotionnet.baselines:TEXT_ONLY",
    "early_fusion": "edu_emotionnet.baselines:EARLY_FUSION",
    "late_fusion": "edu_emotionnet.baselines:LATE_FUSION",
    "mult": "edu_emotionnet.baselines:MULT",
    "mult_size_matched": "edu_emotionnet.baselines:MULT_SIZE_MATCHED",
    "self_mm": "edu_emotionnet.self_mm:SELF_MM",
    "cfn_esa": "edu_emotionnet.cfn_esa:CFN_ESA",
    "hybrid_fusion": "edu_emotionnet.hybrid_fusion:HYBRID_FUSION",
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


def models_with_role(role: ReportRole) -> tuple[str, ...]:
    """The registered archs that hold `role` in the report (loads every spec)."""
    return tuple(name for name in model_names() if role in model_spec(name).table.roles)
