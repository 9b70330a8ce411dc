"""Links settled for every output alike.

A link to another post of the collection (`https://kexue.fm/archives/ID`, also the site-relative
`/archives/ID`) goes to that post wherever the emitter puts it (`post_link`), one to a post not
in it to the blog's page (the project's `source_url`); links whose scheme is not
http(s)/mailto (`javascript:` …) lose their target; images not drawn before (not found:
kexue_anthology.collection.figures) are shown as a captioned placeholder with their address.  Links that would
land nowhere were made text before (kexue_anthology.collection.dangling).
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

from kexue_anthology.collection.anchors import heading_anchor, post_anchor
from kexue_anthology.collection.collection import Collection, PostLink
from kexue_anthology.core.model import Post
from kexue_anthology.documents.pandoc_ast import Attr, Image, Link, Node, Span, Str, element, replace, tag, walk
from kexue_anthology.formulas.links import WEB_URL

ARCHIVE = re.compile(r"^(?:https?://(?:www\.)?(?:kexue\.fm|spaces\.ac\.cn))?/archives/(\d+)/?(#.*)?$")
SCHEME = re.compile(r"^\s*[A-Za-z][A-Za-z0-9+.-]*:")


def book_link(collection: Collection) -> PostLink:
    """`post_link` for a book of many posts in one document (EPUB, PDF): a link to another
    post goes to its heading or equation when the fragment names one, else to its title."""
    def link(other: Post, fragment: str) -> str:
        name = unquote(fragment[1:])
        if name in collection.headings.get(other.id, set()):
            return "#" + heading_anchor(other, name)
        return "#" + (name if name and name in collection.ids.get(other.id, set()) else post_anchor(other))
    return link


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
            if WEB_URL.match(url):
                return url
            return collection.source_url.rstrip("/") + url.strip()      # /archives/ID: the blog's
        fragment = unquote(m.group(2) or "")
        known = fragment[1:] in collection.ids.get(other.id, set())
        return post_link(other, "#" + quote(fragment[1:]) if known else "")
    if SCHEME.match(url) and not WEB_URL.match(url):
        return ""                              # javascript:, data:, file: …
    return url


def _placeholder(image: Image) -> Node:
    """An image: a box with its caption and its address, a link when it is a web address."""
    url = image.url
    caption = image.inlines or [Str.new("图片")]
    web = WEB_URL.match(url) or url.strip().startswith("//")
    link = Link.new(Attr.new(), [Str.new(url)], url if web else "")
    return Span.new(Attr.new("", ["image-placeholder"]),
                    [Span.new(Attr.new("", ["image-caption"]), caption), element("LineBreak"), link])
