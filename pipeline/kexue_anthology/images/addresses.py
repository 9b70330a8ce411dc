"""Which remote images the posts show: every Markdown image `![alt](http…)` outside code, with its place.

The blog writes a figure `[![说明](https://kexue.fm/usr/uploads/Y/M/N.png)](same URL)`; the inner image is
what is found here.  The site's own chrome (`/usr/themes/…`: the licence badge, the payment codes, the RSS
icon) is no figure, should a scrape leave it in a post's body.  Code blocks and spans are looked past as
the formula scanner looks past them (kexue_anthology.check.extract).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from kexue_anthology.check.extract import runs_for
from kexue_anthology.core.model import Post
from kexue_anthology.core.sourcetext import Position

IMAGE = re.compile(r"""!\[((?:\\.|[^\\\]\n])*)\]\(\s*<?(https?://[^\s<>()]+(?:\([^\s<>()]*\)[^\s<>()]*)*)>?"""
                   r"""(?:\s+(?:"[^"\n]*"|'[^'\n]*'))?\s*\)""", re.I)
CHROME = "/usr/themes/"


@dataclass(frozen=True)
class ImageAddress:
    """One remote image a post shows: its address, its alt text and where it is written."""
    url: str
    alt: str
    position: Position
    post_id: str


def is_chrome(url: str) -> bool:
    """The blog's theme images: never a figure."""
    return urlsplit(url).path.startswith(CHROME)


def post_images(post: Post) -> list[ImageAddress]:
    """The remote images of one post, in the order written."""
    text = post.body.text
    found = []
    for a, b in runs_for(text, post.body_format):
        for m in IMAGE.finditer(text, a, b):
            url = m.group(2)
            if not is_chrome(url):
                found.append(ImageAddress(url, m.group(1), post.body.position(m.start()), post.id))
    return found


def remote_images(posts: Iterable[Post]) -> list[ImageAddress]:
    """Every remote image of `posts` (an address shown twice is listed at each of its places)."""
    return [image for post in posts for image in post_images(post)]
