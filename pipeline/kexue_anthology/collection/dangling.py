"""Links that would land nowhere in an output.

Every link must land in every output: a link to an anchor the output has (a heading, an
equation, a formula) stays, and one to anything else — scrape damage such as `E[L(…)](3)`,
which pandoc reads as a link to the file `3`, or a footnote reference `[1](#fn:1)` whose note
the scrape lost — is shown as the text the author wrote, brackets and target included, with a
`dangling-link` warning at its place in the source (`LinkLocator`).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from kexue_anthology.collection.collection import Collection
from kexue_anthology.collection.links import ARCHIVE, SCHEME
from kexue_anthology.collection.outline import own_image
from kexue_anthology.core.model import Post
from kexue_anthology.documents.locate import LinkLocator
from kexue_anthology.documents.pandoc_ast import Attr, Document, Link, Node, Span, Str, replace
from kexue_anthology.formulas.links import WEB_URL

DANGLING = "dangling-link"


def unlink_dangling(collection: Collection, post: Post, ast: Document) -> None:
    """Every link of `post` (its document `ast`) that would land nowhere in an output becomes the
    text the author wrote — `[` its text `](` its target `)` — with a `dangling-link` warning where
    it stands in the source.  A link lands when its target is a web address (http, https, mailto;
    also `//host/…`, made https), a post of the collection (`…/archives/ID`), or `#ID` of a heading,
    an equation or a formula of the post (a fragment written with spaces for the heading's `-`
    is mended).  Other schemes (`javascript:` …) are left to `settle_links`, which drops them."""
    ids = collection.ids.get(post.id, set())
    where: LinkLocator | None = None

    def as_text(node: Node) -> Node | None:
        nonlocal where
        link = Link.of(node)
        if link is None:
            return None
        url, title = link.url, link.title
        problem = dangling(url, ids, link)
        if problem is None:
            return None
        where = where or LinkLocator(post)
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


def dangling(url: str, ids: set[str], link: Link) -> str | None:
    """Why a link to `url` lands nowhere, or None when it lands (`link` is then mended: `landing`)."""
    problem, target = landing(url, ids, own_image(link))
    if problem is None and target != url:
        link.url = target
    return problem


def landing(url: str, ids: set[str], own_image: bool) -> tuple[str | None, str]:
    """Why a link to `url` lands nowhere (None when it lands), and the target it lands on: `url`,
    or mended (`//host/…` made https, a fragment made the id it names).  A link holding only an
    image of the same address (`own_image`) is that figure's (kexue_anthology.collection.figures)."""
    bare = url.strip()
    if WEB_URL.match(bare) or own_image:
        return None, url
    if bare.startswith("//"):
        return None, "https:" + bare
    if ARCHIVE.match(bare):
        return None, url                       # the post in the collection, else the blog's page
    if SCHEME.match(bare):
        return None, url                       # javascript: … lose their target (settle_links)
    if bare.startswith("#"):
        fragment = unquote(bare[1:])
        for name in (fragment, re.sub(r"\s+", "-", fragment.strip())):
            if name in ids:
                return None, "#" + name
        if not fragment:
            return "`#` names no anchor", url
        return f"no heading, equation, formula or footnote of this post has the id {fragment!r}", url
    if not bare:
        return "it has no target", url
    return f"{bare!r} is no web address, no post of the collection and no anchor of this post", url
