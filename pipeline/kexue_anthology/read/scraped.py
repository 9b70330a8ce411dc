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
from pathlib import Path

from kexue_anthology.check.extract import FormulaSpan, Item, markdown_runs, scan, scan_runs
from kexue_anthology.core.diagnostics import Diagnostics
from kexue_anthology.core.model import Post
from kexue_anthology.core.sourcetext import SourceFile, SourceText, TextBuilder
from kexue_anthology.read import listing, plaintext
from kexue_anthology.read.markup import unescape
from kexue_anthology.read.plaintext import CITATION

FORM = "scraped-markdown"
HEADING = re.compile(r"^# \[(?P<title>.+)\]\((?P<url>https?://kexue\.fm/archives/(?P<id>\d+))\)[ \t]*$", re.M)
# The by-line's parts are short: bounded repeats keep a search over a long line of spaces linear.
BY = re.compile(r"\s{0,200}By\s{0,40}(?P<author>[^|\\\n]{1,200}?)\s{0,40}\\?\|\s{0,40}(?P<date>\d{4}-\d{2}-\d{2})"
                r"\s{0,40}\\?\|\s{0,40}(?P<readers>\d{1,15})位读者\s{0,40}\\?\|:?[ \t]*\n?")
END_MARKERS = ("转载到请包括本文地址", "如果您需要引用本文", "@online{kexuefm-")
ANCHOR = re.compile(r"(?<![ \t])[ \t]*\[\\?#\]\(")


ESCAPED_BY = re.compile(r"^By\s{0,40}[^|\\\n]{1,200}?\s{0,40}\\\|", re.M)


# A scraped article that lost its heading and By line is known by the scraper's escapes: TeX
# command names with the doubled backslash (`\\frac`), at least HEADLESS_MIN of them and at
# least HEADLESS_SHARE of all (`\frac` written raw, as page text and authored posts have it).
# Raw posts have next to none (only a row break before a word, `\\pi`); scrapes next to all.
_DOUBLED = re.compile(r"(?<!\\)\\\\[A-Za-z]{2,}")
_SINGLE = re.compile(r"(?<!\\)\\[A-Za-z]{2,}")
HEADLESS_MIN = 5
HEADLESS_SHARE = 0.8
# The page's breadcrumb, ending in the title: `[首页](https://kexue.fm) [分类](…) TITLE`
BREADCRUMB = re.compile(r"^\[首页\]\(https?://kexue\.fm/?\)(?:[ \t]{0,40}\[[^\]\n]{0,200}\]\([^)\s]{0,500}\))*"
                        r"[ \t]{0,40}(?P<title>[^\n]{1,1000}?)[ \t]*$", re.MULTILINE)
FILE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# The line under the article: `分类： [信息时代](…)    标签： [attention](https://kexue.fm/tag/attention/), …`
TAG_LINE = re.compile(r"^分类：[^\n]{0,2000}?标签：(?P<tags>[^\n]{0,4000})$", re.MULTILINE)
TAG_NAME = re.compile(r"\[([^\]\n]{1,100})\]\(https?://(?:www\.)?kexue\.fm/tag/")


def detect(text: str) -> bool:
    return HEADING.search(text) is not None or ESCAPED_BY.search(text) is not None or headless(text)


def headless(text: str) -> bool:
    """Whether `text` is a scraped article without its heading and By line: Markdown escapes
    on its TeX (see HEADLESS_MIN); a listing page is never one."""
    doubled = sum(1 for _ in _DOUBLED.finditer(text))
    if doubled < HEADLESS_MIN:
        return False
    single = sum(1 for _ in _SINGLE.finditer(text))
    return doubled >= HEADLESS_SHARE * (doubled + single) and not listing.detect(text)


def read(source: SourceFile, diagnostics: Diagnostics) -> list[Post]:
    """The title and id come from the heading; a scrape that lost its heading has them in
    the citation block at the end."""
    text = source.text
    h = HEADING.search(text)
    if h:
        by = BY.match(text, h.end())
    else:
        escaped_by = ESCAPED_BY.search(text)
        if not escaped_by:
            return _read_headless(source, diagnostics)
        by = BY.search(text, escaped_by.start())
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
    end = _article_end(text, start)
    escaped = _without_anchors(source.slice(start, end))
    title = unescape(source.slice(*title_span), markdown=True).text.strip()
    return [Post(id=post_id, title=title, date=by.group("date"), readers=int(by.group("readers")),
                 body=authoring_body(escaped), body_format="markdown", form=FORM,
                 position=source.position(title_span[0]), url=url, tags=_tags(text, start))]


