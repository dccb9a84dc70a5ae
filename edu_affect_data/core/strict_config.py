"""One strict YAML loader for every configuration the project reads (pipelines, training, suites).

Strict on purpose: a misspelled key (`hop_lenth`) is an error naming its dotted path, never a
silent default; an empty or non-mapping file is an error, not "all defaults"; a key written twice
in one mapping is an error naming both lines (plain YAML keeps the last one silently); booleans
are not numbers and numbers are not booleans (`threshold_s: true` and `face_check: 1` are errors,
where pydantic alone would read 1.0 and True; an integer for a float stays fine); `--set
key=value` values are parsed as YAML and checked exactly like the same text in a file. A file may
name a `base:` file (relative to itself) and state only what it changes: mappings merge
recursively, anything else replaces.
"""

from __future__ import annotations

import collections.abc
import math
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

M = TypeVar("M", bound=BaseModel)

_UNIONS = (Union, types.UnionType)
_SEQUENCES = (list, tuple, set, frozenset, collections.abc.Sequence, collections.abc.Set)
_MAPPINGS = (dict, collections.abc.Mapping)


def _members(annotation: Any) -> tuple[Any, ...]:
    """The alternatives of a (possibly `Annotated`, possibly union) annotation."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in _UNIONS:
        return tuple(m for arg in get_args(annotation) for m in _members(arg))
    return (annotation,)


def wrong_kind(annotation: Any, value: Any) -> str | None:
    """Why `value` mixes up booleans and numbers for a field typed `annotation`, else None.

    pydantic's lax mode turns `true` into 1.0 for a float and `1` into True for a bool, so a
    `--set gaps.threshold_s=true` would run with 1 s. Only that mix-up is judged here (inside
    lists, tuples and mappings too); every other check is pydantic's.
    """
    members = _members(annotation)
    if Any in members:
        return None
    scalars = {m for m in members if isinstance(m, type)}
    if isinstance(value, bool):
        if bool not in scalars and scalars & {int, float}:
            return f"{value!r} is a boolean, not a number"
        return None
    if isinstance(value, (int, float)):
        if bool in scalars and not scalars & {int, float}:
            return f"{value!r} is a number, not a boolean (write true or false)"
        return None
    inner = [m for m in members if get_origin(m) in (_SEQUENCES if isinstance(value, (list, tuple)) else _MAPPINGS)]
    if not inner or not isinstance(value, (list, tuple, Mapping)):
        return None
    reasons = [_wrong_inside(m, value) for m in inner]
    return None if any(r is None for r in reasons) else reasons[0]


def _wrong_inside(container: Any, value: Any) -> str | None:
    args = get_args(container)
    if isinstance(value, Mapping):
        pairs = [(args[1] if len(args) == 2 else Any, v, f"[{k!r}]") for k, v in value.items()]
    elif get_origin(container) is tuple and args and args[-1] is not Ellipsis:
        pairs = [(a, v, f"[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=False))]
    else:
        pairs = [(args[0] if args else Any, v, f"[{i}]") for i, v in enumerate(value)]
    for annotation, item, where in pairs:
        reason = wrong_kind(annotation, item)
        if reason is not None:
            return f"{where}: {reason}"
    return None


class StrictModel(BaseModel):
    """Base of every config section: unknown keys are errors, values are frozen, and a boolean is
    never read as a number nor a number as a boolean (`wrong_kind`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_number_mixup(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        reason = wrong_kind(field.annotation, value) if field is not None else None
        if reason is not None:
            raise ValueError(reason)
        return value


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


class DuplicateKeyError(yaml.YAMLError):
    """A mapping that names one key twice (PyYAML's own loaders keep the last value silently)."""

    def __init__(self, key: Any, first_line: int, line: int) -> None:
        super().__init__(f"key {key!r} is written twice in one mapping (lines {first_line} and {line}); keep one")


class UniqueKeyLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses a key written twice in one mapping, naming both lines.

    Keys brought in by a merge (`<<: *defaults`) may be overridden, as YAML intends.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            try:
                seen = first_line.get(key)
            except TypeError:  # an unhashable key: SafeLoader reports it below
                continue
            line = key_node.start_mark.line + 1
            if seen is not None:
                raise DuplicateKeyError(key, seen, line)
            first_line[key] = line
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str) -> Any:
    """YAML text as Python values, by `UniqueKeyLoader` (the one YAML parser of configurations)."""
    return yaml.load(text, Loader=UniqueKeyLoader)  # a SafeLoader: no arbitrary objects


def read_mapping(path: Path, error: type[ConfigError] = ConfigError) -> dict[str, Any]:
    """The top-level mapping of a YAML file; unreadable, empty or non-mapping files and repeated keys are errors."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read: {exc}") from exc
    try:
        raw = load_yaml(text)
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
            value = load_yaml(text) if text.strip() else None
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
