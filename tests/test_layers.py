"""The package's layers, read from the source: imports only point down, and no module imports itself back.

Every `import` and `from ... import` counts, wherever it stands: at the top, inside a function (a
lazy import is still a dependency) or under `if TYPE_CHECKING:` (a type-only circle still means
two modules that cannot be understood apart), and so does a literal `importlib.import_module` /
`import_target("module:attr")` target. An import of a module's own parent package is implied by
Python and ignored. (A registry's built-ins named as strings in a table are declarations, not
imports: `Registry` loads them by name.)
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = {"edu_affect_data": REPO / "edu_affect_data", "edu_emotionnet": REPO / "model" / "edu_emotionnet"}
#: Functions whose first (literal) argument names a module they import.
DYNAMIC_IMPORTS = {"import_module", "__import__", "import_target"}

#: Layer of each part of `edu_affect_data`, lowest first: a module may import its own layer and below.
LAYERS: dict[str, int] = {
    "": 0,  # the package's __init__: its version and nothing else
    "core": 0,
    "corpora": 1,
    "media": 1,
    "synth": 1,
    "annotation": 2,
    "stages": 3,
    "config": 4,
    "config_doc": 5,
    "build": 5,
    "build_inputs": 5,
    "build_check": 5,
    "build_errors": 5,
    "build_state": 5,
    "dry_run": 5,
    "audit": 5,
    "cli": 6,
}


def modules() -> dict[str, Path]:
    """Dotted module name -> file, for both packages."""
    found: dict[str, Path] = {}
    for package, root in PACKAGES.items():
        for path in sorted(root.rglob("*.py")):
            parts = [package, *path.relative_to(root).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imported(path: Path, name: str, known: dict[str, Path]) -> Iterator[str]:
    """The project modules `path` imports (the deepest known module each import statement names)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            function = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if function not in DYNAMIC_IMPORTS:
                continue
            targets = [node.args[0].value.partition(":")[0]]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(target + "."):
                yield target


@functools.cache
def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: set(imported(path, name, known)) for name, path in known.items()}


def layer(module: str) -> tuple[str, int]:
    part = module.split(".")[1] if module.count(".") else ""
    return part, LAYERS[part]


def test_every_part_of_the_data_package_has_a_layer() -> None:
    parts = {layer_name for name in modules() if name.startswith("edu_affect_data") for layer_name in [name.split(".")[1] if "." in name else ""]}
    assert parts <= set(LAYERS), f"parts without a layer in LAYERS: {sorted(parts - set(LAYERS))}"


def test_the_data_package_never_imports_the_model_package() -> None:
    upward = sorted(
        f"{a} -> {b}" for a, targets in graph().items() if a.startswith("edu_affect_data") for b in targets
        if b.startswith("edu_emotionnet")
    )
    assert not upward, "edu_affect_data imports edu_emotionnet:\n" + "\n".join(upward)


def test_imports_point_down_the_layers() -> None:
    upward = []
    for a, targets in graph().items():
        if not a.startswith("edu_affect_data"):
            continue
        for b in targets:
            if b.startswith("edu_affect_data") and layer(b)[1] > layer(a)[1]:
                upward.append(f"{a} ({layer(a)[0] or 'package'}) -> {b} ({layer(b)[0]})")
    assert not upward, "imports pointing up a layer:\n" + "\n".join(sorted(upward))


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_import_circles(package: str) -> None:
    edges = {a: {b for b in targets if b.startswith(package)} for a, targets in graph().items() if a.startswith(package)}
    circles = cycles(edges)
    assert not circles, "import circles:\n" + "\n".join(" <-> ".join(c) for c in circles)


def test_the_cycle_finder_finds_a_planted_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
