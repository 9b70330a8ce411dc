"""Each post's text as HTML, for the outputs written from HTML.

    post_blocks()   each post's document with formulas in place, links settled (formulas.mathhtml) and
                    its headings from `top_level` down (collection.levels); `heading_ids` is the
                    emitter's declaration (kexue_anthology.formats.base)
    bodies()        the same as HTML, by pandoc runs side by side (one per batch of posts of about
                    equal weight, `balanced`), each post's HTML cached by a key over all it is made
                    of (`body_key`); a post pandoc fails on alone is reported and shown as plain text
    lazy_bodies()   the same, a cached text read only when asked for (`Texts`), so that a rebuild
                    that shows few posts anew (the site's, formats/html/manifest.py) reads few
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import html
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from kexue_anthology.collection.anchors import scope_heading_ids
from kexue_anthology.collection.collection import Collection, PostLink
from kexue_anthology.collection.figures import FigureStyle, draw_figures, picture_digest
from kexue_anthology.collection.footnotes import notes_at_end
from kexue_anthology.collection.levels import settle_levels
from kexue_anthology.collection.links import settle_links
from kexue_anthology.core.cache import Cache, key
from kexue_anthology.core.model import Post, drawable, is_reference
from kexue_anthology.documents import document, pandoc
from kexue_anthology.documents.lazy import Documents
from kexue_anthology.documents.pandoc_ast import Document, Inlines, Node, RawBlock, RawInline, Str, tag
from kexue_anthology.formulas.drawing import Render
from kexue_anthology.formulas.mathhtml import MathHTML

HTML_ARGS = ["--wrap=none", "--syntax-highlighting=none"]
BODY_VERSION = 6          # raised whenever the code making a post's HTML from `body_key`'s inputs changes


def bodies(collection: Collection, mathhtml: MathHTML, post_link: PostLink, heading_ids: bool = True,
           cache_dir: Path | None = None, top_level: int = 2, figures: FigureStyle | None = None,
           jobs: int | None = None, keys: dict[str, str] | None = None) -> dict[str, str]:
    """Each post's text as HTML, from pandoc runs for the posts not in the cache: `jobs` at once
    (default one per processor, at most 2), each over a batch of them (a post's HTML does not
    depend on the posts converted with it).
    `post_link(post, fragment)` is where a link to another post of the collection goes;
    `heading_ids=False` makes the headings' ids the post's own (they repeat between posts of
    one book; `scope_heading_ids`); `top_level` is the level of a post's topmost heading (one
below the post's title in the output).  With `cache_dir` each post's HTML is kept under a key
    over all it is made of (`body_key`), so that pandoc runs only for posts whose key changed.
    When that run fails, the posts are converted one by one: a post pandoc fails on alone is
    reported and shown as its plain text with the formulas in place (never cached, so that it
    is reported again); the others are as ever.  `keys`, when given, gets each post's `body_key`."""
    texts = lazy_bodies(collection, mathhtml, post_link, heading_ids, cache_dir, top_level, figures, jobs, keys)
    return {post.id: texts[post.id] for post in collection.posts}


class Texts(Mapping[str, str]):
    """Each post's HTML (`lazy_bodies`): a cached one is read only when asked for, so that a
    rebuild that shows few posts anew reads few.  `fingerprint(id)` is a digest the text is
    made from: its `body_key`, or the text's own hash for a post shown as plain text."""

    def __init__(self, order: list[str], keys: dict[str, str], made: dict[str, str], plain: set[str],
                 load: Callable[[str], str]) -> None:
        self._order, self._keys, self._made, self._plain, self._load = order, keys, made, plain, load

    def __getitem__(self, post_id: str) -> str:
        if post_id not in self._made:
            if post_id not in self._keys:
                raise KeyError(post_id)
            self._made[post_id] = self._load(post_id)
        return self._made[post_id]

    def __contains__(self, post_id: object) -> bool:
        # Mapping's own reads the text: the search index asks it of every post, to use the fingerprint
        return post_id in self._made or post_id in self._keys

    def __iter__(self) -> Iterator[str]:
        return iter(self._order)

    def __len__(self) -> int:
        return len(self._order)

    def fingerprint(self, post_id: str) -> str:
        if post_id in self._plain:
            return hashlib.sha256(self[post_id].encode()).hexdigest()
        return self._keys[post_id]


