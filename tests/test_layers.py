"""The package's rooms stand in layers: no import circle, and no import that runs back up.

Every `import` and `from … import` of a module counts, those inside functions too (relative ones
resolved): an import a function defers to dodge a circle is still a circle.  Importing a module
implicitly imports its parent packages; that is not counted.
"""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "pipeline" / "kexue_anthology"

# The rooms from low to high: a module imports only from its own room or a lower one.  "" is the
# package itself (its paths), "__main__" the `python -m` entry.  `read` stands above `check`
# because reading finds the formulas (check.extract); `engine` is the MathJax worker's client,
# below the stages that ask it (check.validate, formulas.render).
LAYERS = ("", "core", "config", "engine", "check", "read", "documents", "formulas", "images", "collection", "formats",
          "stages", "cli", "__main__")


def modules() -> dict[str, Path]:
    """Every module of the package by its dotted name (a package by its own name)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if "node_modules" in path.parts:
            continue
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> list[tuple[str, int]]:
    """The package's modules `name` imports, each with the line of the import."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import mod` imports the module mod; `from mod import name` the module mod
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:      # `import a.b.c` of a name below a module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.append((target, node.lineno))
    return found


def graph() -> dict[str, dict[str, int]]:
    """Each module → the modules it imports → the first line importing it."""
    known = modules()
    edges: dict[str, dict[str, int]] = {}
    for name, path in sorted(known.items()):
        edges[name] = {}
        for target, line in sorted(imports(name, path, known), key=lambda t: t[1]):
            edges[name].setdefault(target, line)
    return edges


def room(module: str) -> str:
    """The room a module stands in: the package's first level below kexue_anthology."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def where(module: str, target: str, line: int) -> str:
    path = modules()[module].relative_to(ROOT)
    return f"{path}:{line}: {module} imports {target}"


def cycle(edges: dict[str, dict[str, int]]) -> list[str] | None:
    """One import circle, as its modules in order (the first again at the end), or None."""
    state: dict[str, int] = {}       # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in edges.get(module, {}):
            if state.get(target) == 1:
                return [*path[path.index(target):], target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[module] = 2
        return None

    for module in edges:
        if module not in state and (found := visit(module)):
            return found
    return None


def test_every_room_has_its_layer():
    unplaced = sorted({room(m) for m in modules()} - set(LAYERS))
    assert not unplaced, f"rooms of the package not in LAYERS (tests/test_layers.py): {unplaced}; place them"


@pytest.fixture(scope="module")
def edges() -> dict[str, dict[str, int]]:
    """The package's graph, read once for the tests of this file."""
    return graph()


def test_no_import_circle(edges):
    found = cycle(edges)
    assert found is None, "an import circle:\n  " + "\n  ".join(
        where(a, b, edges[a][b]) for a, b in itertools.pairwise(found))


def test_no_import_runs_back_up(edges):
    upward = [where(module, target, line) + f" ({room(module) or 'the package'} below {room(target)})"
              for module, targets in edges.items() for target, line in targets.items()
              if room(module) in LAYERS and room(target) in LAYERS
              and LAYERS.index(room(target)) > LAYERS.index(room(module))]
    assert not upward, "imports that run back up the layers (" + " < ".join(LAYERS[1:]) + "):\n  " + "\n  ".join(upward)


def test_the_check_sees_an_import_inside_a_function_and_a_relative_one(tmp_path):
    known = {"kexue_anthology.core.a": tmp_path / "a.py", "kexue_anthology.formats": tmp_path / "__init__.py",
             "kexue_anthology.core.b": tmp_path / "b.py"}
    known["kexue_anthology.core.a"].write_text(
        "from . import b\n\ndef f():\n    from kexue_anthology.formats import x\n", encoding="utf-8")
    assert imports("kexue_anthology.core.a", known["kexue_anthology.core.a"], known) == \
        [("kexue_anthology.core.b", 1), ("kexue_anthology.formats", 4)]
    assert cycle({"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b": 1}, "b": {}}) is None
