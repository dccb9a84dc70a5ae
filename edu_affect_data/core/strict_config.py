"""One strict YAML loader for every configuration the project reads (pipelines, training, suites).

Strict on purpose: a misspelled key (`hop_lenth`) is an error naming its dotted path, never a
silent default; an empty or non-mapping file is an error, not "all defaults"; `--set key=value`
values are parsed as YAML scalars and checked exactly like the same text in a file. A file may
name a `base:` file (relative to itself) and state only what it changes: mappings merge
recursively, anything else replaces.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base of every config section: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ConfigError(ValueError):
    """A configuration that does not load or validate; the message names the file and key paths."""


class NoOptions(StrictModel):
    """The options of a registered object that takes none: any key given for it is a config error."""


def parse_options(model: type[M], raw: Mapping[str, Any] | None, where: str, owner: str) -> M:
    """`raw` validated by a registered object's own options `model` (None: all defaults).

    The one way every extension point (corpus, feature extractor, aggregation method, model)
    checks its options: an unknown or invalid key raises a `ValueError` naming `where.KEY` and
    listing the options `owner` has, so a misspelled option never falls back to a default.
    """
    try:
        return model.model_validate(dict(raw or {}))
    except ValidationError as exc:
        known = ", ".join(model.model_fields) or "none"
        problems = "; ".join(f"{where}.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ValueError(f"{problems} (options of {owner}: {known})") from None


def describe_validation_error(exc: ValidationError, header: str) -> str:
    """One line per problem, each naming the dotted key path."""
    lines = [header]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        lines.append(f"  {loc}: {err['msg']}")
    return "\n".join(lines)


def read_mapping(path: Path, error: type[ConfigError] = ConfigError) -> dict[str, Any]:
    """The top-level mapping of a YAML file; unreadable, empty or non-mapping files are errors."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read: {exc}") from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from exc
    if raw is None:
        raise error(f"{path}: the file is empty (write at least one key, or pass no file for defaults)")
    if not isinstance(raw, dict):
        raise error(f"{path}: top level must be a mapping, got {type(raw).__name__}")
    return raw


def merge_trees(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` on top of `base`: mappings merge recursively, anything else replaces."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_trees(merged[key], value)
        else:
            merged[key] = value
    return merged


def resolve_bases(
    path: Path, *, rebase: Path | None = None, error: type[ConfigError] = ConfigError, _seen: tuple[Path, ...] = ()
) -> dict[str, Any]:
    """The merged raw tree of `path` and its `base:` chain (not validated yet).

    `rebase` replaces the file's own `base:` (a suite runs each variant's delta on top of a small
    CPU config); a root file (no `base:`) rebased is the rebase target under its own `name`.
    """
    path = Path(path).resolve()
    if path in _seen:
        raise error(f"{path}: `base:` cycle through {[str(p) for p in _seen]}")
    raw = read_mapping(path, error)
    base = raw.pop("base", None)
    if rebase is not None:
        if base is None:
            return merge_trees(resolve_bases(Path(rebase), error=error), {k: raw[k] for k in ("name",) if k in raw})
        base = str(Path(rebase).resolve())
    if base is None:
        return raw
    base_path = (path.parent / str(base)).resolve()
    if base_path == path:
        return raw
    return merge_trees(resolve_bases(base_path, error=error, _seen=(*_seen, path)), raw)


def parse_overrides(items: list[str], error: type[ConfigError] = ConfigError) -> dict[str, Any]:
    """`["sessions.min_s=8", "corpora.mosei=null"]` -> dotted overrides with YAML-parsed values.

    A value that is not a finite number where it looks like one (`.nan`, `.inf`) is refused here:
    no configuration key of this project accepts it, and pydantic would report a misleading bound.
    """
    overrides: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise error(f"--set {item!r}: expected key=value, e.g. sessions.min_s=8")
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError as exc:
            raise error(f"--set {item!r}: the value is not valid YAML: {' '.join(str(exc).split())}") from exc
        if isinstance(value, float) and not math.isfinite(value):
            raise error(f"--set {item!r}: {text.strip()} is not a finite number")
        overrides[key.strip()] = value
    return overrides


def set_dotted(tree: dict[str, Any], dotted: str, value: Any, error: type[ConfigError] = ConfigError) -> None:
    """Set `a.b.c` in a raw tree, opening absent or `null` sections on the way."""
    node = tree
    *parents, leaf = dotted.split(".")
    for key in parents:
        if node.get(key) is None:  # absent, or `simulate: null` in the YAML: open the section
            node[key] = {}
        node = node[key]
        if not isinstance(node, dict):
            raise error(f"--set {dotted}: {key} is not a section")
    node[leaf] = value


def validate_tree(model: type[M], tree: dict[str, Any], source: str, error: type[ConfigError] = ConfigError) -> M:
    """Validate a raw tree strictly; the error lists every bad key path under `source`."""
    try:
        return model.model_validate(tree)
    except ValidationError as exc:
        raise error(describe_validation_error(exc, f"{source}: invalid configuration")) from exc


def load_strict(
    model: type[M],
    path: Path | None,
    overrides: dict[str, Any] | None = None,
    *,
    rebase: Path | None = None,
    error: type[ConfigError] = ConfigError,
    complete: Callable[[dict[str, Any]], None] | None = None,
) -> M:
    """Read `path` (with its `base:` chain; defaults when None), apply overrides, validate.

    `complete(tree)` spells out, before the overrides, a default that an override would otherwise
    replace instead of amend (a mapping whose keys are themselves a choice, such as which feature
    extractors run: `--set features.extractors.frames.fps=5` must keep the other extractors).
    """
    tree = resolve_bases(Path(path), rebase=rebase, error=error) if path is not None else {}
    if complete is not None:
        complete(tree)
    for dotted, value in (overrides or {}).items():
        set_dotted(tree, dotted, value, error)
    return validate_tree(model, tree, str(path) if path is not None else "<defaults>", error)
