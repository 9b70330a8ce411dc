"""Where inside a formula MathJax's error is: the `\\left` without its `\\right`, the `\\right`
without its `\\left`, the `\\begin` never ended, the undefined macro, the brace left open.

MathJax names the fault but not the place.  The formula's TeX is scanned the way MathJax's
parser nests it: braces and `\\begin…\\end` are groups, and a `\\left` must meet its `\\right`
in the same group (`\\left.` and `\\right.` count like any delimiter; `%` starts a comment).
The fault's index in the TeX is then mapped back through the post's body to a line and
column of the file, so a formula over many lines points at the line of the `\\left`, not at
the `$$` or `\\begin{align}` it starts with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kexue_anthology.check.suggest import UNDEFINED, UNKNOWN_ENV
from kexue_anthology.core.model import Formula
from kexue_anthology.core.sourcetext import Position, SourceText

_TOKEN = re.compile(r"\\(begin|end)\s*\{([^{}]*)\}|\\([A-Za-z]+)|\\.|[{}&]|%[^\n]*", re.S)


@dataclass
class _Group:
    kind: str                 # "top", "brace" or "env"
    index: int = 0
    name: str = ""
    lefts: list[int] = field(default_factory=list)


@dataclass
class Unmatched:
    """Indexes in the TeX of what has no partner, each list in source order."""
    lefts: list[int] = field(default_factory=list)
    rights: list[int] = field(default_factory=list)
    middles: list[int] = field(default_factory=list)
    opens: list[int] = field(default_factory=list)         # `{` never closed
    closes: list[int] = field(default_factory=list)        # `}` closing nothing
    begins: list[int] = field(default_factory=list)        # `\begin{…}` never ended
    bad_ends: list[int] = field(default_factory=list)      # `\end{…}` of another or no environment
    macros: dict[str, int] = field(default_factory=dict)   # first use of each control word
    environments: dict[str, int] = field(default_factory=dict)   # first `\begin` of each
    split: list[int] = field(default_factory=list)         # a `\left` with a cell or row break before its `\right`


class _Scan:
    """One scan's state: the groups open at this point, and what was found unmatched."""

    def __init__(self) -> None:
        self.found = Unmatched()
        self.groups = [_Group("top")]

    def close(self, group: _Group) -> None:
        self.found.lefts += group.lefts
        if group.kind == "brace":
            self.found.opens.append(group.index)
        elif group.kind == "env":
            self.found.begins.append(group.index)

    def begin(self, i: int, name: str) -> None:
        self.found.environments.setdefault(name, i)
        self.groups.append(_Group("env", i, name))

    def end(self, i: int, name: str) -> None:
        groups = self.groups
        at = next((n for n in range(len(groups) - 1, 0, -1) if groups[n].kind == "env"), None)
        if at is None:
            self.found.bad_ends.append(i)
            return
        for group in groups[at + 1:]:
            self.close(group)
        env = groups[at]
        del groups[at:]
        self.found.lefts += env.lefts
        if env.name != name:
            self.found.bad_ends.append(i)

    def row_break(self) -> None:
        top = self.groups[-1]
        if top.lefts and top.lefts[-1] not in self.found.split:
            self.found.split.append(top.lefts[-1])

    def brace(self, token: str, i: int) -> None:
        top = self.groups[-1]
        if token == "{":
            self.groups.append(_Group("brace", i))
        elif top.kind == "brace":
            self.groups.pop()
            self.found.lefts += top.lefts
        else:
            self.found.closes.append(i)

    def word(self, word: str, i: int) -> None:
        top = self.groups[-1]
        self.found.macros.setdefault(word, i)
        if word == "left":
            top.lefts.append(i)
        elif word == "right":
            if top.lefts:
                top.lefts.pop()
            else:
                self.found.rights.append(i)
        elif word == "middle" and not top.lefts:
            self.found.middles.append(i)

    def finish(self) -> Unmatched:
        for group in reversed(self.groups):
            if group.kind == "top":
                self.found.lefts += group.lefts
            else:
                self.close(group)
        for name in ("lefts", "rights", "middles", "opens", "closes", "begins", "bad_ends", "split"):
            getattr(self.found, name).sort()
        return self.found


