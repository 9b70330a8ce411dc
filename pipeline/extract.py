"""Find every math fragment the blog's MathJax (tex2jax) would typeset, with its position.

The scan copies tex2jax 2.7's rules (inlineMath `$…$`, `\\(…\\)`; displayMath `$$…$$`,
`\\[…\\]`; processEscapes, processEnvironments, processRefs):

* a run of text is what tex2jax sees as one stretch of text nodes: a paragraph.  Math never
  crosses a blank line, a block start in Markdown, or a code span (an element of its own);
* the end delimiter is looked for with braces counted and `\\x` skipped; an end met inside
  unbalanced braces is remembered and used if the braces never balance before the run ends;
* an opener that is never closed leaves the rest of its run as text (a warning here);
* `\\$` is a literal dollar; a bare `\\ref{…}`/`\\eqref{…}` is inline math by itself;
* in Markdown bodies code blocks and code spans hold no math.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from pipeline.diagnostics import Diagnostics
from pipeline.model import Formula, Post
from pipeline.sourcetext import SourceText

START = re.compile(r"\$\$|\\\[|\\\(|\$|\\begin\{([^}]*)\}|\\*\\\$|\\(eq)?ref\{[^}]*\}")
OPENERS = {"$$": ("$$", True), "\\[": ("\\]", True), "\\(": ("\\)", False), "$": ("$", False)}
_END_PATTERNS: dict[str, re.Pattern] = {}


def _end_pattern(end: str) -> re.Pattern:
    pattern = _END_PATTERNS.get(end)
    if pattern is None:
        pattern = _END_PATTERNS[end] = re.compile(re.escape(end) + r"|\\.|[{}]")
    return pattern


@dataclass
class Span:
    """A fragment in a run: text[start:end] is the whole fragment, delimiters included."""

    start: int
    end: int
    delimiter: str
    tex: str
    display: bool


@dataclass
class Unclosed:
    start: int
    delimiter: str

    @property
    def display(self) -> bool:
        return self.delimiter in ("$$", "\\[") or self.delimiter.startswith("\\begin")


def scan(text: str, begin: int = 0, end: int | None = None) -> Iterator[Span | Unclosed]:
    """tex2jax over one run text[begin:end]."""
    stop = len(text) if end is None else end
    pos = begin
    while True:
        m = START.search(text, pos, stop)
        if not m:
            return
        token = m.group(0)
        if token in OPENERS:
            close, display = OPENERS[token]
            found = _find_end(text, m.end(), stop, close)
            if found is None:
                yield Unclosed(m.start(), token)
                return
            yield Span(m.start(), found, token, text[m.end():found - len(close)], display)
            pos = found
        elif token.startswith("\\begin"):
            close = "\\end{" + m.group(1) + "}"
            found = _find_end(text, m.end(), stop, close)
            if found is None:
                yield Unclosed(m.start(), "\\begin{" + m.group(1) + "}")
                return
            yield Span(m.start(), found, "env", text[m.start():found], True)
            pos = found
        elif token.endswith("$"):          # escaped dollar: literal text
            pos = m.end()
        else:                              # \ref{…} / \eqref{…}
            yield Span(m.start(), m.end(), "ref", token, False)
            pos = m.end()


def _find_end(text: str, pos: int, stop: int, close: str) -> int | None:
    """Offset just past the closing delimiter, tex2jax's way, or None."""
    pattern = _end_pattern(close)
    depth = 0
    first_close = None
    while True:
        m = pattern.search(text, pos, stop)
        if not m:
            return first_close
        token = m.group(0)
        if token == close:
            if depth == 0:
                return m.end()
            if first_close is None:
                first_close = m.end()
        elif token == "{":
            depth += 1
        elif token == "}" and depth:
            depth -= 1
        pos = m.end()


# --- runs ---------------------------------------------------------------------------------

_BLANK = re.compile(r"\n[ \t\u3000]*\n")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_BLOCK_START = re.compile(r"^ {0,3}(#{1,6}\s|[-*+]\s|\d{1,9}[.)]\s|>|\|)")
_BACKTICKS = re.compile(r"(?<!\\)`+")


def text_runs(text: str) -> list[tuple[int, int]]:
    """Paragraphs of page text: blank lines separate them."""
    runs, pos = [], 0
    for m in _BLANK.finditer(text):
        runs.append((pos, m.start() + 1))
        pos = m.end() - 1
    runs.append((pos, len(text)))
    return [(a, b) for a, b in runs if text[a:b].strip()]


