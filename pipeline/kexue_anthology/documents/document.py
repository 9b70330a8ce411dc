"""The document stage: each post's text as a pandoc document (pandoc's JSON AST).

Every formula found by `extract` stands in its place as a `Span` with class `math` and
`data-formula` = its index in the post, around a pandoc `Math` node, so later stages find
the formula's verdict, numbers and renders.  pandoc never parses the math itself: each formula
goes in as a placeholder word and comes back as a node.  CJK line breaks are kept without
inserted spaces (`east_asian_line_breaks`).  pandoc's answer is cached by the text it reads, and
the document with the formulas in place by that and the formulas, so that a warm build neither
runs pandoc nor walks an AST here.

No post can take the build down: a post nested too deeply for pandoc (found by a cheap scan of
its text before pandoc runs, or in pandoc's answer), one pandoc fails on or runs out of its
limits on (kexue_anthology.documents.pandoc), or one our own code fails on, is reported (`too-deep`,
`document-failed`) and given the `fallback` document: its text as plain paragraphs with every
formula in place.  The AST is read and written through kexue_anthology.documents.pandoc_ast, whose walk keeps its
own stack, so no AST makes Python recurse.
"""

from __future__ import annotations

import re

from kexue_anthology.core.cache import Cache, key
from kexue_anthology.core.diagnostics import Diagnostics
from kexue_anthology.core.model import Post
from kexue_anthology.core.sourcetext import Position
from kexue_anthology.documents import pandoc
from kexue_anthology.documents.markdown import markdown_body
from kexue_anthology.documents.pandoc_ast import Attr, Document, Math, Node, Para, Span, Str, element, replace, tag

READER = ("markdown-tex_math_dollars-tex_math_single_backslash-tex_math_double_backslash"
          "-raw_tex-raw_html-smart-auto_identifiers-superscript-subscript"
          "-strikeout+east_asian_line_breaks"
          # Scrapes lost the blank line before many headings and quotes (the blog's HTML had
          # them as elements): read them as headings and quotes all the same.
          "-blank_before_header-blank_before_blockquote")
PANDOC_ARGS = ["--wrap=none"]
# What the scan before pandoc lets through.  pandoc's Markdown reader takes time exponential in
# the brackets open at once (16 take 7 s, 20 more than a minute); the corpus opens at most 5.
# Block quotes and lists nest at most 4 deep in the corpus; past 50 a post is refused before
# pandoc runs (nesting the scan does not see is caught by kexue_anthology.documents.pandoc.DEPTH_LIMIT).
BRACKET_LIMIT = 12
NESTING_LIMIT = 50
# Backtick runs of many different lengths in one paragraph cost pandoc time rising with the
# fourth power of their number (60 take 0.6 s, 300 six minutes); real posts use at most 4.
BACKTICK_LIMIT = 32
FALLBACK_NOTE = "the post is shown as plain paragraphs, its formulas in place"

# a bracket, an escaped character, or the end of a paragraph; page text is escaped for pandoc
# (its backslashes are text) and each of its lines is a paragraph
_BRACKETS = {"markdown": re.compile(r"\\.|[\[\]]|\n[ \t]*\n"), "text": re.compile(r"[\[\]]|\n")}
_LINE_START = re.compile(r"^([ \t]*)((?:(?:>|(?:[-+*]|\d{1,9}[.)])(?=[ \t]|$))[ \t]*)*)", re.M)
_MARKER = re.compile(r">|[-+*]|\d{1,9}[.)]")


def placeholder_prefix(text: str) -> str:
    n = 0
    while f"KXMATH{n}Z" in text:
        n += 1
    return f"KXMATH{n}Z"


def build(post: Post, cache: Cache | None = None, diagnostics: Diagnostics | None = None) -> Document:
    """The post's AST; when it cannot be had from pandoc, the failure is reported into
    `diagnostics` and the post gets its `fallback` document."""
    ast, _ = build_lazily(post, cache, diagnostics, read=True)
    assert ast is not None
    return ast