def find_unmatched(tex: str) -> Unmatched:
    state = _Scan()
    for m in _TOKEN.finditer(tex):
        token, i = m.group(), m.start()
        if m.group(1) == "begin":
            state.begin(i, m.group(2).strip())
        elif m.group(1) == "end":
            state.end(i, m.group(2).strip())
        elif token in ("&", "\\\\"):
            state.row_break()
        elif token in ("{", "}"):
            state.brace(token, i)
        elif m.group(3):
            state.word(m.group(3), i)
    return state.finish()


_FAULTS: list[tuple[re.Pattern[str], str, bool]] = [     # MathJax's message, where, last rather than first
    (re.compile(r"Extra \\left or missing \\right"), "lefts", False),
    (re.compile(r"Missing \\left or extra \\right"), "rights", False),
    (re.compile(r"must be within \\left and \\right"), "middles", False),
    (re.compile(r"Missing \\end\{"), "begins", True),
    (re.compile(r"\\begin\{[^}]*\} ended with \\end\{"), "bad_ends", False),
    (re.compile(r"Extra \\end"), "bad_ends", False),
    (re.compile(r"Extra close brace or missing open brace"), "closes", False),
    (re.compile(r"Extra open brace or missing close brace|Missing close brace"), "opens", True),
]


# A `\left…\right` pair must lie within one cell of an array: when a `&` or `\\` comes before
# the `\right` (or the `\right` never comes), MathJax names the `&` or `\\`; the `\left` is the fault.
_SWALLOWED_BY_LEFT = re.compile(r"Misplaced &|Misplaced \\\\|Missing \\right")


def _left_hint(found: Unmatched, message: str) -> str | None:
    r"""What to fix, when MathJax's message names a symptom of an unmatched `\left`."""
    if _SWALLOWED_BY_LEFT.search(message) and "left or" not in message and found.split:
        return "a \\left here has no \\right in its row: close it before the `&` or `\\\\`"
    return None


def _fault(found: Unmatched, message: str) -> tuple[int | None, str | None]:
    """The index of the fault `message` is about (None when it cannot be told), and the fix to name."""
    if hint := _left_hint(found, message):
        return found.split[0], hint
    if m := UNDEFINED.search(message):
        return found.macros.get(m.group(1)), None
    if m := UNKNOWN_ENV.search(message):
        return found.environments.get(m.group(1).strip()), None
    for pattern, where, last in _FAULTS:
        if pattern.search(message):
            places: list[int] = getattr(found, where)
            return ((places[-1] if last else places[0]) if places else None), None
    return None, None


def fault_index(tex: str, message: str) -> int | None:
    """The index in `tex` of what MathJax's `message` is about, or None when it cannot be told."""
    return _fault(find_unmatched(tex), message)[0]


def fault(formula: Formula, body: SourceText, message: str) -> tuple[Position, str | None]:
    """Where in the file the fault of `message` is (the formula's own position when unknown),
    and the fix to name when the message is a symptom of a fault elsewhere; one scan of the TeX."""
    index, hint = _fault(find_unmatched(formula.tex), message)
    return (formula.position if index is None else tex_position(formula, body, index)), hint


def tex_position(formula: Formula, body: SourceText, index: int) -> Position:
    """The file position of character `index` of the formula's TeX.  The TeX is the body's
    text between the delimiters, less the block-quote markers of its continuation lines
    (kexue_anthology.check.extract.unquoted): the characters are matched up in order, skipping those."""
    start = formula.start + (0 if formula.delimiter in ("env", "ref") else len(formula.delimiter))
    raw, tex = body.text[start:formula.end], formula.tex
    if raw.startswith(tex[:index + 1]):
        return body.position(start + index)
    j = 0
    for ch in tex[:index + 1]:
        while j < len(raw) and raw[j] != ch:
            j += 1
        j += 1
    return body.position(start + min(j - 1, len(raw) - 1)) if raw else formula.position
