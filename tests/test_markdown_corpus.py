"""The corpus read as the blog shows it (issue 11): every heading line of a scraped post is a
heading on its page — also one the scraper glued to the sentence before it — no `##` is left in
the text, no formula keeps block-quote markers, and no backslash run is read as `\\=` or `\\-`."""

from __future__ import annotations

import html
import re

import pytest
from kexue_anthology.check.extract import extract
from kexue_anthology.core.diagnostics import Diagnostics
from kexue_anthology.read import read

pytestmark = pytest.mark.corpus

HEADING_LINE = re.compile(r"^ {0,3}#{1,6}[ \t]+\S", re.MULTILINE)
GLUED_HEADING = re.compile(r"[。！？；：.!?）)]#{1,6}[ \t]+[^\s#]")
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
PAGE_HEADING = re.compile(r"<h[1-6][\s>]")
HIDDEN = re.compile(r"<(pre|code|math|svg|script|style)\b.*?</\1>", re.DOTALL)


@pytest.fixture(scope="module")
def corpus_posts(corpus):
    d = Diagnostics()
    return extract(read([str(corpus)], d), d)


@pytest.fixture(scope="module")
def site(corpus_site):
    work, status, stdout, stderr = corpus_site
    assert status in (0, 1), stdout[-2000:] + stderr[-2000:]
    return work / "site"


def without_code(source: str) -> str:
    """The lines of a Markdown text outside fenced code blocks; a fence never closed is text
    (as pandoc reads it)."""
    lines = source.split("\n")
    keep = [True] * len(lines)
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m:
            for j in range(i + 1, len(lines)):
                c = FENCE.match(lines[j])
                if c and c.group(1)[0] == m.group(1)[0] and len(c.group(1)) >= len(m.group(1)) and not c.group(2).strip():
                    keep[i:j + 1] = [False] * (j + 1 - i)
                    i = j
                    break
        i += 1
    return "\n".join(line for line, k in zip(lines, keep, strict=True) if k)


def source_headings(post) -> int:
    """Heading lines of the post's article in its file, and headings glued to a sentence; in page
    text, the `标题 # ` runs the reader found (tests/test_headings.py)."""
    if post.body_format != "markdown" or not post.body.offsets:
        return len(post.headings)
    text = without_code(post.body.source.text[post.body.offsets[0]:post.body.offsets[-1] + 1])
    return len(HEADING_LINE.findall(text)) + len(GLUED_HEADING.findall(text))


def page_body(site, post) -> str:
    page = (site / "posts" / f"{post.id}.html").read_text(encoding="utf-8")
    return page[page.index('<div class="post-body">'):page.index("</article>")]


def test_every_heading_line_is_a_heading_on_its_page(corpus_posts, site):
    counts = {post.id: (source_headings(post), len(PAGE_HEADING.findall(page_body(site, post))))
              for post in corpus_posts}
    assert {pid: c for pid, c in counts.items() if c[0] != c[1]} == {}
    assert sum(s for s, _ in counts.values()) > 500


def test_no_heading_marker_is_left_in_the_text(corpus_posts, site):
    glued = {}
    for post in corpus_posts:
        text = html.unescape(re.sub(r"<[^>]+>", "", HIDDEN.sub("", page_body(site, post))))
        found = re.findall(r".{0,10}(?<![\s#&])#{2,6} .{0,10}", text)
        if found:
            glued[post.id] = found
    assert glued == {}


def test_no_formula_keeps_quote_markers_or_a_broken_row_break(corpus_posts):
    quoted, broken = [], []
    for post in corpus_posts:
        for f in post.formulas:
            if re.search(r"\n[ \t]*>", f.tex):
                quoted.append((post.id, f.position.line))
            if re.search(r"(?<!\\)(?:\\\\)*\\[=\-]", f.tex):
                broken.append((post.id, f.position.line))
    assert quoted == [] and broken == []
