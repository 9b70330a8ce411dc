"""Undoing what a scraper did to the blog's text, keeping the map to the source:
Markdown backslash escapes (`\\_`, `\\*`, `\\\\frac`) and HTML entities (`&gt;`)."""

from __future__ import annotations

import html
import re

from pipeline.sourcetext import SourceText, TextBuilder

_ESCAPABLE = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def unescape(text: SourceText, markdown: bool, entities: bool = True) -> SourceText:
    """Undo Markdown escapes (when `markdown`) and HTML entities (when `entities`)."""
    out = TextBuilder(text.source)
    s = text.text
    i, n, run = 0, len(s), 0
    while i < n:
        ch = s[i]
        if markdown and ch == "\\" and i + 1 < n and s[i + 1] in _ESCAPABLE:
            out.copy(text, run, i)
            out.put(s[i + 1], text.offsets[i])
            i += 2
            run = i
            continue
        if entities and ch == "&":
            m = _ENTITY.match(s, i)
            if m:
                value = html.unescape(m.group(0))
                if value != m.group(0):
                    out.copy(text, run, i)
                    out.put(value, text.offsets[i])
                    i = m.end()
                    run = i
                    continue
        i += 1
    out.copy(text, run, n)
    return out.build()
