"""The assemble stage: the collection the emitters write, gathered and checked before anything is.

    Collection.posts    by date, oldest first (undated last, by title)
    Collection.series   each series with its parts in order; posts of no series stand alone
    post_blocks()       each post's document with formulas in place and links settled (formulas.mathhtml);
                        `heading_ids` is the emitter's declaration (kexue_anthology.formats.base)
    bodies()            the same as HTML, for the outputs written from HTML; each post's HTML
                        cached by a key over all it is made of (`body_key`)
    Collection.diagnostics  where a post pandoc fails on is reported (it is shown as plain text)

Links are settled here for every output alike: a link to another post of the collection
(`https://kexue.fm/archives/ID`, also the site-relative `/archives/ID`) goes to that post wherever
the emitter puts it; links whose scheme is not http(s)/mailto (`javascript:` …) lose their
target; images are not fetched (the posts' images live on the web) but shown as a captioned
placeholder with their address.  Every other link must land in every output: a link to an
anchor the output has (a heading, an equation, a formula) stays, and one to anything else —
scrape damage such as `E[L(…)](3)`, which pandoc reads as a link to the file `3`, or a
footnote reference `[1](#fn:1)` whose note the scrape lost — is shown as the text the author
wrote, brackets and target included, with a `dangling-link` warning at its place in the source.
A post's footnotes (pandoc `Note`s) are set at the end of the post, with ids of the post's own,
in the HTML of every post (`bodies`).
"""

from __future__ import annotations

import bisect
import hashlib
import html
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote

from kexue_anthology.check.number import PostNumbers, id_part
from kexue_anthology.core.cache import Cache, key
from kexue_anthology.core.diagnostics import Diagnostics
from kexue_anthology.core.model import Post, drawable, is_reference
from kexue_anthology.documents import document, pandoc
from kexue_anthology.documents.pandoc_ast import (
    Attr,
    Div,
    Document,
    Header,
    Image,
    Inlines,
    Link,
    Node,
    Note,
    OrderedList,
    Plain,
    RawBlock,
    RawInline,
    Span,
    Str,
    Superscript,
    element,
    replace,
    tag,
    text,
    walk,
)
from kexue_anthology.formulas.drawing import Render
from kexue_anthology.formulas.links import WEB_URL
from kexue_anthology.formulas.mathhtml import MathHTML, formula_anchor
from kexue_anthology.read.series import normalize_title

OTHERS = "其他文章"          # the part of a book that holds the posts of no series
ARCHIVE = re.compile(r"^(?:https?://(?:www\.)?(?:kexue\.fm|spaces\.ac\.cn))?/archives/(\d+)/?(#.*)?$")
BLOG = "https://kexue.fm"
DANGLING = "dangling-link"
_SCHEME = re.compile(r"^\s*[A-Za-z][A-Za-z0-9+.-]*:")
HTML_ARGS = ["--wrap=none", "--syntax-highlighting=none"]
BODY_VERSION = 2          # raised whenever the code making a post's HTML from `body_key`'s inputs changes
PostLink = Callable[[Post, str], str]      # where a link to (post, "#fragment" or "") goes


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
    asts: dict[str, Document] = field(default_factory=dict)
    ids: dict[str, set[str]] = field(default_factory=dict)     # heading, equation, formula ids per post
    headings: dict[str, set[str]] = field(default_factory=dict)    # heading ids per post
    diagnostics: Diagnostics = field(default_factory=Diagnostics)

    def series_of(self, post: Post) -> Series | None:
        return next((s for s in self.series if post in s.parts), None)

    def neighbours(self, post: Post) -> tuple[Post | None, Post | None]:
        series = self.series_of(post)
        if not series:
            return None, None
        i = series.parts.index(post)
        return (series.parts[i - 1] if i > 0 else None,
                series.parts[i + 1] if i + 1 < len(series.parts) else None)

    def by_id(self, post_id: str) -> Post | None:
        return next((p for p in self.posts if p.id == post_id), None)

    def standalone(self) -> list[Post]:
        return [p for p in self.posts if not self.series_of(p)]

    def groups(self) -> list[tuple[str | None, list[Post]]]:
        """The parts of a book: one per series, then 「其他文章」 by date; a book of one series
        (or of no series) is a single unnamed part."""
        if len(self.series) == 1 and not self.standalone():
            return [(None, self.series[0].parts)]
        if not self.series:
            return [(None, self.posts)]
        groups: list[tuple[str | None, list[Post]]] = [(s.name, s.parts) for s in self.series]
        if self.standalone():
            groups.append((OTHERS, self.standalone()))
        return groups


