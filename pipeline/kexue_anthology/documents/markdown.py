"""A post's body as Markdown, each formula written as asked: what `anthology import` writes
(kexue_anthology.cli.importer) and what the document stage gives pandoc (kexue_anthology.documents.document).
Prose read from page text is escaped for Markdown, its line breaks made paragraph breaks."""

from __future__ import annotations

import re
from collections.abc import Callable

from kexue_anthology.core.model import Formula, Post

_SPECIAL = re.compile(r"([\\`*_<$])")
_LINE_START = re.compile(r"^([ \t]*)([#>+=-])", re.M)
_ORDERED = re.compile(r"^([ \t]*\d+)([.)])", re.M)


def escape_prose(text: str) -> str:
    text = _SPECIAL.sub(r"\\\1", text)
    text = _LINE_START.sub(r"\1\\\2", text)
    return _ORDERED.sub(r"\1\\\2", text)


def markdown_body(post: Post, formula_text: Callable[[Formula], str] | None = None) -> str:
    """The body as Markdown; each formula written by `formula_text` (default: its source).
    A heading the reader found in page text (`Post.headings`) is a `##` heading of its own."""
    text = post.body.text
    if post.body_format == "markdown" and formula_text is None:
        return text
    prose = (lambda s: s) if post.body_format == "markdown" else (
        lambda s: escape_prose(s).replace("\n", "\n\n"))
    cuts = sorted([(f.start, f.end, f) for f in post.formulas] + [(h[0], h[2], h) for h in post.headings],
                  key=lambda cut: cut[0])
    parts, pos = [], 0
    for start, end, what in cuts:
        if isinstance(what, tuple):
            parts += [prose(text[pos:start].rstrip(" \t")), "\n\n## ", escape_prose(text[start:what[1]]), "\n\n"]
        else:
            parts += [prose(text[pos:start]), formula_text(what) if formula_text else text[start:end]]
        pos = end
    parts.append(prose(text[pos:]))
    return "".join(parts)
