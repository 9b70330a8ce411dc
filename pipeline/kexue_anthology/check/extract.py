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

Bounded work on any input (issue 10): every scan here is linear or n log n in the text, and
the limits below — the read stage's too, so that they stand in one place — keep a hostile
file from costing minutes.  Real posts are far inside them (< 100 KB, <= 300 formulas, the
longest formula ~6,600 characters).  A post with more than MAX_FORMULAS formulas gets one
`too-many-formulas` error at the first one past the limit and those past it are dropped; a
formula longer than MAX_FORMULA_CHARS is kept, but the validate stage reports it
(`formula-too-long`) instead of sending it to MathJax, and the outputs show it boxed.  Reading a
paragraph again and again for openers whose braces never balance is charged to a budget
(SCAN_WORK_PER_CHAR); past it the rest of the paragraph is text and gets one `scan-limit` error.
A formula is looked for across at most MAX_JOINED_RUNS paragraphs, and all the re-scans of one
body done to join paragraphs are charged to a budget of JOIN_WORK_PER_CHAR characters per
character of the body: past it, openers left open stay unclosed.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from kexue_anthology.core.diagnostics import Diagnostics
from kexue_anthology.core.model import Formula, Post
from kexue_anthology.core.sourcetext import SourceText

# --- limits ---------------------------------------------------------------------------------

MAX_FILE_BYTES = 8 * 1024 * 1024        # a larger file is reported (`too-large`), not read
MAX_FRONT_MATTER_CHARS = 64 * 1024      # front matter larger than this is refused
MAX_FRONT_MATTER_DEPTH = 20             # nesting of YAML lists/mappings in front matter
MAX_TITLE_CHARS = 500                   # title and series
MAX_ID_CHARS = 64                       # the id names output files
MAX_READERS = 10 ** 12
MAX_PART = 10_000
MAX_FORMULAS = 5_000                    # per post
MAX_FORMULA_CHARS = 50_000              # one formula, delimiters included
MAX_JOINED_RUNS = 40                    # paragraphs one display formula may span
JOIN_WORK_PER_CHAR = 4                  # re-scanning for joins, in characters per body character
JOIN_WORK_MIN = 100_000
SCAN_WORK_PER_CHAR = 2                  # re-reading after unbalanced braces, likewise per run
SCAN_WORK_MIN = 200_000

# An escaped dollar is matched from the start of its backslash run only, and names in braces
# are at most 200 characters, so that no search re-reads a long stretch at every position.
START = re.compile(r"\$\$|\\\[|\\\(|\$|\\begin\{([^}]{0,200})\}|(?<!\\)\\+\$|\\(eq)?ref\{[^}]{0,200}\}")
OPENERS = {"$$": ("$$", True), "\\[": ("\\]", True), "\\(": ("\\)", False), "$": ("$", False)}
_END_PATTERNS: dict[str, re.Pattern[str]] = {}


def _end_pattern(end: str) -> re.Pattern[str]:
    pattern = _END_PATTERNS.get(end)
    if pattern is None:
        pattern = _END_PATTERNS[end] = re.compile(re.escape(end) + r"|\\.|[{}]")
    return pattern


@dataclass
class FormulaSpan:
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


@dataclass
class GaveUp:
    """Where a scan stopped because its work budget ran out: the rest of the run is text."""

    start: int


Item = FormulaSpan | Unclosed | GaveUp
ScanRun = Callable[[int, int], list[Item]]     # the items of text[a:b]


def scan(text: str, begin: int = 0, end: int | None = None) -> Iterator[Item]:
    """tex2jax over one run text[begin:end].  An opener whose braces never balance is closed
    at its first end delimiter only after reading to the end of the run; that reading is
    charged to a budget of SCAN_WORK_PER_CHAR characters per character of the run, so that
    hostile text (`${$` repeated) cannot cost n²."""
    stop = len(text) if end is None else end
    budget = max(SCAN_WORK_MIN, SCAN_WORK_PER_CHAR * (stop - begin))
    pos = begin
    while True:
        m = START.search(text, pos, stop)
        if not m:
            return
        token = m.group(0)
        if token in OPENERS or token.startswith("\\begin"):
            if budget <= 0:
                yield GaveUp(m.start())
                return
            opener, close, display = _opener(m)
            found, balanced = _find_end(text, m.end(), stop, close)
            if not balanced:
                budget -= stop - m.end()
            if found is None:
                yield Unclosed(m.start(), opener)
                return
            tex = text[m.start():found] if opener.startswith("\\begin") else text[m.end():found - len(close)]
            yield FormulaSpan(m.start(), found, "env" if opener.startswith("\\begin") else token, tex, display)
            pos = found
        elif token.endswith("$"):          # escaped dollar: literal text
            pos = m.end()
        else:                              # \ref{…} / \eqref{…}
            yield FormulaSpan(m.start(), m.end(), "ref", token, False)
            pos = m.end()