def post_anchor(post: Post) -> str:
    """The id of a post's title in a book that holds many posts."""
    return f"post-{id_part(post.id)}"


def heading_anchor(post: Post, name: str) -> str:
    """The id of a post's heading in a book that holds many posts (`post-ID_NAME`: `_` never
    stands in a post anchor, so no heading id is another post's anchor)."""
    return f"{post_anchor(post)}_{name}"


def note_anchor(post: Post, n: int, back: bool = False) -> str:
    """The id of a post's n-th footnote (or of its reference, `back`), unique in the collection."""
    return f"fn{'ref' if back else ''}-{id_part(post.id)}-{n}"


def date_key(post: Post) -> tuple[bool, str, str]:
    return (post.date is None, post.date or "", post.title)


def assemble(posts: list[Post], numbers: dict[str, PostNumbers], renders: dict[tuple[str, int], Render],
             asts: dict[str, Document], title: str,
             diagnostics: Diagnostics | None = None, order: Sequence[str] | None = None) -> Collection:
    """The collection of `posts` with their documents (`asts`, kexue_anthology.documents.document),
    titled `title` (the settings', kexue_anthology.config.settings); the series in the `order`
    named (the project file's `series`), else by their first part's date."""
    diagnostics = diagnostics if diagnostics is not None else Diagnostics()
    ordered = sorted(posts, key=date_key)
    groups: dict[str, list[Post]] = {}
    for post in ordered:
        if post.series:
            groups.setdefault(post.series, []).append(post)
    series = [Series(name, sorted(parts, key=lambda p: (p.part or 0, date_key(p))))
              for name, parts in groups.items()]
    series.sort(key=lambda s: date_key(s.parts[0]))
    if order:
        rank = {normalize_title(name): i for i, name in enumerate(order)}
        series.sort(key=lambda s: rank.get(normalize_title(s.name), len(rank)))
    links: dict[str, list[Link]] = {}
    headings = {post.id: _heading_ids(asts[post.id], links.setdefault(post.id, [])) for post in ordered}
    ids = {post.id: headings[post.id] | {t.anchor for t in numbers[post.id].tags}
           | _formula_anchors(post, renders) for post in ordered}
    collection = Collection(title=title, posts=ordered, series=series, numbers=numbers, renders=renders,
                            asts={post.id: asts[post.id] for post in ordered}, ids=ids, headings=headings,
                            diagnostics=diagnostics)
    for post in ordered:
        if any(_dangling(link.url, ids[post.id], link) for link in links[post.id]):
            unlink_dangling(collection, post)
    return collection


def _formula_anchors(post: Post, renders: dict[tuple[str, int], Render]) -> set[str]:
    """The ids of the formulas shown as their source (kexue_anthology.formulas.mathhtml: `formula_anchor`)."""
    return {formula_anchor(f) for f in post.formulas
            if not is_reference(f) and (not drawable(f) or (post.id, f.index) not in renders)}


def _heading_ids(ast: Document, links: list[Link] | None = None) -> set[str]:
    """Headings get the blog's ids, their own text (`…/archives/7343#进一步思考与分析`).
    The links met on the way are added to `links`: one walk finds both."""
    seen: set[str] = set()
    for node in walk(ast["blocks"]):
        kind = node["t"]
        if kind == "Link" and links is not None:
            links.append(Link(node))
        elif kind == "Header":
            header = Header(node)
            base = re.sub(r"\s+", "-", text(header.inlines, code=False).strip()) or "section"
            name, n = base, 1
            while name in seen:
                n += 1
                name = f"{base}-{n}"
            header.attr.id = name
            seen.add(name)
    return seen


def book_link(collection: Collection) -> PostLink:
    """`post_link` for a book of many posts in one document (EPUB, PDF): a link to another
    post goes to its heading or equation when the fragment names one, else to its title."""
    def link(other: Post, fragment: str) -> str:
        name = unquote(fragment[1:])
        if name in collection.headings.get(other.id, set()):
            return "#" + heading_anchor(other, name)
        return "#" + (name if name and name in collection.ids.get(other.id, set()) else post_anchor(other))
    return link