def lazy_bodies(collection: Collection, mathhtml: MathHTML, post_link: PostLink, heading_ids: bool = True,
                cache_dir: Path | None = None, top_level: int = 2, figures: FigureStyle | None = None,
                jobs: int | None = None, keys: dict[str, str] | None = None) -> Texts:
    """`bodies`, the cached texts read when first asked for (`Texts`)."""
    cache = Cache(cache_dir, "bodies") if cache_dir else None
    drawn: Drawn = {}
    keys = keys if keys is not None else {}
    keys.update({post.id: body_key(collection, post, mathhtml, post_link, heading_ids, top_level, figures, drawn)
                 for post in collection.posts})
    cached = {post.id for post in collection.posts if cache and cache.has(keys[post.id])}
    for post in collection.posts:
        if post.id in cached:
            _place_drawings(collection, post, mathhtml)
    missing = [post for post in collection.posts if post.id not in cached]
    made, plain = _convert(collection, missing, mathhtml, post_link, heading_ids, top_level, figures, jobs, cache,
                           keys)

    def load(post_id: str) -> str:
        found = cache.get(keys[post_id]) if cache else None
        if isinstance(found, str):
            return found
        post = next(post for post in collection.posts if post.id == post_id)    # the entry went since
        again, alone = _convert(collection, [post], mathhtml, post_link, heading_ids, top_level, figures, 1,
                                cache, keys)
        plain.update(alone)
        return again[post_id]
    return Texts([post.id for post in collection.posts], keys, made, plain, load)


def _convert(collection: Collection, missing: list[Post], mathhtml: MathHTML, post_link: PostLink,
             heading_ids: bool, top_level: int, figures: FigureStyle | None, jobs: int | None,
             cache: Cache | None, keys: dict[str, str]) -> tuple[dict[str, str], set[str]]:
    """The HTML of the `missing` posts, each put into the cache; and those shown as plain text."""
    blocks = {post.id: _post_blocks(collection, post, mathhtml, post_link, heading_ids, top_level, figures)
              for post in missing}
    try:
        converted = _html_side_by_side(missing, blocks, jobs or min(2, os.cpu_count() or 1))
    except pandoc.PandocError:
        converted = {}
        for post in missing:
            text = _html_alone(collection, post, blocks[post.id], mathhtml)
            if text is not None:
                converted[post.id] = text
    texts: dict[str, str] = {}
    plain: set[str] = set()
    for post in missing:
        if post.id in converted:
            if cache:
                cache.put(keys[post.id], converted[post.id])
            texts[post.id] = converted[post.id]
        else:
            texts[post.id] = _plain_fallback(collection, post, mathhtml)
            plain.add(post.id)
    return texts, plain


def body_key(collection: Collection, post: Post, mathhtml: MathHTML, post_link: PostLink,
             heading_ids: bool, top_level: int = 2, figures: FigureStyle | None = None,
             drawn: Drawn | None = None) -> str:
    """A key over everything a post's HTML (`bodies`) is made of, had without making it: the
    post's document as the collection holds it (links checked, heading ids set), its formulas
    (`math_digest`), how math is shown, each post of the collection it links to with that
    post's anchors and where `post_link` sends a link to it, and where a link to a post not in
    it goes (`source_url`), its images found and how figures are drawn (`figures`); the code that
    makes the HTML out of these is `BODY_VERSION` and pandoc's version.  `drawn` keeps each
    drawing's digest for the keys of the other posts (a drawing is shared by every post showing
    its formula)."""
    document, linked = _document_digest(collection, post)
    others = [(other.id, post_link(other, ""), sorted(collection.ids.get(other.id, set())),
               sorted(collection.headings.get(other.id, set())))
              for other in map(collection.by_id, linked) if other is not None]
    return key("body", BODY_VERSION, pandoc.version(), HTML_ARGS, mathhtml.mode, _math_links(mathhtml), heading_ids,
               top_level, post.id, document, math_digest(collection, post, drawn),
               others, sorted(collection.headings.get(post.id, set())), collection.source_url,
               repr(figures), picture_digest(collection.pictures.get(post.id, {})))


