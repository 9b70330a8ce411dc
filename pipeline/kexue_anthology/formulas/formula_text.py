"""Formulas and titles as plain text: alt text, titles, bookmarks, running headers — wherever
no formula can be drawn."""

from __future__ import annotations

import re
import threading

from pylatexenc.latex2text import LatexNodes2Text
from pylatexenc.latexwalker import LatexMacroNode


class _ToText(LatexNodes2Text):  # type: ignore[misc]   # pylatexenc has no types
    """pylatexenc's LaTeX-to-text, keeping the name of a macro it does not know (a post's own
    \\newcommand, say) instead of dropping it."""

    def macro_node_to_text(self, node: LatexMacroNode) -> str:
        name: str = node.macroname
        if self.latex_context.get_macro_spec(name) is None:
            return name + "".join(self._groupnodecontents_to_text(n)
                                            for n in (node.nodeargd.argnlist if node.nodeargd else []) if n)
        return super().macro_node_to_text(node)  # type: ignore[no-any-return]


_TO_TEXT = threading.local()        # pylatexenc's converter keeps state while it works
_HREF_URL = re.compile(r"\\href\s*\{[^{}]*\}")


def plain_text(tex: str) -> str:
    """A formula as plain text (pylatexenc), for alt text, titles and bookmarks."""
    if not hasattr(_TO_TEXT, "converter"):
        _TO_TEXT.converter = _ToText(math_mode="text", strict_latex_spaces=True)
    tex = _HREF_URL.sub("", tex)                 # \href{url}{text}: the text
    try:
        text = _TO_TEXT.converter.latex_to_text(tex)
    except Exception:        # pylatexenc gives up on some input; the source is still readable
        text = tex
    return " ".join(text.split())


_TITLE_MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)", re.S)


def plain_title(title: str) -> str:
    """A title with its math as plain text (`关于$\\alpha$的笔记` → `关于α的笔记`), for contents,
    bookmarks, running headers and page titles, where no formula can be drawn."""
    return _TITLE_MATH.sub(lambda m: plain_text(next(g for g in m.groups() if g is not None)), title)


_NOT_SHOWN = re.compile(r"\\(?:label|tag\s*\*?)\s*\{(?:[^{}]|\{[^{}]*\})*\}|\\(?:notag|nonumber)(?![A-Za-z])")


def alt_text(tex: str) -> str:
    """Alt text of a formula: its TeX as written, without what numbers it (`\\label`, `\\tag`,
    `\\notag`, `\\nonumber`) and the address of an `\\href`, whitespace collapsed."""
    tex = _HREF_URL.sub("", tex)
    tex = _NOT_SHOWN.sub(lambda m: " " if tex[m.end():m.end() + 1].isalpha() else "", tex)   # \\alpha\\notag b
    return " ".join(tex.split())