def _tags(text: str, start: int) -> list[str]:
    """The blog's tags of the post, from the line under the article (none when it is gone)."""
    line = TAG_LINE.search(text, start)
    names = TAG_NAME.findall(line.group("tags")) if line else []
    return list(dict.fromkeys(re.sub(r"\\([^\w\s])", r"\1", name).strip() for name in names if name.strip()))


def _article_end(text: str, start: int) -> int:
    """Where the article that starts at `start` ends: the line before the first of the page's
    END_MARKERS (the comments, the citation), else the end of the text."""
    for marker in END_MARKERS:
        i = text.find(marker, start)
        if i >= 0:
            return text.rfind("\n", start, i) + 1 or start
    return len(text)


def _read_headless(source: SourceFile, diagnostics: Diagnostics) -> list[Post]:
    """A scraped article without `# [title](…)` and `By` line, read as the scraped form is (its
    escapes undone).  Title, id and date come from the citation block when there is one; else
    the title from the page's breadcrumb line or the file name, the id from the file name."""
    text = source.text
    c = CITATION.search(text)
    crumb = BREADCRUMB.search(text)
    start = plaintext.body_start(text, crumb.end() + 1 if crumb else 0)
    end = _article_end(text, start)
    stem = Path(source.path).stem
    date = None
    if c:
        title_span, post_id, whence = c.span("title"), c.group("id"), "the citation block"
        date = plaintext.citation_date(source, c, end, diagnostics)
    elif crumb:
        title_span, whence = crumb.span("title"), "the breadcrumb line"
    else:
        title_span, whence = None, "the file name"
    if not c:
        post_id = stem if FILE_ID.fullmatch(stem) else listing.title_id(stem)
    title = unescape(source.slice(*title_span), markdown=True).text.strip() if title_span else stem
    diagnostics.warning("no-heading", "a scraped article without its `# [title](…)` heading and `By` line "
                        f"(known by its Markdown escapes): title from {whence}",
                        source.position(start))
    escaped = _without_anchors(source.slice(start, end))
    body = authoring_body(escaped)
    body = body[: len(body.text.rstrip())]
    return [Post(id=post_id, title=title or stem, date=date, readers=None, body=body, body_format="markdown",
                 form=FORM, position=source.position(title_span[0] if title_span else start),
                 url=f"https://kexue.fm/archives/{post_id}" if post_id.isdigit() else None, tags=_tags(text, start))]


def _without_anchors(text: SourceText) -> SourceText:
    """Without the `[#](…)` anchor ending a heading line: from the first `[#](` of a line that
    ends with `)` to the end of the line, spaces before it included.  A heading the anchor marks
    that the scrape glued to the text before it (`…更精准## 小结[#](#小结)`, a quote's line, the
    By line) is put on a line of its own after a blank line, the break standing for its `#`.
    Line by line, since a regular expression for it re-reads a long line at every `[#](`."""
    out = TextBuilder(text.source)
    pos = 0
    for a, b, insert in _anchors(text.text):
        out.copy(text, pos, a)
        if insert:
            out.put(insert, text.offsets[a])
        pos = b
    out.copy(text, pos, len(text))
    return out.build()


# The `#` run of a heading in a line that ends with the blog's anchor; not one escaped (`\#`),
# nor part of a longer run.
ANCHORED_MARK = re.compile(r"(?<![#\\])#{1,6}[ \t]+(?=[^\s#])")


def _anchors(s: str) -> list[tuple[int, int, str]]:
    """(start, end, text put there) of each edit: an anchor dropped, a glued heading broken off."""
    found = []
    start = 0
    for line in s.split("\n"):
        end = start + len(line)
        body = line.rstrip(" \t").removesuffix("\\")     # some scrapes end it with a hard break
        m = ANCHOR.search(line) if body.endswith(")") else None
        if m and m.end() < len(body):
            glued = _glued_mark(line, m.start())
            if glued is not None:
                found.append((start + glued, start + glued, "\n\n"))
            found.append((start + m.start(), end, ""))
        start = end + 1
    return found