def scope_heading_ids(blocks: list[Node], post: Post) -> None:
    """The headings' ids made the post's own (`heading_anchor`), for a book that holds many
    posts: their own text repeats between posts.  `settle_links(…, scoped=True)` sends the
    post's links to them there."""
    for node in walk(blocks):
        header = Header.of(node)
        if header and header.attr.id:
            header.attr.id = heading_anchor(post, header.attr.id)


def bodies(collection: Collection, mathhtml: MathHTML, post_link: PostLink, heading_ids: bool = True,
           cache_dir: Path | None = None) -> dict[str, str]:
    """Each post's text as HTML, from one pandoc run for the posts not in the cache.
    `post_link(post, fragment)` is where a link to another post of the collection goes;
    `heading_ids=False` makes the headings' ids the post's own (they repeat between posts of
    one book; `scope_heading_ids`).  With `cache_dir` each post's HTML is kept under a key
    over all it is made of (`body_key`), so that pandoc runs only for posts whose key changed.
    When that run fails, the posts are converted one by one: a post pandoc fails on alone is
    reported and shown as its plain text with the formulas in place (never cached, so that it
    is reported again); the others are as ever."""
    cache = Cache(cache_dir, "bodies") if cache_dir else None
    keys = {post.id: body_key(collection, post, mathhtml, post_link, heading_ids) for post in collection.posts}
    texts: dict[str, str] = {}
    if cache:
        texts = {post_id: found for post_id, k in keys.items() if isinstance(found := cache.get(k), str)}
        for post in collection.posts:
            if post.id in texts:
                _place_drawings(collection, post, mathhtml)
    missing = [post for post in collection.posts if post.id not in texts]
    blocks = {post.id: _post_blocks(collection, post, mathhtml, post_link, heading_ids) for post in missing}
    try:
        converted = _html(missing, blocks)
    except pandoc.PandocError:
        converted = {}
        for post in missing:
            text = _html_alone(collection, post, blocks[post.id], mathhtml)
            if text is not None:
                converted[post.id] = text
    for post in missing:
        if post.id in converted:
            if cache:
                cache.put(keys[post.id], converted[post.id])
            texts[post.id] = converted[post.id]
        else:
            texts[post.id] = _plain_fallback(collection, post, mathhtml)
    return {post.id: texts[post.id] for post in collection.posts}


def body_key(collection: Collection, post: Post, mathhtml: MathHTML, post_link: PostLink,
             heading_ids: bool) -> str:
    """A key over everything a post's HTML (`bodies`) is made of, had without making it: the
    post's document as the collection holds it (links checked, heading ids set), its formulas
    (`math_digest`), how math is shown, and each post of the collection it links to with that
    post's anchors and where `post_link` sends a link to it; the code that makes the HTML out
    of these is `BODY_VERSION` and pandoc's version."""
    ast = json.dumps(collection.asts[post.id]["blocks"], ensure_ascii=False)
    linked = sorted(set(re.findall(r"/archives/(\d+)", ast)))
    others = [(other.id, post_link(other, ""), sorted(collection.ids.get(other.id, set())),
               sorted(collection.headings.get(other.id, set())))
              for other in map(collection.by_id, linked) if other is not None]
    return key("body", BODY_VERSION, pandoc.version(), HTML_ARGS, mathhtml.mode, _math_links(mathhtml), heading_ids,
               post.id, hashlib.sha256(ast.encode()).hexdigest(), math_digest(collection, post), others,
               sorted(collection.headings.get(post.id, set())))


def math_digest(collection: Collection, post: Post) -> str:
    """A digest of what kexue_anthology.formulas.mathhtml shows a post's formulas from: each formula's TeX,
    kind and verdict, its drawing, the post's equation numbers and references."""
    digest = hashlib.sha256()
    numbers = collection.numbers[post.id]
    digest.update(repr([(t.text, t.star, t.label, t.anchor, t.formula, t.row) for t in numbers.tags]).encode())
    digest.update(repr(sorted((i, r.label, r.eqref, r.target.anchor if r.target else None,
                               r.target.text if r.target else None, r.target.star if r.target else None)
                              for i, refs in numbers.refs.items() for r in refs)).encode())
    for f in post.formulas:
        digest.update(repr((f.index, f.tex, f.display, f.delimiter, f.ok, f.message)).encode())
        drawing = collection.renders.get((post.id, f.index))
        if drawing is not None:
            digest.update(repr((drawing.width, drawing.height, drawing.valign, drawing.margin_bottom,
                                drawing.rows, drawing.alt, drawing.links, len(drawing.svg))).encode())
            digest.update(drawing.svg.encode())
            digest.update(drawing.mathml.encode())
    return digest.hexdigest()