def build_lazily(post: Post, cache: Cache | None = None, diagnostics: Diagnostics | None = None,
                 read: bool = False) -> tuple[Document | None, str | None]:
    """`build`, and the key the document is cached under (None: it is not: a `fallback`, or no
    cache).  A document the cache holds is not read unless `read` (None in its place): a
    rebuild reads only those it shows anew (kexue_anthology.documents.lazy)."""
    pandoc.binary()             # no pandoc at all is a setup problem, not this post's
    try:
        source = _Source(post)
        if cache is not None and not read and cache.has(source.placed):
            return None, source.placed
        done = cache.get(source.placed) if cache else None
        if isinstance(done, dict) and isinstance(done.get("blocks"), list):
            return done, source.placed   # converted before, so neither too deep nor failed: no scan again
        deep = too_deep(post)
        if not deep:
            return _convert(post, source, cache), source.placed if cache and cache.root else None
        offset, message = deep
        _report(diagnostics, "too-deep", message, post.body.position(offset))
    except pandoc.PandocError as e:
        _report(diagnostics, e.code, str(e), post.position)
    except Exception as e:      # one post's failure never stops the others
        _report(diagnostics, "document-failed", f"the post could not be converted ({type(e).__name__}: {e})",
                post.position)
    return fallback(post), None


def _report(diagnostics: Diagnostics | None, code: str, message: str, position: Position) -> None:
    if diagnostics is not None:
        diagnostics.error(code, f"{message}: {FALLBACK_NOTE}", position)


class _Source:
    """What pandoc reads of a post (each formula a placeholder word), and the cache keys of
    its answer (`pandoc`: by that text) and of the AST with the formulas in place (`placed`:
    also by the formulas, and by the limits of the scan before pandoc, which it passed)."""

    def __init__(self, post: Post) -> None:
        self.prefix = placeholder_prefix(post.body.text)
        self.text = markdown_body(post, lambda f: f"{self.prefix}{f.index}Q")
        self.pandoc = key("document", READER, pandoc.version(), pandoc.DEPTH_LIMIT, self.text)
        self.placed = key("document-placed", self.pandoc, post.body_format, BRACKET_LIMIT, NESTING_LIMIT,
                          BACKTICK_LIMIT, [(f.display, f.tex) for f in post.formulas])


def _convert(post: Post, source: _Source, cache: Cache | None) -> Document:
    """pandoc's AST of the post with its formulas in place; pandoc's answer and the AST with
    the formulas in place are both cached (a warm build walks no AST here)."""
    ast = cache.get(source.pandoc) if cache else None
    if ast is None:
        ast = pandoc.to_ast(source.text, READER, PANDOC_ARGS)
        if cache:
            cache.put(source.pandoc, ast)
    _replace(ast["blocks"], re.compile(re.escape(source.prefix) + r"(\d+)Q"), post)
    if cache:
        cache.put(source.placed, ast)
    return ast


# --- the scan before pandoc ----------------------------------------------------------------------
def too_deep(post: Post) -> tuple[int, str] | None:
    """Where the post's text nests deeper than pandoc may be given, and how: (offset in the
    body, message), or None.  Linear in the text; the formulas, which pandoc never sees, are
    left out."""
    text = _without_formulas(post)
    found = _bracket_depth(text, _BRACKETS["markdown" if post.body_format == "markdown" else "text"])
    if found is None and post.body_format == "markdown":     # page text has its markers escaped
        found = _block_depth(text) or _backtick_runs(text)
    return found


def _without_formulas(post: Post) -> str:
    text, parts, pos = post.body.text, [], 0
    for f in post.formulas:
        parts += [text[pos:f.start], re.sub(r"[^\n]", "x", text[f.start:f.end])]
        pos = f.end
    return "".join(parts) + text[pos:]


