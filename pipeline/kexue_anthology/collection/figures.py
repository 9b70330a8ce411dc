"""Figures: each image of a post drawn once in every output, with its caption below.

    find_pictures()   at assembly: each image a post names, found — a file beside the post (checked,
                      inside the content folder) or a web image `anthology fetch` stored — with a
                      warning at its place for a local one missing or refused, and one for the whole
                      build naming how many web images are not stored
    draw_figures()    in a post's document: the blog's `[![说明](URL)](URL)` with its caption repeated
                      on the next line, or an image alone in its paragraph, becomes one figure (the
                      image, its caption below, in the site a link to the full-size file); an image
                      inside a sentence stays inline; an image not found is the captioned placeholder
                      (kexue_anthology.collection.links)

How an output draws a figure (where its files are, whether it links) is a `FigureStyle`.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from kexue_anthology.collection.collection import Collection
from kexue_anthology.core.diagnostics import Diagnostics
from kexue_anthology.core.model import Post
from kexue_anthology.documents.pandoc_ast import (
    Image,
    Link,
    Node,
    Para,
    Plain,
    RawBlock,
    RawInline,
    Str,
    block_lists,
    element,
    tag,
    text,
    walk,
)
from kexue_anthology.images.addresses import is_chrome, is_web, post_images
from kexue_anthology.images.pictures import Picture, local_picture, stored_picture
from kexue_anthology.images.store import REFUSED, ImageStore

MISSING = "image-missing"                # a writer's own image missing, unreadable, refused or outside
NOT_FETCHED = "images-not-fetched"       # the build's summary of web images not in the store
Pictures = dict[str, dict[str, Picture]]     # post id → address → its picture
_CAPTION_CHARS = 120                     # a line under an image without alt is its caption up to this


@dataclass(frozen=True)
class FigureStyle:
    """How an output draws a figure: its files at `prefix` + `Picture.file_name`, linked to the
    full-size file (`linked`: the site) and loaded when scrolled to (`lazy`: the site)."""
    prefix: str
    linked: bool = False
    lazy: bool = False


def find_pictures(posts: list[Post], cache_dir: Path | None, root: Path, diagnostics: Diagnostics,
                  images: Mapping[str, Sequence[tuple[str, str]]]) -> Pictures:
    """Each image of each post, found (see the module); the warnings are reported here, once a build.
    The images are those `anthology fetch` fetches (kexue_anthology.images.addresses: one finder);
    `images`: each post's, its address and alt text, in the order written (its outline's)."""
    store = ImageStore(cache_dir)
    found: Pictures = {}
    remote: dict[str, str] = {}            # web address → "missing" or "refused"
    for post in posts:
        mine = found.setdefault(post.id, {})
        for image in post_images(post, images.get(post.id, ())):
            address = image.address
            if is_web(address):
                if is_chrome(address):
                    continue                   # never fetched, never a figure: its placeholder, unannounced
                picture = stored_picture(address, store)
                if picture is None:
                    remote.setdefault(image.url, _why_not_stored(store, image.url))
                else:
                    mine[address] = picture
                continue
            result = local_picture(address, post.path, root)
            if isinstance(result, Picture):
                mine[address] = result
                continue
            diagnostics.warning(MISSING, f"image not shown: {result}; a placeholder stands in its place",
                                image.position)
    if remote:
        refused = sum(why == REFUSED for why in remote.values())
        missing = len(remote) - refused
        parts = [f"{missing} web image(s) not fetched; run `anthology fetch` to put them in the outputs"
                 ] if missing else []
        if refused:
            parts.append(f"{refused} refused when fetched (see the fetch's warnings)")
        diagnostics.warning(NOT_FETCHED, "; ".join(parts) + ": shown as their caption and address")
    return found


def _why_not_stored(store: ImageStore, url: str) -> str:
    record = store.record(url)
    return REFUSED if record is not None and record.status == REFUSED else "missing"


def place_figures(collection: Collection, folder: Path) -> None:
    """Every figure found written into `folder` (a book's work folder) under its content's name."""
    for found in collection.pictures.values():
        for picture in found.values():
            path = folder / picture.file_name
            if not path.exists():
                folder.mkdir(parents=True, exist_ok=True)
                path.write_bytes(picture.read())


def inline_figures(html_text: str, collection: Collection, prefix: str = "images/") -> str:
    """A body's figures (`prefix` + their file's name) as `data:` URLs: what WeasyPrint embeds
    is then named by the image's bytes, not by the build folder's (the PDF stays reproducible)."""
    names = {p.file_name: p for found in collection.pictures.values() for p in found.values()}

    def data_url(m: re.Match[str]) -> str:
        picture = names.get(m.group(2))
        if picture is None:
            return m.group(0)
        return f'{m.group(1)}="data:{picture.media_type};base64,{base64.b64encode(picture.read()).decode()}"'
    return re.sub(r'\b(src|href)="' + re.escape(prefix) + r'([0-9a-f]{16}\.[a-z]+)"', data_url, html_text)


def picture_digest(pictures: dict[str, Picture]) -> str:
    """A digest of what a post's figures are drawn from (for the caches of its HTML)."""
    return hashlib.sha256(repr(sorted((a, p.sha256, p.media_type, p.width, p.height)
                                      for a, p in pictures.items())).encode()).hexdigest()