def _opener(m: re.Match[str]) -> tuple[str, str, bool]:
    """The opening delimiter a START match stands for, its closing delimiter, and display."""
    token = m.group(0)
    if token in OPENERS:
        return (token, *OPENERS[token])
    return "\\begin{" + m.group(1) + "}", "\\end{" + m.group(1) + "}", True


def _find_end(text: str, pos: int, stop: int, close: str) -> tuple[int | None, bool]:
    """Offset just past the closing delimiter, tex2jax's way, or None; and whether it was met
    with the braces balanced (else the text was read to `stop`)."""
    pattern = _end_pattern(close)
    depth = 0
    first_close = None
    while True:
        m = pattern.search(text, pos, stop)
        if not m:
            return first_close, False
        token = m.group(0)
        if token == close:
            if depth == 0:
                return m.end(), True
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
_TICK_RUN = re.compile(r"(?<!`)`+")


def text_runs(text: str) -> list[tuple[int, int]]:
    """Paragraphs of page text: blank lines separate them."""
    runs, pos = [], 0
    for m in _BLANK.finditer(text):
        runs.append((pos, m.start() + 1))
        pos = m.end() - 1
    runs.append((pos, len(text)))
    return [(a, b) for a, b in runs if text[a:b].strip()]


def quote_depth(line: str) -> tuple[int, int]:
    """How many block-quote markers `>` start the line (list markers before them, as in
    `- > `, included), and where its content starts."""
    m = _QUOTE_MARKERS.match(line)
    if m is None:
        return 0, 0
    depth = m.group().count(">")
    if depth and m.end() < len(line) and line[m.end()] in " \t":
        return depth, m.end() + 1
    return depth, m.end()


_QUOTE_MARKERS = re.compile(r"(?:[ \t]*(?:>|(?:[-+*]|\d{1,9}[.)])(?=[ \t])))*[ \t]*>")


def markdown_runs(text: str) -> list[tuple[int, int]]:
    """Stretches of a Markdown text where math can stand: paragraphs and block lines, with
    fenced code blocks left out and split at code spans.  The lines of a paragraph inside a
    block quote (each starting with the same number of `>`) are one stretch, as on the page."""
    blocks: list[tuple[int, int]] = []
    fence = None
    block_start = None
    block_quote = 0                 # the quote depth of the block's first line
    offset = 0
    lines = text.splitlines(keepends=True)
    closed = _closed_fences(lines)
    for number, line in enumerate(lines):
        line_end = offset + len(line)
        # a fence never closed is text, as pandoc reads it
        m = _FENCE.match(line) if fence is not None or number in closed else None
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
            depth, content = quote_depth(line)
            if block_start is not None and _starts_block(line, depth, content, block_quote):
                blocks.append((block_start, offset))
                block_start = None
            if block_start is None:
                block_start = offset
                block_quote = depth if line[content:].strip() else 0
        offset = line_end
    if block_start is not None and fence is None:
        blocks.append((block_start, offset))
    runs = []
    for a, b in blocks:
        runs.extend(_split_code_spans(text, a, b))
    return runs


def _starts_block(line: str, depth: int, content: int, block_quote: int) -> bool:
    """Whether `line`, met inside a paragraph, starts a block of its own: it looks like one, and is
    not the next line of the quoted paragraph (as deep, with text after the `>`, no block start)."""
    return bool(_BLOCK_START.match(line)) and not (
        depth and depth == block_quote and line.lstrip(" \t")[:1] == ">" and line[content:].strip()
        and not _BLOCK_START.match(line[content:]))


def _closed_fences(lines: list[str]) -> set[int]:
    """The lines that open a fenced code block closed further on (a later line of the same
    fence character, at least as long, with nothing after it).  One pass from the end."""
    longest = {"`": 0, "~": 0}          # the longest closing fence of each kind below
    closed = set()
    for number in range(len(lines) - 1, -1, -1):
        m = _FENCE.match(lines[number])
        if not m:
            continue
        fence = m.group(1)
        if longest[fence[0]] >= len(fence):
            closed.add(number)
        if not lines[number][m.end():].strip():
            longest[fence[0]] = max(longest[fence[0]], len(fence))
    return closed


def code_spans(text: str, a: int, b: int) -> list[tuple[int, int]]:
    """CommonMark code spans in text[a:b]: a backtick string closed by the next run of
    exactly its length.  An opener preceded by a backslash loses its first backtick.  The
    runs are indexed by length once, so hostile text costs n log n, not n²."""
    runs = [m.span() for m in _TICK_RUN.finditer(text, a, b)]
    by_length: dict[int, list[int]] = {}
    for k, (s, e) in enumerate(runs):
        by_length.setdefault(e - s, []).append(k)
    spans = []
    k = 0
    while k < len(runs):
        s, e = runs[k]
        if s > 0 and text[s - 1] == "\\":
            s += 1
        closers = by_length.get(e - s, [])
        c = bisect.bisect_right(closers, k)
        if e > s and c < len(closers):
            spans.append((s, runs[closers[c]][1]))
            k = closers[c]
        k += 1
    return spans


