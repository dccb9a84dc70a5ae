"""One registry mechanism for every extension point: corpora, feature extractors, aggregation
methods and model architectures.

A registry maps names to objects from three sources, in this order of precedence:

1. programmatic registrations (`register`: tests, notebooks, a plugin that registers on import);
2. built-ins declared by the owning module as `"module:attribute"` strings or objects;
3. the Python entry-point group of the registry (an installed package's `pyproject.toml`), e.g.
   `[project.entry-points."edu_affect_data.corpora"] meld = "my_package.meld:CORPUS"`.

Targets are imported lazily, by name, the first time they are asked for, so validating a config that
names `mosei` never imports another corpus's reader, and listing names imports nothing. What a
registry holds is checked by its owner's `check` function (right type, name matching the key), so a
broken plugin fails naming itself instead of somewhere deep in a stage.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from importlib import metadata
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class RegistryError(ValueError):
    """A broken registration: an entry point that does not import, a wrong object, a taken name."""


class UnknownName(RegistryError):
    """No registration, built-in or entry point has this name."""


def import_target(target: str) -> Any:
    """The object named by `"package.module:attribute"`."""
    module_name, sep, attribute = target.partition(":")
    if not sep or not attribute:
        raise RegistryError(f"{target!r} is not 'module:attribute'")
    return getattr(importlib.import_module(module_name), attribute)


class Registry(Generic[T]):
    """Names -> objects of one kind (`kind` names it in errors), with lazy loading.

    `check(name, loaded)` turns what a built-in or entry point points at into a `T` (instantiating
    a class, for example) or raises `RegistryError`; it also vets programmatic registrations.
    `error` and `unknown` let an owner keep its own exception types (subclasses of the two above).
    """

    def __init__(
        self,
        kind: str,
        group: str,
        check: Callable[[str, Any], T],
        *,
        builtins: Mapping[str, str | T] | None = None,
        error: type[RegistryError] = RegistryError,
        unknown: type[RegistryError] = UnknownName,
    ) -> None:
        self.kind = kind
        self.group = group
        self._check = check
        self._builtins: dict[str, str | T] = dict(builtins or {})
        self._error = error
        self._unknown = unknown
        self._registered: dict[str, T] = {}
        self._loaded: dict[str, T] = {}

    # ------------------------------------------------------------------------------ reading
    def entry_points(self) -> dict[str, metadata.EntryPoint]:
        """The group's entry points by name; one name declared for two objects is an error."""
        found: dict[str, metadata.EntryPoint] = {}
        for point in metadata.entry_points(group=self.group):
            other = found.get(point.name)
            if other is not None and other.value != point.value:
                raise self._error(
                    f"{self.kind} {point.name!r} is declared twice in entry points ({other.value}, {point.value})"
                )
            found[point.name] = point
        return found

    def names(self) -> tuple[str, ...]:
        """Every known name, built-ins first, then entry points, then registrations (nothing imported)."""
        return tuple(dict.fromkeys([*self._builtins, *self.entry_points(), *self._registered]))

    def builtin_names(self) -> tuple[str, ...]:
        """The names the owning module declares in code (what every installation has)."""
        return tuple(self._builtins)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.names()

    def get(self, name: str) -> T:
        """The object registered as `name`, imported and checked on first use."""
        if name in self._registered:
            return self._registered[name]
        if name in self._loaded:
            return self._loaded[name]
        if name in self._builtins:
            target = self._builtins[name]
            source = target if isinstance(target, str) else f"built-in {self.kind}"
            loaded = self._load(name, source, lambda: import_target(target) if isinstance(target, str) else target)
        else:
            point = self.entry_points().get(name)
            if point is None:
                known = ", ".join(self.names()) or "none"
                raise self._unknown(f"unknown {self.kind} {name!r}; known: {known}")
            loaded = self._load(name, f"entry point {point.value}", point.load)
        self._loaded[name] = loaded
        return loaded

    def _load(self, name: str, source: str, load: Callable[[], Any]) -> T:
        try:
            target = load()
        except Exception as exc:  # any import-time failure of a plugin must name the plugin
            raise self._error(f"{self.kind} {name!r}: cannot load {source}: {exc}") from exc
        try:
            return self._check(name, target)
        except RegistryError as exc:
            raise self._error(f"{self.kind} {name!r} ({source}): {exc}") from exc

    # ------------------------------------------------------------------------------ writing
    def register(self, name: str, value: T, *, replace: bool = False) -> T:
        """Make `value` available as `name`; taking a name already in use needs `replace=True`.

        Registering the same (or an equal) object under the same name again is a no-op.
        """
        try:
            checked = self._check(name, value)
        except RegistryError as exc:
            raise self._error(f"{self.kind} {name!r}: {exc}") from exc
        if not replace and name in self.names() and self._current(name) != value:
            raise self._error(f"{self.kind} {name!r} is already registered")
        self._registered[name] = checked
        self._loaded.pop(name, None)
        return checked

    def is_registered(self, name: str) -> bool:
        """Whether `name` comes from a programmatic registration (which overrides the others)."""
        return name in self._registered

    def unregister(self, name: str) -> None:
        """Forget a programmatic registration (built-ins and entry points stay)."""
        self._registered.pop(name, None)
        self._loaded.pop(name, None)

    def _current(self, name: str) -> T | None:
        try:
            return self.get(name)
        except RegistryError:
            return None
