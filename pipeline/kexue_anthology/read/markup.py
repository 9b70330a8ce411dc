"""Undoing what a scraper did to the blog's text, keeping the map to the source:
Markdown backslash escapes (`\\_`, `\\*`, `\\\\frac`) and HTML entities (`&gt;`)."""

from __future__ import annotations

import html
import re

from kexue_anthology.core.sourcetext import SourceText, TextBuilder

_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


_MARKDOWN_ESCAPE = r"\\[!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]"
# The scraper escaped each backslash and took the character after it along as it was
# (`\frac` → `\\frac`), so the second backslash of TeX's row break `\\` stayed bare: `\\&`
# became `\\\&`, which reads as `\&` (a literal ampersand where the row break was), `\\=` as
# `\=`.  Before a character the scraper never escapes itself (it escapes `` \ ` * _ [ ] # . > | ``,
# and `+ -` before a space only), a run of 2k+1 backslashes is k backslashes and a bare one:
# `\\\&` is `\\&`, while `\\\_` is still `\_` (TeX's escaped underscore).
_BARE_AFTER_ROW_BREAK = r"!\"$%&'(),:;<=?@^{}~/+\-"
_ROW_BREAK = rf"(?<!\\)\\\\(?:\\\\)*+\\[{_BARE_AFTER_ROW_BREAK}]"   # at a run's start only: linear
_PATTERNS = {(markdown, entities): re.compile("|".join(p for p, on in ((_ROW_BREAK, markdown),
                                                                       (_MARKDOWN_ESCAPE, markdown),
                                                                       (_ENTITY.pattern, entities)) if on))
             for markdown in (False, True) for entities in (False, True) if markdown or entities}


def unescape(text: SourceText, markdown: bool, entities: bool = True) -> SourceText:
    """Undo Markdown escapes (when `markdown`) and HTML entities (when `entities`), left to
    right in one regular-expression pass (linear, and fast on megabytes of escapes)."""
    if not (markdown or entities):
        return text
    out = TextBuilder(text.source)
    run = 0
    for m in _PATTERNS[markdown, entities].finditer(text.text):
        token = m.group(0)
        if len(token) > 2 and token[0] == "\\":         # 2k+1 backslashes and a character: k, then `\x`
            value = token[: (len(token) - 2) // 2] + token[-2:]
        else:
            value = token[1] if token[0] == "\\" else html.unescape(token)
        if value == token:
            continue
        out.copy(text, run, m.start())
        out.put(value, text.offsets[m.start()])
        run = m.end()
    out.copy(text, run, len(text))
    return out.build()
