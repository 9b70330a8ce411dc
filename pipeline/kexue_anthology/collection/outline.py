"""What the assemble stage reads off a post's document — its headings' ids, its links' targets,
its images, the posts of the blog it names — kept in the cache beside the document under the
document's own key (kexue_anthology.documents.lazy), so that a rebuild assembles the whole blog
without reading a document it does not show anew.  An outline is made by one walk of the
document (`heading_ids`), which sets the headings' ids in it as it goes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kexue_anthology.collection.anchors import heading_ids
from kexue_anthology.core.cache import Cache, key
from kexue_anthology.core.model import Post
from kexue_anthology.documents.lazy import Documents
from kexue_anthology.documents.pandoc_ast import Document, Image, Link, Node, tag, text

OUTLINE_VERSION = 1       # raised whenever what an outline holds or how it is read off changes
_ARCHIVE = re.compile(r"/archives/(\d+)")


@dataclass(frozen=True)
class Outline:
    headings: list[str]                 # the ids `heading_ids` gives the headings, in order
    links: list[tuple[str, bool]]       # each link's target, and whether it holds only its own image
    images: list[tuple[str, str]]       # each image's address and alt text, in the order written
    archives: list[str]                 # the ids of the blog's posts it names (`/archives/ID`), sorted


def outline(ast: Document) -> Outline:
    """The document's outline, its headings' ids set on the way (`heading_ids`)."""
    links: list[Link] = []
    images: list[Node] = []
    headings = heading_ids(ast, links, images)
    return Outline(headings=list(headings), links=[(link.url, own_image(link)) for link in links],
                   images=[(image.url, text(image.inlines)) for image in map(Image, images)],
                   archives=sorted(set(_ARCHIVE.findall(json.dumps(ast["blocks"], ensure_ascii=False)))))


def outlines(posts: Sequence[Post], asts: Documents, cache: Cache | None,
             walked: set[str] | None = None) -> dict[str, Outline]:
    """Each post's outline: from the cache for a document read from it only when asked for (its
    key names it), else made (and kept) from the document, whose headings' ids it sets (the
    post's id is added to `walked`)."""
    found: dict[str, Outline] = {}
    for post in posts:
        k = asts.key(post.id)
        entry = key("outline", OUTLINE_VERSION, k) if k is not None and cache is not None else None
        known = _outline(cache.get(entry)) if entry is not None and cache is not None else None
        if known is None:
            known = outline(asts[post.id])
            if walked is not None:
                walked.add(post.id)
            if entry is not None and cache is not None:
                cache.put(entry, [known.headings, known.links, known.images, known.archives])
        found[post.id] = known
    return found


def _outline(value: Any) -> Outline | None:
    """An outline as cached, None when it is not one (damaged)."""
    try:
        headings, links, images, archives = value
        return Outline(headings=[str(h) for h in headings], links=[(str(u), bool(o)) for u, o in links],
                       images=[(str(u), str(a)) for u, a in images], archives=[str(a) for a in archives])
    except (TypeError, ValueError):
        return None


def own_image(link: Link) -> bool:
    """Whether a link holds only an image of its own address (the blog's `[![说明](URL)](URL)`: that figure's)."""
    inner = [x for x in link.inlines if tag(x) not in ("Space", "SoftBreak", "LineBreak")]
    return len(inner) == 1 and tag(inner[0]) == "Image" and Image(inner[0]).url.strip() == link.url.strip()