def markdown_runs(text: str) -> list[tuple[int, int]]:
    """Stretches of a Markdown text where math can stand: paragraphs and block lines, with
    fenced code blocks left out and split at code spans."""
    blocks: list[tuple[int, int]] = []
    fence = None
    block_start = None
    offset = 0
    for line in text.splitlines(keepends=True):
        line_end = offset + len(line)
        m = _FENCE.match(line)
        if fence is not None:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not line[m.end():].strip():
                fence = None
        elif m:
            if block_start is not None:
                blocks.append((block_start, offset))
                block_start = None
            fence = m.group(1)
        elif not line.strip():
            if block_start is not None:
                blocks.append((block_start, offset))
                block_start = None
        else:
            if block_start is not None and _BLOCK_START.match(line):
                blocks.append((block_start, offset))
                block_start = None
            if block_start is None:
                block_start = offset
        offset = line_end
    if block_start is not None and fence is None:
        blocks.append((block_start, offset))
    runs = []
    for a, b in blocks:
        runs.extend(_split_code_spans(text, a, b))
    return runs


def code_spans(text: str, a: int, b: int) -> list[tuple[int, int]]:
    """CommonMark code spans in text[a:b]: a backtick string closed by one of equal length."""
    spans = []
    pos = a
    while True:
        m = _BACKTICKS.search(text, pos, b)
        if not m:
            return spans
        ticks = m.group(0)
        closer = re.compile(r"(?<!`)" + ticks + r"(?!`)")
        c = closer.search(text, m.end(), b)
        if not c:
            pos = m.end()
            continue
        spans.append((m.start(), c.end()))
        pos = c.end()


def _split_code_spans(text: str, a: int, b: int) -> list[tuple[int, int]]:
    runs, pos = [], a
    for s, e in code_spans(text, a, b):
        runs.append((pos, s))
        pos = e
    runs.append((pos, b))
    return [(x, y) for x, y in runs if y > x]


def runs_for(text: str, body_format: str) -> list[tuple[int, int]]:
    return markdown_runs(text) if body_format == "markdown" else text_runs(text)


MAX_JOINED_RUNS = 40


def scan_runs(text: str, runs: list[tuple[int, int]], scan_run=None):
    """Yield (a, b, items) per run.  A display opener (`$$`, `\\[`, `\\begin`) left open at
    the end of a run is looked for across following runs separated by blank lines only: the
    scrapers wrote the line breaks inside one `<p>`'s display formula as blank lines, and on
    the page that formula is one stretch of text.  `scan_run(a, b)` lists the items of
    text[a:b] (default: `scan`)."""
    scan_run = scan_run or (lambda a, b: list(scan(text, a, b)))
    i = 0
    while i < len(runs):
        a, b = runs[i]
        items = scan_run(a, b)
        j = i
        if items and isinstance(items[-1], Unclosed) and items[-1].display:
            k = i
            while k + 1 < len(runs) and k - i < MAX_JOINED_RUNS and not text[runs[k][1]:runs[k + 1][0]].strip():
                k += 1
                joined = scan_run(a, runs[k][1])
                if not (joined and isinstance(joined[-1], Unclosed) and joined[-1].start == items[-1].start):
                    items, j, b = joined, k, runs[k][1]
                    break
        yield a, b, items
        i = j + 1


# --- the stage ------------------------------------------------------------------------------

def find_formulas(body: SourceText, body_format: str, post_id: str,
                  diagnostics: Diagnostics | None = None) -> list[Formula]:
    formulas: list[Formula] = []
    text = body.text
    for _, _, items in scan_runs(text, runs_for(text, body_format)):
        for item in items:
            if isinstance(item, Unclosed):
                if diagnostics is not None:
                    diagnostics.warning(
                        "unclosed-math",
                        f"{item.delimiter} is never closed in its paragraph: the blog shows it, "
                        "and the rest of the paragraph, as plain text",
                        body.position(item.start))
                continue
            formulas.append(Formula(
                tex=item.tex, display=item.display, delimiter=item.delimiter,
                position=body.position(item.start), start=item.start, end=item.end,
                post_id=post_id, index=len(formulas)))
    return formulas


def extract(posts: list[Post], diagnostics: Diagnostics) -> list[Post]:
    for post in posts:
        post.formulas = find_formulas(post.body, post.body_format, post.id, diagnostics)
    return posts
