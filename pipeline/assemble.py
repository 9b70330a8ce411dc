"""The assemble stage: the collection the emitters write, gathered and checked before anything is.

    Collection.posts    by date, oldest first (undated last, by title)
    Collection.series   each series with its parts in order; posts of no series stand alone
    bodies()            each post's text as HTML, formulas in place (pipeline.mathhtml)
    Collection.diagnostics  where a post pandoc fails on is reported (it is shown as plain text)

Links are settled here for every output alike: a link to another post of the collection
(`https://kexue.fm/archives/ID`) goes to that post wherever the emitter puts it; links whose
scheme is not http(s)/mailto (`javascript:` …) lose their target; images are not fetched (the
posts' images live on the web) but shown as a captioned placeholder with their address.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote, unquote
from dataclasses import dataclass, field
from typing import Callable, Optional

from pipeline import document, pandoc
from pipeline.cache import Cache
from pipeline.diagnostics import Diagnostics
from pipeline.mathhtml import MathHTML
from pipeline.model import Post
from pipeline.number import PostNumbers, id_part
from pipeline.render import WEB_URL, Render

OTHERS = "其他文章"          # the part of a book that holds the posts of no series
ARCHIVE = re.compile(r"^https?://(?:www\.)?(?:kexue\.fm|spaces\.ac\.cn)/archives/(\d+)/?(#.*)?$")
HTML_ARGS = ["--wrap=none", "--syntax-highlighting=none"]


@dataclass
class Series:
    name: str
    parts: list[Post]


@dataclass
class Collection:
    title: str
    posts: list[Post]
    series: list[Series]
    numbers: dict[str, PostNumbers]
    renders: dict[tuple[str, int], Render]
    asts: dict[str, dict] = field(default_factory=dict)
    ids: dict[str, set[str]] = field(default_factory=dict)     # heading and equation ids per post
    diagnostics: Diagnostics = field(default_factory=Diagnostics)

    def series_of(self, post: Post) -> Optional[Series]:
        return next((s for s in self.series if post in s.parts), None)

    def neighbours(self, post: Post) -> tuple[Optional[Post], Optional[Post]]:
        series = self.series_of(post)
        if not series:
            return None, None
        i = series.parts.index(post)
        return (series.parts[i - 1] if i > 0 else None,
                series.parts[i + 1] if i + 1 < len(series.parts) else None)

    def by_id(self, post_id: str) -> Optional[Post]:
        return next((p for p in self.posts if p.id == post_id), None)

    def standalone(self) -> list[Post]:
        return [p for p in self.posts if not self.series_of(p)]

    def groups(self) -> list[tuple[Optional[str], list[Post]]]:
        """The parts of a book: one per series, then 「其他文章」 by date; a book of one series
        (or of no series) is a single unnamed part."""
        if len(self.series) == 1 and not self.standalone():
            return [(None, self.series[0].parts)]
        if not self.series:
            return [(None, self.posts)]
        groups: list[tuple[Optional[str], list[Post]]] = [(s.name, s.parts) for s in self.series]
        if self.standalone():
            groups.append((OTHERS, self.standalone()))
        return groups


def post_anchor(post: Post) -> str:
    """The id of a post's title in a book that holds many posts."""
    return f"post-{id_part(post.id)}"


def date_key(post: Post):
    return (post.date is None, post.date or "", post.title)


def assemble(posts: list[Post], numbers: dict[str, PostNumbers], renders: dict[tuple[str, int], Render],
             title: str = "科学空间文集", cache: Optional[Cache] = None,
             diagnostics: Optional[Diagnostics] = None) -> Collection:
    """The collection; a post pandoc cannot read is reported into `diagnostics` and goes in
    as its plain text (pipeline.document)."""
    diagnostics = diagnostics if diagnostics is not None else Diagnostics()
    ordered = sorted(posts, key=date_key)
    groups: dict[str, list[Post]] = {}
    for post in ordered:
        if post.series:
            groups.setdefault(post.series, []).append(post)
    series = [Series(name, sorted(parts, key=lambda p: (p.part or 0, date_key(p))))
              for name, parts in groups.items()]
    series.sort(key=lambda s: date_key(s.parts[0]))
    asts = {post.id: document.build(post, cache, diagnostics) for post in ordered}
    ids = {post.id: _heading_ids(asts[post.id]) | {t.anchor for t in numbers[post.id].tags}
           for post in ordered}
    return Collection(title=title, posts=ordered, series=series, numbers=numbers, renders=renders,
                      asts=asts, ids=ids, diagnostics=diagnostics)


def _heading_ids(ast: dict) -> set[str]:
    """Headings get the blog's ids, their own text (`…/archives/7343#进一步思考与分析`)."""
    seen: set[str] = set()
    for node in document.walk(ast["blocks"]):
        if node["t"] == "Header":
            base = re.sub(r"\s+", "-", _text(node["c"][2]).strip()) or "section"
            name, n = base, 1
            while name in seen:
                n += 1
                name = f"{base}-{n}"
            node["c"][1][0] = name
            seen.add(name)
    return seen


