"""Where a link or an image of a post's document stands in the post's source.

pandoc's AST carries no positions; a diagnostic about a link or an image still names the line
and column where the author wrote it (`LinkLocator`).
"""

from __future__ import annotations

import bisect
import re

from kexue_anthology.core.model import Post


class LinkLocator:
    """Where a link stands in its post's source: pandoc's AST has no positions, so the n-th
    link to a target is taken to be the n-th `](target` in the body (Markdown escapes allowed
    between its characters), and its place is that of the `[` opening its text.  Formulas are
    skipped when brackets are matched back, since theirs are TeX's."""

    REACH = 4000          # how far back an opening bracket is looked for
    SEARCHES = 500        # links looked for in one post (each may read the whole text)

    def __init__(self, post: Post) -> None:
        self.text = post.body.text
        self.formulas = [(f.start, f.end) for f in post.formulas]
        self.starts = [a for a, _ in self.formulas]
        self.cursor = 0
        self.searches = 0

    def find(self, url: str) -> tuple[int, int] | None:
        """(index of the `]`, index after the target) of the next link to `url` after the
        last one found (links are looked for in document order), or None."""
        chars = url.strip()
        self.searches += 1
        if len(chars) > 2000 or self.searches > self.SEARCHES:
            return None
        pattern = re.compile(r"\]\(\s*<?" + (r"\\?".join(map(re.escape, chars)) if chars else r"(?=\s*>?\s*\))"))
        m = pattern.search(self.text, self.cursor) or pattern.search(self.text)
        if not m:
            return None
        self.cursor = m.end()
        return m.start(), m.end()

    def _formula_at(self, i: int) -> tuple[int, int] | None:
        k = bisect.bisect_right(self.starts, i) - 1
        return self.formulas[k] if k >= 0 and self.formulas[k][0] <= i < self.formulas[k][1] else None

    def start(self, found: tuple[int, int]) -> int:
        """The `[` opening the link's text (the `]` when none is found)."""
        depth, i = 0, found[0] - 1
        while i >= max(0, found[0] - self.REACH):
            inside = self._formula_at(i)
            if inside:
                i = inside[0] - 1
                continue
            ch = self.text[i]
            if ch in "[]" and not (i > 0 and self.text[i - 1] == "\\"):
                if ch == "]":
                    depth += 1
                elif depth == 0:
                    return i
                else:
                    depth -= 1
            elif ch == "\n" and self.text[i - 1:i] == "\n":
                break                                      # a link stands in one paragraph
            i -= 1
        return found[0]

    def target(self, found: tuple[int, int]) -> str:
        """The target as written: from after `](` to the `)` that closes it."""
        depth, i = 0, found[0] + 2
        while i < min(len(self.text), found[1] + self.REACH):
            ch = self.text[i]
            if ch == "(":
                depth += 1
            elif ch == ")":
                if depth == 0:
                    return self.text[found[0] + 2:i]
                depth -= 1
            elif ch == "\n":
                break
            i += 1
        return self.text[found[0] + 2:found[1]]
