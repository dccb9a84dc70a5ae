"""The one registry mechanism behind corpora, feature extractors, aggregation methods and models."""

from __future__ import annotations

from importlib import metadata
from importlib.metadata import EntryPoint
from typing import Any

import pytest

from edu_affect_data.core.registry import Registry, RegistryError, UnknownName, import_target

GROUP = "edu_affect_data.tests"


def check_text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise RegistryError(f"{value!r} is not text")
    return f"{name}={value}"


def test_builtins_entry_points_and_registrations(monkeypatch: pytest.MonkeyPatch) -> None:
    points = [EntryPoint("plugged", "edu_affect_data.core.vocabulary:ABSTAIN", GROUP)]
    monkeypatch.setattr(metadata, "entry_points", lambda group: [p for p in points if p.group == group])
    registry: Registry[str] = Registry("thing", GROUP, check_text, builtins={"first": "edu_affect_data.core.vocabulary:EXCLUDED"})
    assert registry.names() == ("first", "plugged")
    assert registry.get("first") == "first=excluded" and registry.get("plugged") == "plugged=Cannot tell"
    assert registry.register("mine", "x") == "mine=x" and registry.names() == ("first", "plugged", "mine")
    with pytest.raises(RegistryError, match="thing 'first' is already registered"):
        registry.register("first", "y")
    assert registry.register("first", "y", replace=True) == "first=y" and registry.get("first") == "first=y"
    registry.unregister("first")
    assert registry.get("first") == "first=excluded"
    with pytest.raises(UnknownName, match="unknown thing 'nope'; known: first, plugged, mine"):
        registry.get("nope")


def test_broken_plugins_name_themselves(monkeypatch: pytest.MonkeyPatch) -> None:
    points = [
        EntryPoint("missing", "edu_affect_data.no_such_module:X", GROUP),
        EntryPoint("wrong", "edu_affect_data.core.vocabulary:CLASSES", GROUP),
    ]
    monkeypatch.setattr(metadata, "entry_points", lambda group: points)
    registry: Registry[str] = Registry("thing", GROUP, check_text)
    with pytest.raises(RegistryError, match=r"thing 'missing': cannot load entry point edu_affect_data\.no_such_module:X"):
        registry.get("missing")
    with pytest.raises(RegistryError, match=r"thing 'wrong' \(entry point edu_affect_data.core.vocabulary:CLASSES\): .* is not text"):
        registry.get("wrong")
    with pytest.raises(RegistryError, match="thing 'mine': 3 is not text"):
        registry.register("mine", 3)  # type: ignore[arg-type]


def test_two_packages_declaring_one_name_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    points = [EntryPoint("twice", "a:X", GROUP), EntryPoint("twice", "b:X", GROUP)]
    monkeypatch.setattr(metadata, "entry_points", lambda group: points)
    with pytest.raises(RegistryError, match=r"thing 'twice' is declared twice in entry points \(a:X, b:X\)"):
        Registry("thing", GROUP, check_text).names()


def test_import_target() -> None:
    assert import_target("edu_affect_data.core.vocabulary:SPLITS") == ("train", "validation", "test")
    with pytest.raises(RegistryError, match="is not 'module:attribute'"):
        import_target("edu_affect_data.core.vocabulary")
