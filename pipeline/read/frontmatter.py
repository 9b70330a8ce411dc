"""Markdown files with YAML front matter: the clean authoring form of a content repository.

    ---
    title: 最小熵原理（五）：“层层递进”之社区发现与聚类
    date: 2019-10-19
    id: "7006"
    series: 最小熵原理      # optional, else taken from the title
    part: 5                # optional
    tags: [无监督, 聚类]     # optional
    readers: 161264        # optional
    ---
    Markdown, with the math written raw: $x$, $$…$$, \\(…\\), \\[…\\], \\begin{equation}…

In the body `\\$` is a literal dollar; code spans and blocks hold no math.
"""

from __future__ import annotations

import datetime
import re

import yaml

from pipeline.diagnostics import Diagnostics
from pipeline.model import Post
from pipeline.read.listing import title_id
from pipeline.sourcetext import SourceFile

FORM = "markdown"
FRONT_MATTER = re.compile(r"\A---[ \t]*\n(?P<yaml>.*?\n)?---[ \t]*(\n|\Z)", re.S)


def detect(text: str) -> bool:
    return FRONT_MATTER.match(text) is not None


def read(source: SourceFile, diagnostics: Diagnostics) -> list[Post]:
    m = FRONT_MATTER.match(source.text)
    try:
        meta = yaml.safe_load(m.group("yaml") or "") or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = source.position(m.start("yaml") + source.line_starts[mark.line] - source.line_starts[0]
                                + mark.column) if mark else source.position(0)
        diagnostics.error("front-matter", f"front matter is not valid YAML: {getattr(e, 'problem', e)}", where)
        return []
    if not isinstance(meta, dict) or not str(meta.get("title") or "").strip():
        diagnostics.error("front-matter", "front matter needs at least a `title`", source.position(0))
        return []
    title = str(meta["title"]).strip()
    date = meta.get("date")
    if isinstance(date, (datetime.date, datetime.datetime)):
        date = date.strftime("%Y-%m-%d")
    elif date is not None:
        date = str(date)
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
            diagnostics.warning("front-matter", f"date {date!r} is not YYYY-MM-DD", source.position(0))
    tags = meta.get("tags") or []
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",") if t.strip()]
    part = meta.get("part")
    post = Post(
        id=str(meta.get("id") or title_id(title)), title=title, date=date,
        readers=int(meta["readers"]) if str(meta.get("readers", "")).isdigit() else None,
        body=source.slice(m.end(), len(source.text)), body_format="markdown", form=FORM,
        position=source.position(0), series=meta.get("series"),
        part=int(part) if part is not None and str(part).isdigit() else None,
        tags=[str(t) for t in tags], url=meta.get("url"))
    return [post]
