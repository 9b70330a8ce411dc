"""Finding one's way on the site: a post's contents, permalinks beside its headings and
numbered equations, the posts before and after it by date, and the posts by tag.

The contents are read off the post's pandoc document (`Collection.asts`, whose headings carry
the ids the page has, kexue_anthology.collection.anchors `heading_ids`); the permalinks are put into the HTML
the body cache keeps (kexue_anthology.collection.bodies), so that the cached text is the same for every
emitter and only the site's pages carry them.
"""

from __future__ import annotations

import copy
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from kexue_anthology.collection.collection import Collection
from kexue_anthology.core.model import Post
from kexue_anthology.documents.pandoc_ast import (
    Document,
    Header,
    Math,
    Node,
    Str,
    block_lists,
    element,
    replace,
    tag,
    text,
)
from kexue_anthology.formulas.formula_text import plain_text

LEAST_HEADINGS = 3          # a post with fewer headings reads without a contents list

# What pandoc and kexue_anthology.formulas.mathhtml write, and nothing a post can write: raw HTML in a post is
# shown as text, so a `<h2 id=…>` or an `eq-tag` span in the body is always ours.
_HEADING = re.compile(r'<h([1-6]) id="([^"]+)"([^>]*)>(.*?)</h\1>', re.S)
_EQ_TAG = re.compile(r'<span class="eq-tag" id="([^"]+)"([^>]*)>')


@dataclass
class ContentsEntry:
    """A heading in a post's contents, with the headings below it."""
    id: str
    title: str
    level: int
    children: list[ContentsEntry] = field(default_factory=list)


@dataclass
class TagPosts:
    """A tag of tags.html with the posts that carry it."""
    name: str
    anchor: str                     # its id on tags.html
    posts: list[Post]               # newest first


def contents(ast: Document, least: int = LEAST_HEADINGS) -> list[ContentsEntry]:
    """The headings of a post's document nested by level (a heading goes below the nearest one
    before it of a higher level), or none when it has fewer than `least`."""
    flat = [ContentsEntry(h.attr.id, _plain(h.inlines), h.level)
            for node in _blocks(ast["blocks"]) if (h := Header.of(node)) is not None and h.attr.id]
    if len(flat) < least:
        return []
    top: list[ContentsEntry] = []
    open_: list[ContentsEntry] = []
    for entry in flat:
        while open_ and open_[-1].level >= entry.level:
            open_.pop()
        (open_[-1].children if open_ else top).append(entry)
        open_.append(entry)
    return top


def _blocks(blocks: list[Node]) -> Iterator[Node]:
    """Every block, nested ones included, without walking into any paragraph's words (a
    heading is a block): the whole tree's walk costs most of a warm rebuild's contents."""
    for node in blocks:
        yield node
        for inner in block_lists(node):
            yield from _blocks(inner)


def _plain(inlines: list[Node]) -> str:
    """A heading's text as plain text: its formulas as text (formulas.formula_text), its notes left out."""
    inlines = copy.deepcopy(inlines)
    replace(inlines, _plain_node)
    return " ".join(text(inlines).split()) or "（无标题）"


def _plain_node(node: Node) -> Node | list[Node] | None:
    """A heading's element as `text` is to read it: a note gone, a formula as its text, a line break a space."""
    kind = tag(node)
    if kind == "Note":
        return []
    if kind == "Math":
        return Str.new(plain_text(Math(node).tex))
    return element("Space") if kind == "LineBreak" else None


def permalinks(body: str, headings: set[str], equations: set[str]) -> str:
    """`body` with a permalink (`<a class="permalink" href="#ID">¶</a>`) at the end of each
    heading whose id is one of `headings` and before the number of each equation in `equations`."""
    def heading(m: re.Match[str]) -> str:
        if html.unescape(m.group(2)) not in headings:
            return m.group(0)
        link = f'<a class="permalink" href="#{m.group(2)}" aria-label="本节链接">¶</a>'
        return f"<h{m.group(1)} id=\"{m.group(2)}\"{m.group(3)}>{m.group(4)} {link}</h{m.group(1)}>"

    def equation(m: re.Match[str]) -> str:
        if html.unescape(m.group(1)) not in equations:
            return m.group(0)
        return m.group(0) + f'<a class="permalink" href="#{m.group(1)}" aria-label="公式链接">¶</a>'
    return _EQ_TAG.sub(equation, _HEADING.sub(heading, body))


def post_permalinks(collection: Collection, post: Post, body: str) -> str:
    numbers = collection.numbers.get(post.id)
    return permalinks(body, collection.headings.get(post.id, set()),
                      {t.anchor for t in numbers.tags} if numbers else set())


def by_date(collection: Collection) -> dict[str, tuple[Post | None, Post | None]]:
    """Each post's neighbours in the collection's date order: (earlier, later)."""
    posts = collection.posts                    # in date order (kexue_anthology.collection.collection.date_key)
    return {post.id: (posts[i - 1] if i > 0 else None, posts[i + 1] if i + 1 < len(posts) else None)
            for i, post in enumerate(posts)}


def by_tag(posts: list[Post]) -> dict[str, TagPosts]:
    """The tags the posts carry (front matter `tags:`), most used first, each with its posts
    newest first and an id for tags.html; empty when no post has a tag."""
    found: dict[str, list[Post]] = {}
    for post in sorted(posts, key=lambda p: (p.date or "", p.title), reverse=True):
        for name in dict.fromkeys(post.tags):
            found.setdefault(name, []).append(post)
    tags: dict[str, TagPosts] = {}
    used: set[str] = set()
    for name, tagged in sorted(found.items(), key=lambda item: (-len(item[1]), item[0])):
        base = "tag-" + (re.sub(r"\s+", "-", name.strip()) or "tag")
        anchor, n = base, 1
        while anchor in used:
            n += 1
            anchor = f"{base}-{n}"
        used.add(anchor)
        tags[name] = TagPosts(name, anchor, tagged)
    return tags