def _split_code_spans(text: str, a: int, b: int) -> list[tuple[int, int]]:
    runs, pos = [], a
    for s, e in code_spans(text, a, b):
        runs.append((pos, s))
        pos = e
    runs.append((pos, b))
    return [(x, y) for x, y in runs if y > x]


def runs_for(text: str, body_format: str) -> list[tuple[int, int]]:
    return markdown_runs(text) if body_format == "markdown" else text_runs(text)


def scan_runs(text: str, runs: list[tuple[int, int]],
              scan_run: ScanRun | None = None) -> Iterator[tuple[int, int, list[Item]]]:
    """Yield (a, b, items) per run.  A display opener (`$$`, `\\[`, `\\begin`) left open at
    the end of a run is looked for across following runs separated by blank lines only: the
    scrapers wrote the line breaks inside one `<p>`'s display formula as blank lines, and on
    the page that formula is one stretch of text.  `scan_run(a, b)` lists the items of
    text[a:b] (default: `scan`)."""
    scan_run = scan_run or (lambda a, b: list(scan(text, a, b)))
    budget = max(JOIN_WORK_MIN, JOIN_WORK_PER_CHAR * len(text))
    i = 0
    while i < len(runs):
        a, b = runs[i]
        items = scan_run(a, b)
        j = i
        if items and isinstance(items[-1], Unclosed) and items[-1].display:
            k = i
            while (k + 1 < len(runs) and k - i < MAX_JOINED_RUNS and budget > 0
                   and not text[runs[k][1]:runs[k + 1][0]].strip()):
                k += 1
                budget -= runs[k][1] - a + _CALL_COST
                joined = scan_run(a, runs[k][1])
                if not (joined and isinstance(joined[-1], Unclosed) and joined[-1].start == items[-1].start):
                    items, j, b = joined, k, runs[k][1]
                    break
        yield a, b, items
        i = j + 1


_CALL_COST = 64     # a scan of a few characters still costs a call: charged as this many


_QUOTE_STRIP: dict[int, re.Pattern[str]] = {}


def unquoted(text: str, start: int, tex: str) -> str:
    """The TeX of a formula starting at text[start] without the block-quote markers that begin
    its continuation lines: on the page they are the quote's, not the formula's.  As many
    markers are taken from each line as the formula's first line has (at most); a line with
    fewer (a lazy continuation) loses those it has."""
    if "\n" not in tex:
        return tex
    line_start = text.rfind("\n", 0, start) + 1
    depth = quote_depth(text[line_start:start])[0]
    if not depth:
        return tex
    depth = min(depth, 100)
    pattern = _QUOTE_STRIP.get(depth)
    if pattern is None:
        pattern = _QUOTE_STRIP[depth] = re.compile(rf"\n(?:[ \t]*>[ \t]?){{1,{depth}}}")
    return pattern.sub("\n", tex)


# --- the stage ------------------------------------------------------------------------------

def find_formulas(body: SourceText, body_format: str, post_id: str,
                  diagnostics: Diagnostics | None = None) -> list[Formula]:
    formulas: list[Formula] = []
    report = diagnostics or Diagnostics()
    text = body.text
    for _, _, items in scan_runs(text, runs_for(text, body_format)):
        for item in items:
            if isinstance(item, Unclosed):
                report.warning(
                    "unclosed-math",
                    f"{item.delimiter} is never closed in its paragraph: the blog shows it, "
                    "and the rest of the paragraph, as plain text",
                    body.position(item.start))
            elif isinstance(item, GaveUp):
                report.error("scan-limit", "too many openers whose braces never balance in this paragraph: "
                             "from here on it is left as text, not searched for math", body.position(item.start))
            elif len(formulas) == MAX_FORMULAS:
                report.error("too-many-formulas", f"more than {MAX_FORMULAS:,} formulas in one post: "
                             "this one and those after it are left out", body.position(item.start))
                return formulas
            else:
                formulas.append(Formula(
                    tex=unquoted(text, item.start, item.tex) if body_format == "markdown" else item.tex,
                    display=item.display, delimiter=item.delimiter,
                    position=body.position(item.start), start=item.start, end=item.end,
                    post_id=post_id, index=len(formulas)))
    return formulas


def extract(posts: list[Post], diagnostics: Diagnostics) -> list[Post]:
    for post in posts:
        post.formulas = find_formulas(post.body, post.body_format, post.id, diagnostics)
    return posts
