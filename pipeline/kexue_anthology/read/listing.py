"""Listing pages of the blog saved as text (the seeds): several posts, each a title line then
`By AUTHOR | YYYY-MM-DD | N位读者 | 引用` with the start of the post glued on after `引用`.

A post with no excerpt has the next post's title glued after its `引用` instead: that is the
case when its `By` line is followed at once by another `By` line.  `最近评论` closing the
page is chrome.
"""

from __future__ import annotations

import hashlib
import re

from kexue_anthology.core.diagnostics import Diagnostics
from kexue_anthology.core.model import Post
from kexue_anthology.core.sourcetext import SourceFile, SourceText
from kexue_anthology.read.series import normalize_title

FORM = "listing"
BY_LINE = re.compile(r"^By (?P<author>.+?) \| (?P<date>\d{4}-\d{2}-\d{2}) \| (?P<readers>\d{1,15})位读者 \| 引用")
CHROME_TAIL = "最近评论"


def detect(text: str) -> bool:
    return any(BY_LINE.match(line) for line in text.split("\n", 200)[:200])


def title_id(title: str) -> str:
    """A stable id for a post known only by its title (no archive id on listing pages)."""
    return "t" + hashlib.sha1(normalize_title(title).encode()).hexdigest()[:10]


def read(source: SourceFile, diagnostics: Diagnostics) -> list[Post]:
    text = source.text
    lines = []                                    # (start offset, line without newline)
    offset = 0
    for line in text.split("\n"):
        lines.append((offset, line))
        offset += len(line) + 1
    while lines and not lines[-1][1].strip():
        lines.pop()
    if lines and lines[-1][1].strip() == CHROME_TAIL:
        lines.pop()
    by = [i for i, (_, line) in enumerate(lines) if BY_LINE.match(line)]
    posts = []
    for k, i in enumerate(by):
        start, line = lines[i]
        m = BY_LINE.match(line)
        assert m is not None                      # `by` holds the lines it matches
        if i == 0:
            diagnostics.error("no-title", "a `By` line with no title line before it", source.position(start))
            continue
        prev_start, prev = lines[i - 1]
        if k > 0 and by[k - 1] == i - 1:          # the title is glued to the previous By line
            pm = BY_LINE.match(prev)
            assert pm is not None
            title_at = prev_start + pm.end()
            title = prev[pm.end():]
        else:
            title_at, title = prev_start, prev
        title = title.strip()
        glued_title_follows = i + 1 < len(lines) and (i + 1) in by
        if glued_title_follows:
            body = source.slice(start + m.end(), start + m.end())
        else:
            end_line = (by[k + 1] - 1) if k + 1 < len(by) else len(lines)
            body_end = lines[end_line - 1][0] + len(lines[end_line - 1][1]) if end_line > i else start + len(line)
            body = source.slice(start + m.end(), body_end)
        posts.append(Post(
            id=title_id(title), title=title, date=m.group("date"), readers=int(m.group("readers")),
            body=_strip(body), body_format="text", form=FORM, position=source.position(title_at)))
    if not by:
        diagnostics.error("no-posts", "a listing page with no `By … | 引用` line", source.position(0))
    return posts


def _strip(body: SourceText) -> SourceText:
    text = body.text
    a = len(text) - len(text.lstrip())
    b = len(text.rstrip())
    return body[a:b] if b > a else body[0:0]
