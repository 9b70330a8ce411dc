"""The emitter interface: what an output format declares, in the manner of Sphinx's builders.

An emitter names its format, where it writes by default, the command-line options of its own
and the few things that make formats differ — whether headings keep the blog's ids (a page per
post) or are made each post's own (a book of many posts), and how `--math svg` puts a drawing
in (inline `<svg>` or an `<img>` file).  The CLI and the assemble stage read these
declarations and hold no knowledge of any format.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import ClassVar, Literal

from kexue_anthology.collection.collection import Collection
from kexue_anthology.core.diagnostics import Diagnostics
from kexue_anthology.formats.common import BuildOptions

MathMode = Literal["mathml", "svg", "img"]       # kexue_anthology.formulas.mathhtml.MathHTML's modes


class Emitter:
    """One output format.  Subclasses set the declarations and write the output."""

    name: ClassVar[str]
    help: ClassVar[str]
    default_out: ClassVar[str]                   # below ./out/; `{name}` is the book's file name
    writes_folder: ClassVar[bool] = False
    keeps_heading_ids: ClassVar[bool] = False    # else each post's heading ids are made its own
    svg_embedding: ClassVar[Literal["inline", "img"]] = "img"
    math_choices: ClassVar[tuple[str, ...]] = ("svg",)    # the first is the default

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        """The format's own options on its `build` subcommand."""
        if len(self.math_choices) > 1:
            parser.add_argument("--math", choices=self.math_choices, default=self.math_choices[0],
                                help=f"{' or '.join(self.math_choices)} (default {self.math_choices[0]})")

    def math_mode(self, math: str) -> MathMode:
        """How a formula is shown for `--math`: MathML, or its SVG drawing as this format embeds it."""
        if math == "mathml" and "mathml" in self.math_choices:
            return "mathml"
        return "svg" if self.svg_embedding == "inline" else "img"

    def outputs(self, target: Path, options: BuildOptions) -> list[Path]:
        """What a build into `target` writes (checked before any work, named when done)."""
        return [target]

    def other_outputs(self, options: BuildOptions) -> list[Path]:
        """Folders written besides the output, checked like it before any work."""
        return []

    def write(self, collection: Collection, out: Path, options: BuildOptions, diagnostics: Diagnostics) -> Path:
        raise NotImplementedError
