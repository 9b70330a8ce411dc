"""Text with a map back to the file it came from, so every stage can name a line and column.

A `SourceText` is a string plus, for each of its characters, the offset of the character in
the decoded source file it stands for.  Undoing Markdown escapes or HTML entities, cutting out
page chrome and joining pieces all keep the map, so a formula found in cleaned text still
points at its opening delimiter in the file on disk.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Position:
    """A place in a source file: 1-based line and column (columns count characters)."""

    path: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


@dataclass
class SourceFile:
    """A decoded source file: its text and where its lines start."""

    path: str
    text: str
    line_starts: list[int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        starts = [0]
        find = self.text.find
        i = find("\n")
        while i >= 0:
            starts.append(i + 1)
            i = find("\n", i + 1)
        self.line_starts = starts

    def position(self, offset: int) -> Position:
        line = bisect.bisect_right(self.line_starts, offset) - 1
        return Position(self.path, line + 1, offset - self.line_starts[line] + 1)

    def slice(self, start: int, end: int) -> SourceText:
        return SourceText(self.text[start:end], list(range(start, end)), self)


@dataclass
class SourceText:
    """A string whose character i stands for offset `offsets[i]` of `source`."""

    text: str
    offsets: list[int]
    source: SourceFile

    def position(self, index: int) -> Position:
        if not self.offsets:
            return self.source.position(0)
        index = min(max(index, 0), len(self.offsets) - 1)
        return self.source.position(self.offsets[index])

    def __getitem__(self, key: slice) -> SourceText:
        return SourceText(self.text[key], self.offsets[key], self.source)

    def __len__(self) -> int:
        return len(self.text)


class TextBuilder:
    """Builds a `SourceText` piece by piece: copied runs keep their offsets, replacements
    take the offset of what they replace."""

    def __init__(self, source: SourceFile) -> None:
        self.source = source
        self.parts: list[str] = []
        self.offsets: list[int] = []

    def copy(self, text: SourceText | str, start: int = 0, end: int | None = None,
             base: int | None = None) -> None:
        """Copy text[start:end]; for a plain str, `base` is the source offset of its start."""
        if isinstance(text, SourceText):
            piece = text.text[start:end]
            self.parts.append(piece)
            self.offsets.extend(text.offsets[start:end] if end is not None else text.offsets[start:])
        else:
            piece = text[start:end]
            self.parts.append(piece)
            b = (base or 0) + start
            self.offsets.extend(range(b, b + len(piece)))

    def put(self, replacement: str, offset: int) -> None:
        """Append `replacement`, every character of it standing for source `offset`."""
        self.parts.append(replacement)
        self.offsets.extend([offset] * len(replacement))

    def build(self) -> SourceText:
        return SourceText("".join(self.parts), self.offsets, self.source)
