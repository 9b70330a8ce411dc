"""Full posts as a web scraper saved them in Markdown (`../shared/corpus`, first shape).

The site's menus, sidebars and comments surround the article, which starts at
`# [TITLE](https://kexue.fm/archives/ID)` and a `By 苏剑林 \\| DATE \\| N位读者\\|` line and ends
before the `转载到请包括本文地址` box.  The scraper escaped the text for Markdown, math included
(`\\\\frac`, `\\_`): math is found the way tex2jax finds it on the page, in the unescaped text,
and the post's body keeps the Markdown prose with each formula written back raw.
"""

from __future__ import annotations

import bisect
import re

from pipeline.diagnostics import Diagnostics
from pipeline.extract import markdown_runs, scan, scan_runs, Span
from pipeline.model import Post
from pipeline.read.markup import unescape
from pipeline.read.plaintext import CITATION
from pipeline.sourcetext import SourceFile, SourceText, TextBuilder

FORM = "scraped-markdown"
HEADING = re.compile(r"^# \[(?P<title>.+)\]\((?P<url>https?://kexue\.fm/archives/(?P<id>\d+))\)[ \t]*$", re.M)
# The by-line's parts are short: bounded repeats keep a search over a long line of spaces linear.
BY = re.compile(r"\s{0,200}By\s{0,40}(?P<author>[^|\\\n]{1,200}?)\s{0,40}\\?\|\s{0,40}(?P<date>\d{4}-\d{2}-\d{2})"
                r"\s{0,40}\\?\|\s{0,40}(?P<readers>\d{1,15})位读者\s{0,40}\\?\|:?[ \t]*\n?")
END_MARKERS = ("转载到请包括本文地址", "如果您需要引用本文", "@online{kexuefm-")
ANCHOR = re.compile(r"(?<![ \t])[ \t]*\[\\?#\]\(")


ESCAPED_BY = re.compile(r"^By\s{0,40}[^|\\\n]{1,200}?\s{0,40}\\\|", re.M)


def detect(text: str) -> bool:
    return HEADING.search(text) is not None or ESCAPED_BY.search(text) is not None


def read(source: SourceFile, diagnostics: Diagnostics) -> list[Post]:
    """The title and id come from the heading; a scrape that lost its heading has them in
    the citation block at the end."""
    text = source.text
    h = HEADING.search(text)
    by = BY.match(text, h.end()) if h else BY.search(text, ESCAPED_BY.search(text).start())
    if not by:
        diagnostics.error("no-byline", "no `By AUTHOR | DATE | N位读者` line under the title",
                          source.position(h.end() + 1 if h else 0))
        return []
    if h:
        title_span, post_id, url = h.span("title"), h.group("id"), h.group("url")
    else:
        c = CITATION.search(text)
        if not c:
            diagnostics.error("no-title", "no `# [title](…/archives/ID)` heading and no "
                              "`@online{kexuefm-ID, title={…}}` citation", source.position(by.start()))
            return []
        title_span, post_id = c.span("title"), c.group("id")
        url = f"https://kexue.fm/archives/{post_id}"
    start = by.end()
    end = len(text)
    for marker in END_MARKERS:
        i = text.find(marker, start)
        if i >= 0:
            end = text.rfind("\n", start, i) + 1 or start
            break
    escaped = _without_anchors(source.slice(start, end))
    title = unescape(source.slice(*title_span), markdown=True).text.strip()
    return [Post(id=post_id, title=title, date=by.group("date"), readers=int(by.group("readers")),
                 body=authoring_body(escaped), body_format="markdown", form=FORM,
                 position=source.position(title_span[0]), url=url)]


def _without_anchors(text: SourceText) -> SourceText:
    """Without the `[#](…)` anchor ending a heading line: from the first `[#](` of a line that
    ends with `)` to the end of the line, spaces before it included.  Line by line, since a
    regular expression for it re-reads a long line at every `[#](`."""
    out = TextBuilder(text.source)
    pos = 0
    for a, b in _anchors(text.text):
        out.copy(text, pos, a)
        pos = b
    out.copy(text, pos, len(text))
    return out.build()


def _anchors(s: str) -> list[tuple[int, int]]:
    found = []
    start = 0
    for line in s.split("\n"):
        end = start + len(line)
        body = line.rstrip(" \t").removesuffix("\\")     # some scrapes end it with a hard break
        m = ANCHOR.search(line) if body.endswith(")") else None
        if m and m.end() < len(body):
            found.append((start + m.start(), end))
        start = end + 1
    return found


def authoring_body(escaped: SourceText) -> SourceText:
    """Markdown prose as the scraper wrote it, each formula (found in the unescaped text as
    tex2jax would) written back raw; literal `[ ] ( )` and dollars made unambiguous."""
    out = TextBuilder(escaped.source)
    cursor = 0
    plains = {}

    def scan_run(a: int, b: int) -> list:
        plains[a, b] = unescape(escaped[a:b], markdown=True)
        return list(scan(plains[a, b].text))

    for a, b, items in scan_runs(escaped.text, markdown_runs(escaped.text), scan_run):
        out.copy(escaped, cursor, a)
        plain = plains[a, b]
        pos = a
        for span in items:
            if not isinstance(span, Span):
                continue
            s = bisect.bisect_left(escaped.offsets, plain.offsets[span.start], a, b)
            e = b if span.end >= len(plain) else bisect.bisect_left(escaped.offsets, plain.offsets[span.end], a, b)
            _prose(out, escaped, pos, s)
            out.copy(plain, span.start, span.end)
            pos = e
        _prose(out, escaped, pos, b)
        cursor = b
    out.copy(escaped, cursor, len(escaped))
    return out.build()


def _prose(out: TextBuilder, text: SourceText, a: int, b: int) -> None:
    s = text.text
    i, run = a, a
    while i < b:
        ch = s[i]
        if ch == "\\" and i + 1 < b:
            nxt = s[i + 1]
            if nxt in "[]()":
                out.copy(text, run, i)
                out.copy(text, i + 1, i + 2)
                i += 2
                run = i
                continue
            i += 2
            continue
        if ch == "$":
            out.copy(text, run, i)
            out.put("\\$", text.offsets[i])
            run = i + 1
        i += 1
    out.copy(text, run, b)
