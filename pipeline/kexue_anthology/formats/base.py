"""The emitter interface: what an output format declares, in the manner of Sphinx's builders.

An emitter names its format, where it writes by default, the command-line options of its own
(`options`: declared as data; their values come back by name in the build's settings,
kexue_anthology.config.settings) and the few things that make formats differ — whether
headings keep the blog's ids (a page per post) or are made each post's own (a book of many
posts), and how `--math svg` puts a drawing in (inline `<svg>` or an `<img>` file).  The CLI
and the assemble stage read these declarations and hold no knowledge of any format.

An emitter also checks the project file's values it owns (kexue_anthology.config.project.Owner),
as mdBook's `[output.NAME]` tables: its [outputs] key, the [book] keys it takes one of a few
values of (`choices`), the files it takes (`file_problem`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from kexue_anthology.collection.collection import Collection
from kexue_anthology.config.settings import Settings
from kexue_anthology.core.diagnostics import Diagnostics

MathMode = Literal["mathml", "svg", "img"]       # kexue_anthology.formulas.mathhtml.MathHTML's modes


def positive(text: str) -> int:
    """An option's value that is a whole number of at least 1 (`--jobs N`)."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


@dataclass(frozen=True)
class Option:
    """A command-line option of a format's own.  Not given, its value is None: the settings
    then hold the project file's or the format's default (kexue_anthology.config.settings.resolve)."""
    flag: str                                    # "--keep-build"
    help: str
    type: Callable[[str], Any] = str
    choices: tuple[str, ...] | None = None
    metavar: str | None = None

    @property
    def name(self) -> str:
        """Its value's name in the settings: "keep_build"."""
        return self.flag.removeprefix("--").replace("-", "_")


class Emitter:
    """One output format.  Subclasses set the declarations and write the output."""

    name: ClassVar[str]
    help: ClassVar[str]
    default_out: ClassVar[str]                   # below ./out/; `{name}` is the book's file name
    writes_folder: ClassVar[bool] = False
    keeps_heading_ids: ClassVar[bool] = False    # else each post's heading ids are made its own
    svg_embedding: ClassVar[Literal["inline", "img"]] = "img"
    math_choices: ClassVar[tuple[str, ...]] = ("svg",)    # the first is the default

    def options(self) -> list[Option]:
        """The format's own options on its `build` subcommand."""
        if len(self.math_choices) < 2:
            return []
        return [Option("--math", f"{' or '.join(self.math_choices)} (default {self.math_choices[0]})",
                       choices=self.math_choices)]

    def choices(self) -> Mapping[str, tuple[str, ...]]:
        """The project file's [book] keys this format takes one of a few values of, with those values."""
        return {"math": self.math_choices}

    def file_problem(self, key: str, path: Path) -> str | None:
        """Why this format cannot take the file the project's [book] `key` names, or None."""
        return None

    def math_mode(self, math: str) -> MathMode:
        """How a formula is shown for `--math`: MathML, or its SVG drawing as this format embeds it."""
        if math == "mathml" and "mathml" in self.math_choices:
            return "mathml"
        return "svg" if self.svg_embedding == "inline" else "img"

    def outputs(self, target: Path, options: Settings) -> list[Path]:
        """What a build into `target` writes (checked before any work, named when done)."""
        return [target]

    def other_outputs(self, options: Settings) -> list[Path]:
        """Folders written besides the output, checked like it before any work."""
        return []

    def write(self, collection: Collection, out: Path, options: Settings, diagnostics: Diagnostics) -> Path:
        raise NotImplementedError