def _place_drawings(collection: Collection, post: Post, mathhtml: MathHTML) -> None:
    """In img mode each drawing is a file the math layer writes when it shows the formula: a
    post's HTML taken from the cache still needs its files."""
    if mathhtml.mode != "img" or mathhtml.image is None:
        return
    for f in post.formulas:
        drawing = collection.renders.get((post.id, f.index))
        if drawing is not None and drawable(f) and not is_reference(f):
            mathhtml.image(drawing)


def _math_links(mathhtml: MathHTML) -> list[str]:
    """Where the math layer sends an anchor and, in img mode, how it names a drawing: probed,
    since both are functions."""
    return [mathhtml.link("eq-probe"), "img" if mathhtml.image else ""]


def _post_blocks(collection: Collection, post: Post, mathhtml: MathHTML, post_link: PostLink,
                 heading_ids: bool) -> list[Node]:
    blocks = post_blocks(collection, post, mathhtml, post_link, heading_ids)
    return blocks + notes_at_end(blocks, post)


def post_blocks(collection: Collection, post: Post, mathhtml: MathHTML, post_link: PostLink,
                heading_ids: bool, ast: Document | None = None) -> list[Node]:
    """A post's document (`ast`, default the collection's) with its formulas in place (formulas.mathhtml)
    and its links settled; `heading_ids=False` makes the headings' ids the post's own."""
    doc = mathhtml.document(ast or collection.asts[post.id], post, collection.numbers[post.id], collection.renders)
    settle_links(doc["blocks"], collection, post_link, post, scoped=not heading_ids)
    if not heading_ids:
        scope_heading_ids(doc["blocks"], post)
    blocks: list[Node] = doc["blocks"]
    return blocks


def _html(posts: list[Post], blocks: dict[str, list[Node]]) -> dict[str, str]:
    """One pandoc run for `posts`, each behind a marker the HTML is cut at."""
    if not posts:
        return {}
    whole: list[Node] = []
    for n, post in enumerate(posts):
        whole.append(RawBlock.new("html", f"<!--kx-post {n}-->"))
        whole.extend(blocks[post.id])
    written = pandoc.from_ast({"pandoc-api-version": pandoc.api_version(), "meta": {}, "blocks": whole},
                              "html5", HTML_ARGS, posts=len(posts))
    parts = re.split(r"<!--kx-post (\d+)-->\n?", written)
    return {posts[int(parts[i])].id: parts[i + 1].strip() for i in range(1, len(parts), 2)}


def _html_alone(collection: Collection, post: Post, blocks: list[Node], mathhtml: MathHTML) -> str | None:
    """The post's HTML by a pandoc run of its own, or None (reported) when pandoc fails on it."""
    try:
        return _html([post], {post.id: blocks})[post.id]
    except pandoc.PandocError as e:
        collection.diagnostics.error("document-failed", f"{e}: {document.FALLBACK_NOTE}", post.position)
    return None


def _plain_fallback(collection: Collection, post: Post, mathhtml: MathHTML) -> str:
    ast = mathhtml.document(document.fallback(post), post, collection.numbers[post.id], collection.renders)
    return plain_html(ast["blocks"])


def plain_html(blocks: list[Node]) -> str:
    """A `document.fallback` document (after kexue_anthology.formulas.mathhtml) as HTML, without pandoc."""
    return "\n".join("<p>" + "".join(map(_inline_html, Inlines(block).inlines)) + "</p>" for block in blocks)


def _inline_html(node: Node) -> str:
    kind = tag(node)
    if kind == "Str":
        return html.escape(Str(node).text, quote=False)
    if kind == "RawInline":
        return RawInline(node).text
    return "\n" if kind == "SoftBreak" else " "