def _glued_mark(line: str, anchor: int) -> int | None:
    """Where the heading the anchor at `anchor` ends starts in `line`, when text comes before
    it there: the last `#` run before the anchor outside `$…$` and code (a `#` of TeX is `\\#`
    in a scrape, but a formula may hold `##`); None when only quote or list markers come
    before it (a heading where Markdown has it)."""
    head = line[:anchor]
    last, pos, dollars, ticks = None, 0, 0, 0
    for m in ANCHORED_MARK.finditer(head):
        dollars += len(_DOLLAR.findall(head, pos, m.start()))
        ticks += head.count("`", pos, m.start())
        pos = m.start()
        if dollars % 2 == 0 and ticks % 2 == 0:
            last = m.start()
    return None if last is None or _MARKERS_ONLY.fullmatch(head, 0, last) else last


_DOLLAR = re.compile(r"(?<!\\)\$")
_MARKERS_ONLY = re.compile(r"(?:[ \t]*(?:>|[-+*]|\d{1,9}[.)])(?=[ \t]|$))*[ \t]*")


def authoring_body(escaped: SourceText) -> SourceText:
    """Markdown prose as the scraper wrote it, each formula (found in the unescaped text as
    tex2jax would) written back raw; literal `[ ] ( )` and dollars made unambiguous."""
    out = TextBuilder(escaped.source)
    cursor = 0
    plains = {}

    def scan_run(a: int, b: int) -> list[Item]:
        plains[a, b] = unescape(escaped[a:b], markdown=True)
        return list(scan(plains[a, b].text))

    for a, b, items in scan_runs(escaped.text, markdown_runs(escaped.text), scan_run):
        out.copy(escaped, cursor, a)
        plain = plains[a, b]
        pos = a
        for span in items:
            if not isinstance(span, FormulaSpan):
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


# A heading the scraper glued to the end of the paragraph before it (`…来做。### 标题`): a run of
# 1–6 `#` and a space, right after the punctuation that ends a sentence.  `C# `, `第#1`, `\#`,
# URLs (`…/a#b`) and `#` in formulas or code are never this.
GLUED_HEADING = re.compile(r"(?<=[。！？；：…」』”’）】.!?:;)])#{1,6}[ \t]+(?=[^\s#])")
# A block-quote line glued the same way: `地址为：> 链接…` after a full-width sentence end, or right
# after a link (`](…)> 提取码`, the link ending the quote's line before).
GLUED_QUOTE = re.compile(r"(?:(?<=[。！？；：])|\]\([^()\s]{1,2000}\))(?P<marker>>)[ \t](?=\S)")
# A quote's line marker the scraper put inside a link's text, where the line broke: `[> Google Drive`.
LINK_MARKER = re.compile(r"(?<=\[)>[ \t](?=\S)")
# Python's prompt starting a quoted line (`> >>> f(x)`, escaped as `> >>\> f(x)` by some scrapes)
# is text on the page, not three more quote levels.
PROMPT = re.compile(r"^[ \t]{0,3}>[ \t]?(?=(?:>>>|>>\\>)[ \t])", re.MULTILINE)
PROMPT_AHEAD = re.compile(r"(?:>>>|>>\\>)[ \t]")


def _prose(out: TextBuilder, text: SourceText, a: int, b: int) -> None:
    """Prose between formulas: `\\[ \\] \\( \\)` unescaped, `$` escaped, a heading or quote line
    glued to the sentence before it put on a line of its own, a quote marker inside a link's
    text dropped, and a Python prompt in a quote escaped."""
    s = text.text
    breaks = {m.start() for m in GLUED_HEADING.finditer(s, a, b)}
    drops = {m.start(): m.end() for m in LINK_MARKER.finditer(s, a, b)}
    escapes = {m.end() for m in PROMPT.finditer(s, a, b)}
    for m in GLUED_QUOTE.finditer(s, a, b):
        breaks.add(m.start("marker"))
        if PROMPT_AHEAD.match(s, m.end(), b):
            escapes.add(m.end())
    i, run = a, a
    while i < b:
        ch = s[i]
        if i in breaks:
            out.copy(text, run, i)
            out.put("\n", text.offsets[i])
            run = i
        elif i in drops:
            out.copy(text, run, i)
            i = run = drops[i]
            continue
        elif i in escapes:
            out.copy(text, run, i)
            out.put("\\", text.offsets[i])
            run = i
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