def _document_digest(collection: Collection, post: Post) -> tuple[object, list[str]]:
    """What the post's document as the collection holds it is made of, and the ids of the blog's
    posts it names.  A cached document is named by its key, which with the post's anchors (its
    links are mended and unlinked by them) and text (where an unlinked link is written) makes
    what assembly left of it (kexue_anthology.collection.assemble): no document is read for it."""
    documents, outline = collection.asts, collection.outlines.get(post.id)
    k = documents.key(post.id) if isinstance(documents, Documents) else None
    if k is not None and outline is not None:
        return (["cached", k, sorted(collection.ids.get(post.id, set())),
                 hashlib.sha256(post.body.text.encode()).hexdigest()], outline.archives)
    ast = json.dumps(documents[post.id]["blocks"], ensure_ascii=False)
    return hashlib.sha256(ast.encode()).hexdigest(), sorted(set(re.findall(r"/archives/(\d+)", ast)))


Drawn = dict[int, tuple[Render, bytes]]      # id of a drawing → it (kept alive, so the id stays its) and its digest


def math_digest(collection: Collection, post: Post, drawn: Drawn | None = None) -> str:
    """A digest of what kexue_anthology.formulas.mathhtml shows a post's formulas from: each formula's TeX,
    kind and verdict, its drawing, the post's equation numbers and references.  `drawn`: the
    drawings' digests already made (`drawing_digest`), added to."""
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
            made = drawn.get(id(drawing)) if drawn is not None else None
            if made is None:
                made = (drawing, drawing_digest(drawing))
                if drawn is not None:
                    drawn[id(drawing)] = made
            digest.update(made[1])
    return digest.hexdigest()


def drawing_digest(drawing: Render) -> bytes:
    """A digest of all a drawing shows: its size and place, rows, alt text, links, SVG and MathML
    (`Render.fingerprint`, kept in the drawing's pack: a rebuild hashes no SVG)."""
    return drawing.fingerprint()


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
                 heading_ids: bool, top_level: int, figures: FigureStyle | None) -> list[Node]:
    blocks = post_blocks(collection, post, mathhtml, post_link, heading_ids, top_level=top_level, figures=figures)
    return blocks + notes_at_end(blocks, post)


def post_blocks(collection: Collection, post: Post, mathhtml: MathHTML, post_link: PostLink,
                heading_ids: bool, ast: Document | None = None, top_level: int = 2,
                figures: FigureStyle | None = None) -> list[Node]:
    """A post's document (`ast`, default the collection's) with its formulas in place (formulas.mathhtml),
    its images drawn as `figures` says (None: all placeholders), its links settled and its topmost heading
    at `top_level` with no level skipped below it;
    `heading_ids=False` makes the headings' ids the post's own."""
    doc = mathhtml.document(ast or collection.asts[post.id], post, collection.numbers[post.id], collection.renders)
    if figures is not None:
        draw_figures(doc["blocks"], collection.pictures.get(post.id, {}), figures)
    settle_links(doc["blocks"], collection, post_link, post, scoped=not heading_ids)
    if not heading_ids:
        scope_heading_ids(doc["blocks"], post)
    blocks: list[Node] = doc["blocks"]
    settle_levels(blocks, top_level)
    return blocks


T = TypeVar("T")
_SMALLEST = 8             # fewer posts than this are converted in one run


def balanced(items: Sequence[T], weight: Callable[[T], int], n: int) -> list[list[T]]:
    """`items` in at most `n` batches of about equal weight (the heaviest first into the lightest
    batch), each in the items' order."""
    batches: list[list[int]] = [[] for _ in range(max(1, min(n, len(items))))]
    loads = [0] * len(batches)
    for i in sorted(range(len(items)), key=lambda i: weight(items[i]), reverse=True):
        lightest = loads.index(min(loads))
        batches[lightest].append(i)
        loads[lightest] += weight(items[i])
    return [[items[i] for i in sorted(batch)] for batch in batches if batch]


def _html_side_by_side(posts: list[Post], blocks: dict[str, list[Node]], jobs: int) -> dict[str, str]:
    """`_html` over batches of `posts`, `jobs` pandoc runs at once; PandocError when any fails."""
    if jobs < 2 or len(posts) < _SMALLEST:
        return _html(posts, blocks)
    batches = balanced(posts, lambda post: len(post.body.text) + 400 * len(post.formulas), jobs)
    converted: dict[str, str] = {}
    with concurrent.futures.ThreadPoolExecutor(len(batches)) as pool:
        for made in pool.map(lambda batch: _html(batch, blocks), batches):
            converted.update(made)
    return converted


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