def drop_heading_ids(blocks) -> None:
    for node in document.walk(blocks):
        if node["t"] == "Header":
            node["c"][1][0] = ""


def _text(inlines) -> str:
    out = []
    for node in document.walk(inlines):
        if node["t"] == "Str":
            out.append(node["c"])
        elif node["t"] in ("Space", "SoftBreak"):
            out.append(" ")
        elif node["t"] == "Math":
            out.append(node["c"][1])
    return "".join(out)


def bodies(collection: Collection, mathhtml: MathHTML,
           post_link: Callable[[Post, str], str], heading_ids: bool = True) -> dict[str, str]:
    """Each post's text as HTML, from one pandoc run for the whole collection.
    `post_link(post, fragment)` is where a link to another post of the collection goes;
    `heading_ids=False` drops the headings' ids (they repeat between posts of one book).
    When that run fails, the posts are converted one by one: a post pandoc fails on alone is
    reported and shown as its plain text with the formulas in place; the others are as ever."""
    blocks = {post.id: _post_blocks(collection, post, mathhtml, post_link, heading_ids)
              for post in collection.posts}
    try:
        return _html(collection.posts, blocks)
    except pandoc.PandocError:
        return {post.id: _html_alone(collection, post, blocks[post.id], mathhtml)
                for post in collection.posts}


def _post_blocks(collection: Collection, post: Post, mathhtml: MathHTML, post_link,
                 heading_ids: bool) -> list:
    ast = mathhtml.document(collection.asts[post.id], post, collection.numbers[post.id], collection.renders)
    settle_links(ast["blocks"], collection, post_link)
    if not heading_ids:
        drop_heading_ids(ast["blocks"])
    return ast["blocks"]


def _html(posts: list[Post], blocks: dict[str, list]) -> dict[str, str]:
    """One pandoc run for `posts`, each behind a marker the HTML is cut at."""
    if not posts:
        return {}
    whole = []
    for n, post in enumerate(posts):
        whole.append({"t": "RawBlock", "c": ["html", f"<!--kx-post {n}-->"]})
        whole.extend(blocks[post.id])
    text = pandoc.from_ast({"pandoc-api-version": pandoc.api_version(), "meta": {}, "blocks": whole},
                           "html5", HTML_ARGS, posts=len(posts))
    parts = re.split(r"<!--kx-post (\d+)-->\n?", text)
    return {posts[int(parts[i])].id: parts[i + 1].strip() for i in range(1, len(parts), 2)}


def _html_alone(collection: Collection, post: Post, blocks: list, mathhtml: MathHTML) -> str:
    try:
        return _html([post], {post.id: blocks})[post.id]
    except pandoc.PandocError as e:
        collection.diagnostics.error("document-failed", f"{e}: {document.FALLBACK_NOTE}", post.position)
    ast = mathhtml.document(document.fallback(post), post, collection.numbers[post.id], collection.renders)
    return plain_html(ast["blocks"])


def plain_html(blocks: list[dict]) -> str:
    """A `document.fallback` document (after pipeline.mathhtml) as HTML, without pandoc."""
    return "\n".join("<p>" + "".join(map(_inline_html, block["c"])) + "</p>" for block in blocks)


def _inline_html(node: dict) -> str:
    kind = node["t"]
    if kind == "Str":
        return html.escape(node["c"], quote=False)
    if kind == "RawInline":
        return node["c"][1]
    return "\n" if kind == "SoftBreak" else " "


def settle_links(blocks: list, collection: Collection, post_link) -> None:
    """Links to posts of the collection go where `post_link` says, other schemes than
    http(s)/mailto lose their target, images become placeholders."""
    for node in document.nodes(blocks):
        if isinstance(node, list):
            for n, item in enumerate(node):
                if isinstance(item, dict) and item.get("t") == "Image":
                    node[n] = _placeholder(item)
        elif isinstance(node, dict) and node.get("t") == "Link":
            target = node["c"][2]
            target[0] = _link_target(target[0], collection, post_link)


def _link_target(url: str, collection: Collection, post_link) -> str:
    m = ARCHIVE.match(url.strip())
    if m:
        other = collection.by_id(m.group(1))
        if not other:
            return url
        fragment = unquote(m.group(2) or "")
        known = fragment[1:] in collection.ids.get(other.id, set())
        return post_link(other, "#" + quote(fragment[1:]) if known else "")
    if re.match(r"^\s*[A-Za-z][A-Za-z0-9+.-]*:", url) and not WEB_URL.match(url):
        return ""                              # javascript:, data:, file: …
    return url


def _placeholder(image: dict) -> dict:
    """An image: a box with its caption and its address, a link when it is a web address."""
    url = image["c"][2][0]
    caption = image["c"][1] or [{"t": "Str", "c": "图片"}]
    web = WEB_URL.match(url) or url.strip().startswith("//")
    link = {"t": "Link", "c": [["", [], []], [{"t": "Str", "c": url}], [url if web else "", ""]]}
    return {"t": "Span", "c": [["", ["image-placeholder"], []],
                               [{"t": "Span", "c": [["", ["image-caption"], []], caption]},
                                {"t": "LineBreak"}, link]]}

