"""The chapter cache of the EPUB: each chapter's XHTML file as pandoc wrote it, kept by a key over
its post's text, title and the book around it (`chapter_key`), and the placeholder pandoc is
given in its stead (`placeholder`: what it must know of the file); the whole book and its
cover are kept too."""

from __future__ import annotations

import re
from pathlib import Path

from kexue_anthology.collection.anchors import post_anchor
from kexue_anthology.collection.bodies import body_key
from kexue_anthology.collection.collection import Collection
from kexue_anthology.collection.figures import FigureStyle
from kexue_anthology.collection.links import book_link
from kexue_anthology.core.cache import BlobCache, Cache
from kexue_anthology.core.cache import key as cache_key
from kexue_anthology.core.model import Post
from kexue_anthology.documents.pandoc_ast import Node, RawBlock
from kexue_anthology.formats.epub.accessibility import PLACEHOLDER
from kexue_anthology.formats.templates import post_meta
from kexue_anthology.formulas.mathhtml import MathHTML

_ID = re.compile(r'\sid="([^"]+)"')


class Misplaced(RuntimeError):
    """A chapter file pandoc wrote is not the one `chapter_files` said it would be."""


class ChapterStore:
    """The cache of a book's parts: each chapter's XHTML file as written (by `chapter_key`,
    MathML books only: an SVG book's drawings, as a chapter's figures, are named by their order in
    the whole book),
    the whole book (by all that goes into it) and the cover."""

    def __init__(self, cache_dir: Path | None) -> None:
        self.chapters = Cache(cache_dir, "epub-chapters")
        self.books = BlobCache(cache_dir, "epub-books")

    def chapter(self, k: str, mode: str) -> str | None:
        text = self.chapters.get(k) if mode == "mathml" else None
        # pandoc names a figure's file by its order in the whole book: a chapter with one is made anew
        return text if isinstance(text, str) and text.startswith("<?xml") and "<img" not in text else None


def chapter_files(groups: list[tuple[str | None, list[Post]]]) -> dict[str, str]:
    """The file pandoc writes each part (by its anchor) and each post (by its id) into: one
    file per heading it splits at, numbered in order (`ch001.xhtml` …)."""
    files: dict[str, str] = {}
    for n, (name, posts) in enumerate(groups, 1):
        if name is not None:
            files[f"#part-{n}"] = chapter_file(len(files) + 1)
        for post in posts:
            files[post.id] = chapter_file(len(files) + 1)
    return files


def chapter_file(n: int) -> str:
    return f"EPUB/text/ch{n:03d}.xhtml"


def chapter_key(collection: Collection, post: Post, mathhtml: MathHTML, context: str, heading_ids: bool,
                figures: FigureStyle | None = None) -> str:
    """A key over everything a post's chapter file is made of: its text (`body_key`), title and
    readers, and the book around it (`context`: where every post's file is, the metadata,
    pandoc and the emitter's version, EPUB_VERSION)."""
    body = body_key(collection, post, mathhtml, book_link(collection), heading_ids, figures=figures)
    return cache_key("epub-chapter", context, body, post.title, post_meta(post))


def placeholder(post: Post, xhtml: str) -> Node:
    """For a chapter whose file (`xhtml`) is taken from the cache, what pandoc must still see of
    the file's content after its heading (the contents are made of it) — every id (a link from
    another chapter to it is resolved by pandoc) and whether it holds MathML or SVG (the
    manifest says so) — in one raw block; the file pandoc writes for it is then replaced."""
    ids = "".join(f'<span id="{ident}"></span>' for ident in dict.fromkeys(_ID.findall(xhtml))
                  if ident != post_anchor(post))
    marks = "".join(f"{name}></{name[1:]}>" for name in ("<math", "<svg") if name in xhtml)
    if PLACEHOLDER in xhtml:        # read by accessibility_metadata
        marks += f'<span {PLACEHOLDER}></span>'
    return RawBlock.new("html", f"<div>{ids}{marks}</div>")
