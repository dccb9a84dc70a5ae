"""What a pipeline stage receives and returns, so `edu-data build` can drive stages uniformly.

A stage is a plain function `run(config: PipelineConfig, paths: BuildPaths, *, executor=None)
-> StageOutcome`. It reads the previous artifact, writes its own (validated first), and says
whether the pipeline may go on: annotation by real people returns `complete=False` until every
session has its votes, and the build stops there with a documented exit status.

The `config` a stage receives under the build is a `ConfigSlice`: the configuration restricted to
the dotted keys its `StageSpec.config_keys` declares. Those keys are exactly what the stage's input
hash covers, so a read outside them would let a config change go unnoticed (the stage skipped on
stale inputs); the slice turns such a read into an `UndeclaredConfigKey` naming the stage and key.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True)
class StageOutcome:
    complete: bool
    message: str
    outputs: tuple[Path, ...] = ()
    #: Figures for the build log (counts, seconds, ...).
    stats: dict[str, float | int | str] = field(default_factory=dict)


@dataclass(frozen=True)
class StageSpec:
    """One stage of the build, as data: `edu_affect_data.build.STAGES` lists them in order."""

    name: str
    #: "package.module:function" with the signature `(config, paths, *, executor=None) -> StageOutcome`.
    target: str
    #: Dotted config keys whose values are inputs of the stage: hashed, and all the stage may read.
    config_keys: tuple[str, ...]
    #: Stages whose outputs this stage reads.
    upstream: tuple[str, ...] = ()
    #: Whether the source corpora themselves are inputs.
    reads_corpora: bool = False
    #: What the stage does, in words, for the build log and `--dry-run`.
    title: str = ""


class UndeclaredConfigKey(RuntimeError):
    """A stage read a config key its `StageSpec.config_keys` does not declare (a bug in the spec or the stage)."""


class UnknownConfigKey(ValueError):
    """A `StageSpec` declares a config key the configuration schema does not have."""


class ConfigSlice:
    """Read-only view of a pydantic config exposing only some dotted keys, with attribute access.

    For declared keys `("seed", "aggregation.min_votes")`: `slice.seed` returns the real value (a
    declared key gives its whole subtree, as the real pydantic model); `slice.aggregation` is itself
    a slice (only part of it is declared) whose `min_votes` is the real value; `slice.aggregation.method`
    or `slice.annotation` raise `UndeclaredConfigKey`. `model_dump(**kwargs)` dumps the declared keys
    only: what the stage sees is what its input hash covers. A slice pickles (stages send parts of
    their config to worker processes).
    """

    __slots__ = ("_keys", "_model", "_prefix", "_stage")

    def __init__(self, model: BaseModel, stage: str, keys: Iterable[str], prefix: str = "") -> None:
        self._model = model
        self._stage = stage
        self._keys = tuple(keys)
        self._prefix = prefix
        if not prefix:
            for key in self._keys:
                _resolve(model, key)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # dunders and private names (pickle, copy) are never config keys
            raise AttributeError(name)
        if name not in type(self._model).model_fields:
            raise AttributeError(f"{type(self._model).__name__} has no config key {self._dotted(name)!r}")
        dotted = self._dotted(name)
        if any(dotted == key or dotted.startswith(key + ".") for key in self._keys):
            return getattr(self._model, name)
        if any(key.startswith(dotted + ".") for key in self._keys):
            return ConfigSlice(getattr(self._model, name), self._stage, self._keys, dotted)
        raise UndeclaredConfigKey(
            f"stage {self._stage!r} read config key {dotted!r}, which its StageSpec does not declare "
            f"(config_keys: {', '.join(self._keys) or 'none'}); declare it so the input hash covers it"
        )

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ConfigSlice.__slots__:
            object.__setattr__(self, name, value)
            return
        raise AttributeError(f"the config of stage {self._stage!r} is read-only")

    def __getstate__(self) -> tuple[BaseModel, str, tuple[str, ...], str]:
        return self._model, self._stage, self._keys, self._prefix

    def __setstate__(self, state: tuple[BaseModel, str, tuple[str, ...], str]) -> None:
        for name, value in zip(("_model", "_stage", "_keys", "_prefix"), state, strict=True):
            object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        where = f" at {self._prefix!r}" if self._prefix else ""
        return f"ConfigSlice(stage={self._stage!r}{where}, keys={self._keys!r})"

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        """`BaseModel.model_dump` restricted to the declared keys (pydantic's nested `include`)."""
        return self._model.model_dump(include=self._include(), **kwargs)

    def _dotted(self, name: str) -> str:
        return f"{self._prefix}.{name}" if self._prefix else name

    def _include(self) -> dict[str, Any]:
        """The declared keys below this slice's prefix as pydantic's nested include mapping."""
        tree: dict[str, Any] = {}
        start = f"{self._prefix}." if self._prefix else ""
        for key in self._keys:
            if not key.startswith(start):
                continue
            node = tree
            *parents, leaf = key[len(start) :].split(".")
            for part in parents:
                child = node.setdefault(part, {})
                if child is True:  # an ancestor is declared whole
                    break
                node = child
            else:
                node[leaf] = True
        return tree


def _resolve(model: BaseModel, dotted: str) -> None:
    """Check that `dotted` names a field path of `model` (a declared key must exist)."""
    node: Any = model
    for part in dotted.split("."):
        if not isinstance(node, BaseModel) or part not in type(node).model_fields:
            raise UnknownConfigKey(f"config key {dotted!r} does not exist in {type(model).__name__}")
        node = getattr(node, part)
