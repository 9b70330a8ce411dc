"""The ids a post's text is linked to by: its headings', its formulas', its footnotes', and in
a book of many posts its title's (`post_anchor`) and its headings' made its own (`heading_anchor`)."""

from __future__ import annotations

import re

from kexue_anthology.check.number import id_part
from kexue_anthology.core.model import Post, drawable, is_reference
from kexue_anthology.documents.pandoc_ast import Document, Header, Link, Node, text, walk
from kexue_anthology.formulas.drawing import Render
from kexue_anthology.formulas.mathhtml import formula_anchor


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


def formula_anchors(post: Post, renders: dict[tuple[str, int], Render]) -> set[str]:
    """The ids of the formulas shown as their source (kexue_anthology.formulas.mathhtml: `formula_anchor`)."""
    return {formula_anchor(f) for f in post.formulas
            if not is_reference(f) and (not drawable(f) or (post.id, f.index) not in renders)}


def heading_ids(ast: Document, links: list[Link] | None = None, images: list[Node] | None = None) -> list[str]:
    """Headings get the blog's ids, their own text (`…/archives/7343#进一步思考与分析`): the ids,
    in order.  The links met on the way are added to `links`, the images to `images`: one walk
    finds all."""
    seen: dict[str, None] = {}
    for node in walk(ast["blocks"]):
        kind = node["t"]
        if kind == "Link" and links is not None:
            links.append(Link(node))
        elif kind == "Image" and images is not None:
            images.append(node)
        elif kind == "Header":
            header = Header(node)
            base = re.sub(r"\s+", "-", text(header.inlines, code=False).strip()) or "section"
            name, n = base, 1
            while name in seen:
                n += 1
                name = f"{base}-{n}"
            header.attr.id = name
            seen[name] = None
    return list(seen)


def scope_heading_ids(blocks: list[Node], post: Post) -> None:
    """The headings' ids made the post's own (`heading_anchor`), for a book that holds many
    posts: their own text repeats between posts.  `settle_links(…, scoped=True)` sends the
    post's links to them there."""
    for node in walk(blocks):
        header = Header.of(node)
        if header and header.attr.id:
            header.attr.id = heading_anchor(post, header.attr.id)