def _bracket_depth(text: str, tokens: re.Pattern[str]) -> tuple[int, str] | None:
    depth = 0
    for m in tokens.finditer(text):
        token = m.group()
        if token == "[":
            depth += 1
            if depth > BRACKET_LIMIT:
                return m.start(), (f"more than {BRACKET_LIMIT} brackets `[` open at once (pandoc's time "
                                   "doubles with each)")
        elif token == "]":
            depth = max(depth - 1, 0)
        elif token[0] == "\n":
            depth = 0
    return None


_TICKS = re.compile(r"`+|\n[ \t]*\n")


def _backtick_runs(text: str) -> tuple[int, str] | None:
    lengths: set[int] = set()
    for m in _TICKS.finditer(text):
        if m.group()[0] == "\n":
            lengths.clear()
            continue
        lengths.add(len(m.group()))
        if len(lengths) > BACKTICK_LIMIT:
            return m.start(), (f"backtick runs of more than {BACKTICK_LIMIT} different lengths in one "
                               "paragraph (pandoc's time rises with the fourth power of their number)")
    return None


def _block_depth(text: str) -> tuple[int, str] | None:
    for m in _LINE_START.finditer(text):
        indent = len(m.group(1).expandtabs(4)) if m.end(1) < len(text) and text[m.end(1)] != "\n" else 0
        depth = len(_MARKER.findall(m.group(2))) + indent // 2
        if depth > NESTING_LIMIT:
            return m.start(), f"block quotes or lists nested more than {NESTING_LIMIT} deep"
    return None


# --- the document without pandoc ----------------------------------------------------------------
def fallback(post: Post) -> Document:
    """The post without pandoc: its text as plain paragraphs (split at blank lines; in page
    text every line is one) of words, spaces and line breaks, each formula in place as `build`
    places it.  Markdown markup stays as written; nothing nests."""
    breaks = re.compile(r"\n[ \t]*\n\s*" if post.body_format == "markdown" else r"\n\s*")
    text, pos = post.body.text, 0
    paragraphs: list[list[Node]] = [[]]
    for f in [*post.formulas, None]:
        pieces = breaks.split(text[pos:f.start if f else len(text)])
        paragraphs[-1].extend(_words(pieces[0]))
        paragraphs.extend(_words(piece) for piece in pieces[1:])
        if f:
            paragraphs[-1].append(_math_node(post, f.index))
            pos = f.end
    blocks = [Para.new(inlines) for inlines in map(_trim, paragraphs) if inlines]
    return {"pandoc-api-version": pandoc.api_version(), "meta": {}, "blocks": blocks}


def _words(text: str) -> list[Node]:
    return [Str.new(w) if not w.isspace() else element("SoftBreak" if "\n" in w else "Space")
            for w in re.findall(r"\s+|\S+", text)]


def _trim(inlines: list[Node]) -> list[Node]:
    start, end = 0, len(inlines)
    while start < end and tag(inlines[start]) in ("Space", "SoftBreak"):
        start += 1
    while end > start and tag(inlines[end - 1]) in ("Space", "SoftBreak"):
        end -= 1
    return inlines[start:end]


# --- formulas in place ----------------------------------------------------------------------------
def _math_node(post: Post, index: int) -> Node:
    f = post.formulas[index]
    return Span.new(Attr.new("", ["math"], [("data-formula", str(index))]), [Math.new(f.display, f.tex)])


def _replace(blocks: list[Node], pattern: re.Pattern[str], post: Post) -> None:
    """Each placeholder word in a Str becomes its formula's node, in place."""
    def split(node: Node) -> list[Node] | None:
        word = Str.of(node)
        return _split_str(word.text, pattern, post) if word and pattern.search(word.text) else None
    replace(blocks, split)


def _split_str(text: str, pattern: re.Pattern[str], post: Post) -> list[Node]:
    out: list[Node] = []
    pos = 0
    for m in pattern.finditer(text):
        if m.start() > pos:
            out.append(Str.new(text[pos:m.start()]))
        out.append(_math_node(post, int(m.group(1))))
        pos = m.end()
    if pos < len(text):
        out.append(Str.new(text[pos:]))
    return out
