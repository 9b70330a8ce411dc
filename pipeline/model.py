"""The plain dataclasses passed between stages; each carries its source position."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from pipeline.sourcetext import Position, SourceText

# How a post's body is written:
#   "markdown": Markdown with the math written raw between its delimiters, as the blog's
#               author writes it (code spans and blocks hold no math, `\$` is a dollar);
#   "text":     the text of the blog's page itself (listing excerpts, plain scrapes).
BODY_FORMATS = ("markdown", "text")


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
    ok: Optional[bool] = None  # filled by validate
    message: Optional[str] = None
    tags: list[dict] = field(default_factory=list)   # AMS numbered rows, from the engine
    refs: list[dict] = field(default_factory=list)   # \ref/\eqref targets, from the engine


@dataclass
class Post:
    """One blog post, from whichever form it was read."""

    id: str
    title: str
    date: Optional[str]        # ISO yyyy-mm-dd
    readers: Optional[int]
    body: SourceText           # see BODY_FORMATS; maps back to the source file
    body_format: str
    form: str                  # the reader that produced it
    position: Position         # of the title in the source
    series: Optional[str] = None
    part: Optional[int] = None
    tags: list[str] = field(default_factory=list)
    url: Optional[str] = None
    formulas: list[Formula] = field(default_factory=list)
    also_in: list[Position] = field(default_factory=list)  # other sources of the same post

    @property
    def path(self) -> str:
        return self.position.path

    def summary(self) -> dict:
        return {"id": self.id, "title": self.title, "date": self.date, "series": self.series,
                "part": self.part, "path": self.path}
