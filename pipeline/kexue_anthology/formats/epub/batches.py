"""The chapters of an EPUB converted ahead, in batches side by side (one pandoc each), so that
the book's first build uses every core: each batch is the whole book with only its own posts
in full and every other post as a stand-in (`stand_in`: its heading and every id pandoc would
find in it, so that a link into it is resolved to the same file), and the chapter files it
writes for its posts are the very files one run over the whole book writes for them.  They go
to the chapter cache (kexue_anthology.formats.epub.chapters); the book is then written as a
rebuild writes it, every such chapter taken from the cache.

A batch pandoc fails on caches nothing: the book's own run finds and reports the post to blame.
The media pandoc names by their order in the batch (drawings, figures) are named by their
source in what is cached (kexue_anthology.formats.epub.chapters.normalized), so a batch's
chapters serve the whole book."""

from __future__ import annotations

import concurrent.futures
import re
from collections.abc import Callable
from typing import TypeVar

from kexue_anthology.collection.bodies import balanced
from kexue_anthology.core.model import Post
from kexue_anthology.documents import pandoc
from kexue_anthology.documents.pandoc_ast import Attr, Node, RawBlock, tag, walk

# Elements whose id pandoc's EPUB writer records as a link target (its reference table), and
# where their attributes stand in their content.
_ATTR_AT = {"Header": 1, "Div": 0, "Span": 0, "Link": 0, "Image": 0, "Table": 0, "Figure": 0}
T = TypeVar("T")
_SMALLEST = 8             # fewer posts than this are converted in the book's own run


def ahead(posts: list[Post], weight: Callable[[Post], int], jobs: int) -> list[list[Post]]:
    """`posts` in at most `jobs` batches of about equal weight (`balanced`), each in book order;
    none when there are too few to be worth a second run."""
    if jobs < 2 or len(posts) < _SMALLEST:
        return []
    return balanced(posts, weight, jobs)


def stand_in(head: list[Node], blocks: list[Node]) -> list[Node]:
    """A chapter not converted in this batch: its heading (`head`) and an empty span for each
    id of its text (`blocks`) that pandoc records as a link target — the elements' ids and
    those of raw HTML tags."""
    own = {Attr(node["c"][_ATTR_AT[tag(node)]]).id for node in head if tag(node) in _ATTR_AT}
    spans = "".join(f'<span id="{ident}"></span>' for ident in element_ids(blocks) if ident not in own)
    return [*head, RawBlock.new("html", f"<div>{spans}</div>")] if spans else list(head)


def element_ids(blocks: list[Node]) -> list[str]:
    """Each id of `blocks` that pandoc records as a link target, once, in order: the elements'
    ids and those of raw HTML tags."""
    ids: dict[str, None] = {}
    for node in walk(blocks):
        kind = tag(node)
        if kind in _ATTR_AT:
            ids.setdefault(Attr(node["c"][_ATTR_AT[kind]]).id)
        elif kind in ("RawBlock", "RawInline") and node["c"][0] in ("html", "html5", "html4"):
            for ident in _RAW_ID.findall(node["c"][1]):
                ids.setdefault(ident)
    return [ident for ident in ids if ident]


def run_side_by_side(batches: list[list[Post]], convert: Callable[[int, list[Post]], dict[str, T]],
        jobs: int) -> dict[str, T]:
    """Each batch converted by `convert(n, batch)` (post id → chapter file), `jobs` at a
    time; a batch pandoc fails on gives nothing."""
    found: dict[str, T] = {}

    def one(n: int, batch: list[Post]) -> dict[str, T]:
        try:
            return convert(n, batch)
        except pandoc.PandocError:
            return {}

    with concurrent.futures.ThreadPoolExecutor(max(1, jobs)) as pool:
        for made in pool.map(one, range(len(batches)), batches):
            found.update(made)
    return found


_RAW_ID = re.compile(r"""<[A-Za-z][^>]*?\sid=["']([^"']+)["']""")
