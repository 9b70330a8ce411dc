"""Which images a post shows, and where it writes them: the one finder of `anthology fetch` and of a build.

Every `Image` of the post's document (kexue_anthology.documents.document) is found as pandoc reads
it — `![说明](URL)`, the blog's `[![说明](URL)](URL)`, a reference `![说明][ref]`, a protocol-relative
`//host/…` — so what a fetch stores is exactly what a build looks up.  Its place is the `!` where the
author wrote it (kexue_anthology.documents.locate), or the post's start when its address is written
elsewhere (a reference's definition).  The site's own chrome (`/usr/themes/…`: the licence badge,
the payment codes, the RSS icon) is no figure, should a scrape leave it in a post's body.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from kexue_anthology.core.model import Post
from kexue_anthology.core.sourcetext import Position
from kexue_anthology.documents.locate import LinkLocator
from kexue_anthology.documents.pandoc_ast import Document, Image, tag, text, walk

CHROME = "/usr/themes/"
_WEB = re.compile(r"^\s*(?:https?:)?//", re.I)


@dataclass(frozen=True)
class ImageAddress:
    """One image a post shows: its address as written, its alt text and where it is written."""
    address: str
    alt: str
    position: Position
    post_id: str

    @property
    def url(self) -> str:
        """The address fetched and stored under (`web_url`)."""
        return web_url(self.address)


def is_web(address: str) -> bool:
    """Whether an address is one to fetch (http, https, `//host/…`), not a file beside the post."""
    return bool(_WEB.match(address))


def web_url(address: str) -> str:
    """A web address as fetched and stored: `//host/…` made https."""
    url = address.strip()
    return "https:" + url if url.startswith("//") else url


def is_chrome(url: str) -> bool:
    """The blog's theme images: never a figure."""
    return urlsplit(web_url(url)).path.startswith(CHROME)


def document_images(ast: Document) -> list[tuple[str, str]]:
    """Every image of a document: its address and alt text, in the order written."""
    return [(image.url, text(image.inlines)) for image in map(Image, (n for n in walk(ast["blocks"])
                                                                      if tag(n) == "Image"))]


def post_images(post: Post, images: Sequence[tuple[str, str]]) -> list[ImageAddress]:
    """Every image of one post's document (`images`: each one's address and alt text in the
    order written, `document_images`), with the place it is written."""
    found: list[ImageAddress] = []
    where: LinkLocator | None = None
    for url, alt in images:
        where = where or LinkLocator(post)
        located = where.find(url)
        start = where.start(located) if located else None
        if start is not None and start > 0 and where.text[start - 1] == "!":
            start -= 1
        found.append(ImageAddress(url, alt, post.body.position(start) if start is not None else post.position,
                                  post.id))
    return found


def web_images(post: Post, ast: Document) -> list[ImageAddress]:
    """The images of one post to fetch: web addresses, not the blog's chrome."""
    return [image for image in post_images(post, document_images(ast))
            if is_web(image.address) and not is_chrome(image.address)]


def remote_images(posts: Iterable[Post], asts: Mapping[str, Document]) -> list[ImageAddress]:
    """Every web image of `posts` (an address shown twice is listed at each of its places)."""
    return [image for post in posts for image in web_images(post, asts[post.id])]