def draw_figures(blocks: list[Node], pictures: dict[str, Picture], style: FigureStyle) -> None:
    """The post's images drawn in place (see the module): figures as blocks, images inside
    sentences as inline images; images not found are left for the placeholder."""
    _draw_in(blocks, pictures, style)
    for node in walk(blocks):
        for i, item in enumerate(inlines := _inline_list(node)):
            picture = _image_of(item, pictures)
            if picture is not None:
                image, picture_ = picture
                inlines[i] = RawInline.new("html", _img(picture_, _plain(image.inlines), style, "inline-image"))


def _inline_list(node: Node) -> list[Node]:
    """The inlines of a paragraph or of emphasis (an image inside a link's text keeps its placeholder)."""
    if tag(node) in ("Para", "Plain", "Emph", "Strong"):
        return cast("list[Node]", node["c"])
    if tag(node) == "Span":
        return cast("list[Node]", node["c"][1])
    return []


def _image_of(item: Node, pictures: dict[str, Picture]) -> tuple[Image, Picture] | None:
    """The image `item` is — an Image, or a Link holding only one — with its picture when found."""
    image = _image_item(item)
    if image is None or image.url not in pictures:
        return None
    return image, pictures[image.url]


def _image_item(item: Node) -> Image | None:
    if tag(item) == "Image":
        return Image(item)
    link = Link.of(item)
    if link is None:
        return None
    inner = [x for x in link.inlines if tag(x) not in ("Space", "SoftBreak", "LineBreak")]
    return Image(inner[0]) if len(inner) == 1 and tag(inner[0]) == "Image" else None


def _draw_in(blocks: list[Node], pictures: dict[str, Picture], style: FigureStyle) -> None:
    blocks[:] = [part for block in blocks for part in _unglued(block, pictures)]
    out: list[Node] = []
    i = 0
    while i < len(blocks):
        block = blocks[i]
        figures = _figure_para(block)
        if figures is None:
            for inner in block_lists(block):
                _draw_in(inner, pictures, style)
            out.append(block)
            i += 1
            continue
        last_image, last_caption = figures[-1]
        if last_caption is None and i + 1 < len(blocks) and _is_caption(blocks[i + 1], last_image):
            figures[-1] = (last_image, blocks[i + 1]["c"])
            i += 1
        for image, caption in figures:
            out.extend(_figure(image, caption, pictures, style))
        i += 1
    blocks[:] = out


def _unglued(block: Node, pictures: dict[str, Picture]) -> list[Node]:
    """A paragraph the scrape glued to its figures (no blank line around them) as paragraphs of text
    and of figures: a found image followed by its caption (its alt said again), or alone on its line,
    is a figure.  pandoc drops a line break between two CJK characters (east_asian_line_breaks), so a
    caption is found by what it says, to the character."""
    if tag(block) != "Para" or _figure_para(block) is not None:
        return [block]
    items = list(block["c"])
    parts: list[list[Node]] = []
    text: list[Node] = []
    i = 0
    while i < len(items):
        image = _image_item(items[i])
        if image is None or image.url not in pictures:
            text.append(items[i])
            i += 1
            continue
        after = _caption_after(items, i + 1, _key(image.inlines)) if _key(image.inlines) else None
        if after is None and not (_line_edge(items, i, -1) and _line_edge(items, i, 1)):
            text.append(items[i])      # an image inside a sentence
            i += 1
            continue
        if _trim(text):
            parts.append(_trim(text))
        text = []
        if after is None:
            parts.append([items[i]])
            i += 1
            continue
        caption, end, rest = after
        parts.append([items[i], element("LineBreak"), *caption])
        i = end
        if rest is not None:           # the text after the caption, on the caption's line
            i -= 1
            items[i] = rest
    if _trim(text):
        parts.append(_trim(text))
    return [Para.new(part) for part in parts] if text != block["c"] else [block]


def _line_edge(items: list[Node], i: int, step: int) -> bool:
    """Whether a line starts (step -1) or ends (step 1) next to items[i], spaces aside."""
    j = i + step
    while 0 <= j < len(items) and tag(items[j]) == "Space":
        j += step
    return not 0 <= j < len(items) or tag(items[j]) in ("SoftBreak", "LineBreak")