def settle_links(blocks: list[Node], collection: Collection, post_link: PostLink, post: Post | None = None,
                 scoped: bool = False) -> None:
    """Links to posts of the collection go where `post_link` says, other schemes than
    http(s)/mailto lose their target, images become placeholders.  With `scoped` (the
    headings' ids made the post's own by `scope_heading_ids`) links to `post`'s headings
    follow them."""
    headings = collection.headings.get(post.id, set()) if post is not None and scoped else set()
    for node in walk(blocks):
        link = Link.of(node)
        if link is None:
            continue
        url = link.url.strip()
        if post is not None and url.startswith("#") and unquote(url[1:]) in headings:
            link.url = "#" + heading_anchor(post, unquote(url[1:]))
        else:
            link.url = _link_target(link.url, collection, post_link)
    # after the links: a placeholder's own link is made settled
    replace(blocks, lambda node: _placeholder(Image(node)) if tag(node) == "Image" else None)


def _link_target(url: str, collection: Collection, post_link: PostLink) -> str:
    m = ARCHIVE.match(url.strip())
    if m:
        other = collection.by_id(m.group(1))
        if not other:
            return url if WEB_URL.match(url) else BLOG + url.strip()      # /archives/ID: the blog's
        fragment = unquote(m.group(2) or "")
        known = fragment[1:] in collection.ids.get(other.id, set())
        return post_link(other, "#" + quote(fragment[1:]) if known else "")
    if _SCHEME.match(url) and not WEB_URL.match(url):
        return ""                              # javascript:, data:, file: …
    return url


# --- links that would land nowhere -----------------------------------------------------------------
def unlink_dangling(collection: Collection, post: Post) -> None:
    """Every link of `post` that would land nowhere in an output becomes the text the author
    wrote — `[` its text `](` its target `)` — with a `dangling-link` warning where it stands
    in the source.  A link lands when its target is a web address (http, https, mailto; also
    `//host/…`, made https), a post of the collection (`…/archives/ID`), or `#ID` of a heading,
    an equation or a formula of the post (a fragment written with spaces for the heading's `-`
    is mended).  Other schemes (`javascript:` …) are left to `settle_links`, which drops them."""
    ast = collection.asts[post.id]
    ids = collection.ids.get(post.id, set())
    where = _Locator(post)

    def as_text(node: Node) -> Node | None:
        link = Link.of(node)
        if link is None:
            return None
        url, title = link.url, link.title
        problem = _dangling(url, ids, link)
        if problem is None:
            return None
        found = where.find(url)
        start: int | None = None
        shown = "[…]"
        if found:
            written = where.target(found)
            start = where.start(found)
            if found[0] - start <= 60:
                shown = where.text[start:found[0] + 1]
        else:
            written = url + (f' "{title}"' if title else "")
        collection.diagnostics.warning(
            DANGLING, f"the link {shown}({written}) leads nowhere: {problem}; it is shown as the text "
            "written", post.body.position(start) if start is not None else post.position)
        return Span.new(Attr.new("", [DANGLING]), [Str.new("["), *link.inlines, Str.new(f"]({written})")])
    replace(ast["blocks"], as_text)


def _dangling(url: str, ids: set[str], link: Link) -> str | None:
    """Why a link to `url` lands nowhere, or None when it lands (`link` may be mended)."""
    bare = url.strip()
    if WEB_URL.match(bare):
        return None
    if bare.startswith("//"):
        link.url = "https:" + bare
        return None
    if ARCHIVE.match(bare):
        return None                            # the post in the collection, else the blog's page
    if _SCHEME.match(bare):
        return None                            # javascript: … lose their target (settle_links)
    if bare.startswith("#"):
        fragment = unquote(bare[1:])
        for name in (fragment, re.sub(r"\s+", "-", fragment.strip())):
            if name in ids:
                link.url = "#" + name
                return None
        if not fragment:
            return "`#` names no anchor"
        return f"no heading, equation, formula or footnote of this post has the id {fragment!r}"
    if not bare:
        return "it has no target"
    return f"{bare!r} is no web address, no post of the collection and no anchor of this post"


