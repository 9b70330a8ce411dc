"""The package's rooms keep their names apart: every class and public function is defined once,
so that a name says which one is meant wherever it is imported."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import kexue_anthology

PACKAGE = Path(kexue_anthology.__file__).parent

# Each input form's module is one reader: `detect` and `read` are the form's interface, named in
# kexue_anthology.read.READERS as a plugin's would be.
PROTOCOL = {("read", "detect"), ("read", "read")}


def _definitions() -> dict[str, list[str]]:
    """Each module-level class and public function name → the modules defining it."""
    found: dict[str, list[str]] = defaultdict(list)
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(PACKAGE).with_suffix("").as_posix()
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef) or (
                    isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.name.startswith("_")):
                if (module.split("/")[0], node.name) not in PROTOCOL:
                    found[node.name].append(module)
    return found


def test_every_class_and_public_function_name_is_defined_once():
    found = _definitions()
    assert len(found) > 100                     # the scan saw the package
    twice = {name: modules for name, modules in found.items() if len(modules) > 1}
    assert not twice, f"defined more than once: {twice}"


def test_the_readers_interface_is_the_only_exception():
    """The exemption covers the input forms' modules and nothing else."""
    readers = [path for path in (PACKAGE / "read").glob("*.py")
               if any(isinstance(node, ast.FunctionDef) and node.name == "detect"
                      for node in ast.parse(path.read_text(encoding="utf-8")).body)]
    assert len(readers) == 4