def _caption_after(items: list[Node], start: int, key: str) -> tuple[list[Node], int, Node | None] | None:
    """The inlines from `start` (breaks before them skipped) that say `key`, as (them, the index after
    the last, what is left of the last Str when it says more); None when they do not."""
    j = start
    while j < len(items) and _blank(items[j]):
        j += 1
    caption: list[Node] = []
    while j < len(items):
        item = items[j]
        said = _key(caption)
        if tag(item) == "Str":
            word = cast(str, item["c"])
            rest = key[len(said):]
            if len(_key([item])) > len(rest) and word.startswith(rest) and rest:
                return [*caption, Str.new(rest)], j + 1, Str.new(word[len(rest):])
        caption.append(item)
        j += 1
        said = _key(caption)
        if said == key:
            return caption, j, None
        if not key.startswith(said):
            return None
    return None


def _figure_para(block: Node) -> list[tuple[Image, list[Node] | None]] | None:
    """A paragraph of figures only — images, each perhaps followed by its caption repeated after a
    line break — as (image, caption inlines or None); None for any other block.  pandoc's own
    Figure (an image alone in its paragraph) is one figure, its caption the alt."""
    if tag(block) == "Figure":
        body = [x for b in block["c"][2] if tag(b) in ("Plain", "Para") for x in b["c"]]
        images = [im for x in body if (im := _image_item(x)) is not None]
        if len(images) == 1 and all(_blank(x) or _image_item(x) for x in body):
            return [(images[0], None)]
        return None
    if tag(block) not in ("Para", "Plain"):
        return None
    found: list[tuple[Image, list[Node] | None]] = []
    run: list[Node] = []
    for item in [*block["c"], None]:
        image = _image_item(item) if item is not None else None
        if item is not None and image is None:
            if _blank(item) and not run:
                continue
            run.append(item)
            continue
        if run:
            if not found or found[-1][1] is not None or _key(run) != _key(found[-1][0].inlines) \
                    or not _key(run):
                return None
            found[-1] = (found[-1][0], _trim(run))
            run = []
        if image is not None:
            found.append((image, None))
    return found or None


def _blank(item: Node) -> bool:
    return tag(item) in ("Space", "SoftBreak", "LineBreak")


def _trim(inlines: list[Node]) -> list[Node]:
    start, end = 0, len(inlines)
    while start < end and _blank(inlines[start]):
        start += 1
    while end > start and _blank(inlines[end - 1]):
        end -= 1
    return inlines[start:end]


def _key(inlines: list[Node]) -> str:
    """What a caption says, to compare the alt with the line under the image."""
    return re.sub(r"[\s\\]+", "", text(inlines))


def _is_caption(block: Node, image: Image) -> bool:
    """Whether `block` repeats `image`'s alt — or, when it has none, is a short plain line."""
    if tag(block) != "Para":
        return False
    alt = _key(image.inlines)
    if alt:
        return _key(block["c"]) == alt
    plain = all(tag(x) in ("Str", "Space", "SoftBreak", "Emph", "Strong", "Code") for x in block["c"])
    said = _key(block["c"])
    return plain and 0 < len(said) <= _CAPTION_CHARS and not any(tag(x) == "SoftBreak" for x in block["c"]) \
        and not said.endswith(("：", ":", "。"))


def _figure(image: Image, caption: list[Node] | None, pictures: dict[str, Picture], style: FigureStyle) -> list[Node]:
    words = caption if caption is not None else image.inlines
    picture = pictures.get(image.url)
    if picture is None:                # the placeholder (links.py) with the caption, as a block
        image.inlines[:] = words
        return [Para.new([image.node])]
    alt = _plain(image.inlines) or _plain(words)
    opening = '<figure class="figure">' + _img(picture, alt, style, "")
    if not _key(words):
        return [RawBlock.new("html", opening + "</figure>")]
    return [RawBlock.new("html", opening + "<figcaption>"), Plain.new(list(words)),
            RawBlock.new("html", "</figcaption></figure>")]


def _img(picture: Picture, alt: str, style: FigureStyle, cls: str) -> str:
    src = html.escape(style.prefix + picture.file_name)
    size = f' width="{picture.width}" height="{picture.height}"' if picture.width and picture.height else ""
    lazy = ' loading="lazy"' if style.lazy else ""
    kind = f' class="{cls}"' if cls else ""
    img = f'<img{kind} src="{src}" alt="{html.escape(alt)}"{size}{lazy} />'
    return f'<a class="figure-link" href="{src}">{img}</a>' if style.linked else img


def _plain(inlines: list[Node]) -> str:
    return re.sub(r"\s+", " ", text(inlines)).strip()
