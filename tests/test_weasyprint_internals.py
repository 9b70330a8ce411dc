"""The parts of WeasyPrint's inside the PDF relies on, each a test by its name.

formats/pdf/cjk_justify.py replaces WeasyPrint's line justification and a text layout's
`set_text`, and calls its layout and Pango functions; formats/pdf/emitter.py subclasses its URL
fetcher.  None of this is WeasyPrint's public interface: pyproject.toml pins the range it was
written against, and when a WeasyPrint moves or reshapes one of these pieces, the test named
after it fails, saying which and the pinned range.
"""

from __future__ import annotations

import importlib
import inspect
import re
import tomllib
from pathlib import Path
from typing import Any, NoReturn

import pytest

pytestmark = pytest.mark.weasyprint

ROOT = Path(__file__).resolve().parent.parent

# Function → its parameters, as called or replaced.
FUNCTIONS = {
    "weasyprint.layout.inline.justify_line": ["context", "line", "extra_width"],          # replaced
    "weasyprint.layout.inline.count_expandable_spaces": ["box"],
    "weasyprint.layout.inline.add_word_spacing": ["context", "box", "justification_spacing", "x_advance"],
    "weasyprint.text.line_break.create_layout": ["text", "style", "context", "max_width", "justification_spacing"],
    "weasyprint.text.line_break.Layout.set_text": ["self", "text", "justify"],              # replaced
    "weasyprint.text.line_break.Layout.deactivate": ["self"],
    "weasyprint.text.line_break.Layout.reactivate": ["self", "style"],
    "weasyprint.urls.URLFetcher.fetch": ["self", "url", "headers"],                         # overridden
}
# Box class → the methods called on its boxes.
BOXES = {
    "weasyprint.formatting_structure.boxes.TextBox": ["is_in_normal_flow", "translate"],
    "weasyprint.formatting_structure.boxes.LineBox": ["is_in_normal_flow", "translate"],
    "weasyprint.formatting_structure.boxes.InlineBox": ["is_in_normal_flow", "translate"],
}
# The C functions of Pango called through WeasyPrint's cffi binding.
PANGO = ["pango_attr_letter_spacing_new", "pango_layout_get_attributes", "pango_attr_list_change",
         "pango_layout_set_attributes", "pango_attr_list_new", "pango_attr_list_unref"]
# Function → the global or attribute names its code must look up, so that a replacement reaches it:
# the justification is called by name from its module, and a layout made again (reactivate, when
# drawn) sets its text again with justify=True, where the letter spacing is put back.
CALLERS = {
    "weasyprint.layout.inline": "justify_line",
    "weasyprint.text.line_break.Layout.reactivate": "set_text",
    "weasyprint.text.line_break.create_layout": "set_text",
}


def pinned() -> str:
    """WeasyPrint's requirement in pyproject.toml, e.g. `weasyprint>=70,<71`."""
    with (ROOT / "pyproject.toml").open("rb") as f:
        dependencies = tomllib.load(f)["project"]["dependencies"]
    return next(d for d in dependencies if d.lower().startswith("weasyprint"))


def fail(name: str, problem: str) -> NoReturn:
    import weasyprint
    pytest.fail(f"WeasyPrint {weasyprint.__version__}: {name} {problem}; formats/pdf/cjk_justify.py and "
                f"emitter.py were written against {pinned()} (pyproject.toml)", pytrace=False)


def resolve(name: str) -> Any:
    """The object of a dotted name: the longest importable module, then attributes."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(found, attribute):
                fail(name, f"is gone ({'.'.join(parts[:cut])} has no {attribute!r})")
            found = getattr(found, attribute)
        return found
    fail(name, "is gone (no such module)")


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function(name: str) -> None:
    function = resolve(name)
    if not callable(function):
        fail(name, "is no function")
    parameters = list(inspect.signature(function).parameters)
    if parameters != FUNCTIONS[name]:
        fail(name, f"takes ({', '.join(parameters)}), not ({', '.join(FUNCTIONS[name])})")


@pytest.mark.parametrize("name", BOXES)
def test_box(name: str) -> None:
    box = resolve(name)
    if not isinstance(box, type):
        fail(name, "is no class")
    for method in BOXES[name]:
        if not callable(getattr(box, method, None)):
            fail(name, f"has no method {method!r}")


@pytest.mark.parametrize("name", PANGO)
def test_pango(name: str) -> None:
    resolve(f"weasyprint.text.ffi.pango.{name}")


@pytest.mark.parametrize("name", ["weasyprint.text.ffi.ffi", "weasyprint.text.ffi.TO_UNITS"])
def test_ffi(name: str) -> None:
    found = resolve(name)
    if name.endswith("TO_UNITS") and not isinstance(found, int | float):
        fail(name, f"is {type(found).__name__}, no number (Pango units per CSS pixel)")
    if name.endswith(".ffi") and not all(hasattr(found, a) for a in ("NULL", "gc")):
        fail(name, "is no cffi FFI (NULL, gc)")


@pytest.mark.parametrize("name", CALLERS)
def test_called_by_name(name: str) -> None:
    found = resolve(name)
    codes = ([f.__code__ for f in vars(found).values() if inspect.isfunction(f)] if inspect.ismodule(found)
             else [found.__code__])
    if not any(CALLERS[name] in code.co_names for code in codes):
        fail(name, f"no longer calls {CALLERS[name]} by name (a replacement would not reach it)")


def test_installs() -> None:
    from kexue_anthology.formats.pdf import cjk_justify
    if not cjk_justify.install():
        fail("formats/pdf/cjk_justify.install()", "answers False (a piece it needs is missing)")


def test_version_in_pinned_range() -> None:
    import weasyprint
    bounds = dict(re.findall(r"(>=|<)\s*(\d+)", pinned()))
    major = int(weasyprint.__version__.split(".")[0])
    assert int(bounds[">="]) <= major < int(bounds["<"]), (
        f"WeasyPrint {weasyprint.__version__} is outside {pinned()}, the range the PDF's internals were tested with")