class _Locator:
    """Where a link stands in its post's source: pandoc's AST has no positions, so the n-th
    link to a target is taken to be the n-th `](target` in the body (Markdown escapes allowed
    between its characters), and its place is that of the `[` opening its text.  Formulas are
    skipped when brackets are matched back, since theirs are TeX's."""

    REACH = 4000          # how far back an opening bracket is looked for
    SEARCHES = 500        # links looked for in one post (each may read the whole text)

    def __init__(self, post: Post) -> None:
        self.text = post.body.text
        self.formulas = [(f.start, f.end) for f in post.formulas]
        self.starts = [a for a, _ in self.formulas]
        self.cursor = 0
        self.searches = 0

    def find(self, url: str) -> tuple[int, int] | None:
        """(index of the `]`, index after the target) of the next link to `url` after the
        last one found (links are looked for in document order), or None."""
        chars = url.strip()
        self.searches += 1
        if len(chars) > 2000 or self.searches > self.SEARCHES:
            return None
        pattern = re.compile(r"\]\(\s*<?" + (r"\\?".join(map(re.escape, chars)) if chars else r"(?=\s*>?\s*\))"))
        m = pattern.search(self.text, self.cursor) or pattern.search(self.text)
        if not m:
            return None
        self.cursor = m.end()
        return m.start(), m.end()

    def _formula_at(self, i: int) -> tuple[int, int] | None:
        k = bisect.bisect_right(self.starts, i) - 1
        return self.formulas[k] if k >= 0 and self.formulas[k][0] <= i < self.formulas[k][1] else None

    def start(self, found: tuple[int, int]) -> int:
        """The `[` opening the link's text (the `]` when none is found)."""
        depth, i = 0, found[0] - 1
        while i >= max(0, found[0] - self.REACH):
            inside = self._formula_at(i)
            if inside:
                i = inside[0] - 1
                continue
            ch = self.text[i]
            if ch in "[]" and not (i > 0 and self.text[i - 1] == "\\"):
                if ch == "]":
                    depth += 1
                elif depth == 0:
                    return i
                else:
                    depth -= 1
            elif ch == "\n" and self.text[i - 1:i] == "\n":
                break                                      # a link stands in one paragraph
            i -= 1
        return found[0]

    def target(self, found: tuple[int, int]) -> str:
        """The target as written: from after `](` to the `)` that closes it."""
        depth, i = 0, found[0] + 2
        while i < min(len(self.text), found[1] + self.REACH):
            ch = self.text[i]
            if ch == "(":
                depth += 1
            elif ch == ")":
                if depth == 0:
                    return self.text[found[0] + 2:i]
                depth -= 1
            elif ch == "\n":
                break
            i += 1
        return self.text[found[0] + 2:found[1]]


# --- footnotes ----------------------------------------------------------------------------------------
def notes_at_end(blocks: list[Node], post: Post) -> list[Node]:
    """The post's footnotes (pandoc `Note`s) taken out of `blocks`: each reference becomes a
    link to its note and the notes a list, returned to be put at the end of the post, so that
    they stay with their post when many posts are written by one pandoc run.  Ids are the
    post's own (`note_anchor`)."""
    notes: list[list[Node]] = []

    def reference(node: Node) -> Node | None:
        note = Note.of(node)
        if note is None:
            return None
        notes.append(note.blocks)
        k = len(notes)
        return Link.new(Attr.new(note_anchor(post, k, back=True), ["footnote-ref"], [("role", "doc-noteref")]),
                        [Superscript.new([Str.new(str(k))])], "#" + note_anchor(post, k))
    replace(blocks, reference)
    if not notes:
        return []
    items: list[list[Node]] = []
    for k, note in enumerate(notes, 1):
        back = Link.new(Attr.new("", ["footnote-back"], [("role", "doc-backlink")]),
                        [Str.new("↩︎")], "#" + note_anchor(post, k, back=True))
        body = list(note) or [Plain.new([])]
        last = tag(body[-1])
        if last in ("Para", "Plain"):
            body[-1] = element(last, [*Inlines(body[-1]).inlines, element("Space"), back])
        else:
            body.append(Plain.new([back]))
        items.append([Div.new(Attr.new(note_anchor(post, k), ["footnote"]), body)])
    return [Div.new(Attr.new("", ["footnotes"], [("role", "doc-endnotes")]),
                    [element("HorizontalRule"), OrderedList.new(items)])]


def _placeholder(image: Image) -> Node:
    """An image: a box with its caption and its address, a link when it is a web address."""
    url = image.url
    caption = image.inlines or [Str.new("图片")]
    web = WEB_URL.match(url) or url.strip().startswith("//")
    link = Link.new(Attr.new(), [Str.new(url)], url if web else "")
    return Span.new(Attr.new("", ["image-placeholder"]),
                    [Span.new(Attr.new("", ["image-caption"]), caption), element("LineBreak"), link])

