"""Import direction, read from the source (an AST scan, so an import inside a function or under
`if TYPE_CHECKING:` counts like any other):

- the data package never imports the model package (`edu_emotionnet` joins `edu-data` through
  the `edu_affect_data.commands` entry point, and reads the data package, never the reverse);
- no module of `edu_emotionnet` is in an import cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = {"edu_affect_data": REPO / "edu_affect_data", "edu_emotionnet": REPO / "model" / "edu_emotionnet"}
DYNAMIC_IMPORTS = {"import_module", "__import__", "import_target"}


def modules(package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every module of `package` (a package is its `__init__`)."""
    root = PACKAGES[package]
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        found[".".join((package, *parts[:-1]) if parts[-1] == "__init__" else (package, *parts))] = path
    return found


def imported_names(module: str, path: Path) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of every import in the file: statements anywhere, relative ones resolved,
    `from package import submodule` as the submodule, and string targets of `importlib.import_module`."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            function = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if function in DYNAMIC_IMPORTS:
                yield node.lineno, node.args[0].value.partition(":")[0]


def import_graph(package: str) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports."""
    known = modules(package)
    return {name: {m for _, m in imported_names(name, path) if m in known and m != name} for name, path in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_data_package_never_imports_the_model_package() -> None:
    offending = [
        f"{path.relative_to(REPO)}:{line}: {name}"
        for module, path in modules("edu_affect_data").items()
        for line, name in imported_names(module, path)
        if name.split(".")[0] == "edu_emotionnet"
    ]
    assert not offending, "edu_affect_data must not import edu_emotionnet:\n" + "\n".join(offending)


def test_no_module_of_the_model_package_is_in_an_import_cycle() -> None:
    assert cycles(import_graph("edu_emotionnet")) == []


SAMPLE = """
from __future__ import annotations
import importlib
from typing import TYPE_CHECKING
from . import sibling
from ..core import registry

if TYPE_CHECKING:
    from edu_emotionnet.runs import ModelRuns


def later():
    import edu_emotionnet.train
    return importlib.import_module("edu_emotionnet.cli"), import_target("edu_emotionnet.model:EDU_EMOTIONNET")
"""


def test_the_scan_sees_what_it_must(tmp_path: Path) -> None:
    """The checks above can fail: the scan finds type-only, function-level, relative and dynamic
    imports, and the cycle finder finds a cycle."""
    path = tmp_path / "sample.py"
    path.write_text(SAMPLE)
    names = {name for _, name in imported_names("edu_affect_data.cli.sample", path)}
    assert {"edu_affect_data.cli.sibling", "edu_affect_data.core.registry", "edu_emotionnet.runs", "edu_emotionnet.train",
            "edu_emotionnet.cli", "edu_emotionnet.model"} <= names
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
