"""The plain dataclasses passed between stages, each carrying its source position, and what a
formula's verdict makes of it (drawn, shown as a link, shown as its source in a box)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kexue_anthology.core.error_codes import error_code
from kexue_anthology.core.sourcetext import Position, SourceText

# How a post's body is written:
#   "markdown": Markdown with the math written raw between its delimiters, as the blog's
#               author writes it (code spans and blocks hold no math, `\$` is a dollar);
#   "text":     the text of the blog's page itself (listing excerpts, plain scrapes).
BODY_FORMATS = ("markdown", "text")


@dataclass(frozen=True)
class Tag:
    """One numbered row, as the blog's AMS numbering gives it."""
    tag: str | None        # the number, or what \tag{…} says
    star: bool                # \tag*{…}: shown without parentheses
    label: str | None


@dataclass(frozen=True)
class Ref:
    """One `\\ref{label}` (eqref false) or `\\eqref{label}`."""
    label: str
    eqref: bool


@dataclass
class Formula:
    """One math fragment as the blog's MathJax (tex2jax) would find it on the page."""

    tex: str                  # without $, $$, \( \), \[ \]; environments keep \begin/\end
    display: bool
    delimiter: str            # "$", "$$", "\\(", "\\[", "env", "ref"
    position: Position        # of the opening delimiter in the source file
    start: int                # span of the whole fragment (delimiters included) in the body
    end: int
    post_id: str = ""
    index: int = 0            # order within the post
    ok: bool | None = None  # filled by validate
    message: str | None = None
    tags: list[Tag] = field(default_factory=list)    # AMS numbered rows, from the engine
    refs: list[Ref] = field(default_factory=list)    # \ref/\eqref targets, from the engine

    @property
    def source(self) -> str:
        """The formula as written, delimiters included."""
        if self.delimiter in ("env", "ref"):
            return self.tex
        return self.delimiter + self.tex + _CLOSERS[self.delimiter]


@dataclass
class Post:
    """One blog post, from whichever form it was read."""

    id: str
    title: str
    date: str | None        # ISO yyyy-mm-dd
    readers: int | None
    body: SourceText           # see BODY_FORMATS; maps back to the source file
    body_format: str
    form: str                  # the reader that produced it
    position: Position         # of the title in the source
    series: str | None = None
    part: int | None = None
    tags: list[str] = field(default_factory=list)
    url: str | None = None
    formulas: list[Formula] = field(default_factory=list)
    also_in: list[Position] = field(default_factory=list)  # other sources of the same post
    # In page text, the blog's headings the reader found (read.plaintext): (start, end of the
    # title, end of the ` # ` mark after it) in `body`, in order
    headings: list[tuple[int, int, int]] = field(default_factory=list)

    @property
    def path(self) -> str:
        return self.position.path

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "date": self.date, "series": self.series,
                "part": self.part, "path": self.path}


_CLOSERS = {"$": "$", "$$": "$$", "\\(": "\\)", "\\[": "\\]"}
_ONLY_REF = re.compile(r"^\s*\\(?:eq)?ref\s*\{[^{}]*\}\s*$")
NOT_REPLAYED = ("engine-timeout", "engine-crash", "too-complex", "formula-too-long")   # never sent again


def is_reference(f: Formula) -> bool:
    """A bare \\ref/\\eqref, or a formula that is nothing else (`$\\eqref{x}$`): shown as a link
    in the text, not drawn (a link inside MathML is no link in most browsers)."""
    return f.delimiter == "ref" or bool(f.ok and _ONLY_REF.match(f.tex))


def drawable(f: Formula) -> bool:
    return bool(f.ok) and not is_reference(f)


def rejected(f: Formula) -> bool:
    """A formula MathJax rejects: shown as its source in a marked box and listed."""
    return not f.ok and f.delimiter != "ref"


def replayable(f: Formula) -> bool:
    """Formulas sent again to rebuild a page's state: all but those that hung or killed the
    engine, or were never sent to it."""
    return bool(f.ok) or error_code(f.message or "") not in NOT_REPLAYED
