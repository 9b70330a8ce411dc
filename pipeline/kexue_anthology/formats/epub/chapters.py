"""The chapter cache of the EPUB: each chapter's XHTML file as pandoc wrote it, kept by a key over
its post's text, title and the book around it (`chapter_key`), and the placeholder pandoc is
given in its stead (`placeholder`: what it must know of the file); the whole book and its
cover are kept too.

pandoc names the media of a book (drawings of formulas, figures) `media/fileN.ext` in the order
it meets them in the whole book: first every Image and raw inline <img> of the book, then every
<img> of a raw block.  A chapter is cached with its media named by their source instead
(`Chapter`: `normalized`), with the sources in the order pandoc met them, in the two passes;
the placeholder holds them in that order and pass, so the book's run names them as a run over
the whole book does, and the cached text gets the names of that run (`named`).  Sources are
found by content: a drawing's and a figure's file are named by their content's hash.  Each
source's bytes are kept too (`MediaStore`), for a book that does not draw it again."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from kexue_anthology.collection.anchors import post_anchor
from kexue_anthology.collection.bodies import body_key
from kexue_anthology.collection.collection import Collection
from kexue_anthology.collection.figures import FigureStyle
from kexue_anthology.collection.links import book_link
from kexue_anthology.core.cache import BlobCache, Cache
from kexue_anthology.core.cache import key as cache_key
from kexue_anthology.core.model import Post
from kexue_anthology.documents.pandoc_ast import Node, Para, RawBlock, RawInline, tag, walk
from kexue_anthology.formats.epub.accessibility import FIGURE, PLACEHOLDER
from kexue_anthology.formats.templates import post_meta
from kexue_anthology.formulas.mathhtml import MathHTML

_ID = re.compile(r'\sid="([^"]+)"')


@dataclass
class Chapter:
    """A chapter file as cached: its text with each medium named `\0source\0` (`normalized`), and
    the sources in the order pandoc named them, met inline (Image, raw inline) or in a raw block."""
    text: str
    inline: list[str] = field(default_factory=list)
    block: list[str] = field(default_factory=list)

    def sources(self) -> list[str]:
        return [*self.inline, *self.block]


_MEDIA_REF = re.compile(r"\.\./media/(file\d+\.[A-Za-z0-9]+)")
_TOKEN = re.compile("\0([^\0]+)\0")
_IMG_SRC = re.compile(r"""<img\b[^>]*?\ssrc=["']([^"']+)["']""")


def media_kinds(blocks: list[Node]) -> tuple[set[str], set[str]]:
    """The sources of the images of `blocks` pandoc meets in its inline pass (Image, raw inline
    HTML) and in its block pass (raw HTML blocks)."""
    inline: set[str] = set()
    block: set[str] = set()
    for node in walk(blocks):
        kind = tag(node)
        if kind == "Image":
            inline.add(node["c"][2][0])
        elif kind in ("RawInline", "RawBlock") and node["c"][0] in ("html", "html5", "html4"):
            (inline if kind == "RawInline" else block).update(_IMG_SRC.findall(node["c"][1]))
    return inline, block


def normalized(text: str, sources: dict[str, str], blocks: list[Node]) -> Chapter | None:
    """The chapter file `text` as cached: each `../media/fileN.ext` named by its source
    (`sources`: pandoc's name → the source's path in the work folder), the sources ordered as
    pandoc numbered them in each pass (`media_kinds` of the chapter's `blocks`); None when a
    medium's source is not known."""
    names = sorted(dict.fromkeys(_MEDIA_REF.findall(text)), key=lambda n: int(n[4:].split(".")[0]))
    if any(name not in sources for name in names):
        return None
    inline, block = media_kinds(blocks)
    ordered = [sources[name] for name in names]
    if any(src not in inline and src not in block for src in ordered):
        return None
    text = _MEDIA_REF.sub(lambda m: f"\0{sources[m.group(1)]}\0", text)
    return Chapter(text, [s for s in ordered if s in inline], [s for s in ordered if s in block])


def named(chapter: Chapter, names: dict[str, str]) -> str:
    """The cached chapter's text with each source named as in this book (`names`: source →
    pandoc's `fileN.ext`)."""
    return _TOKEN.sub(lambda m: f"../media/{names[m.group(1)]}", chapter.text)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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
        self.media = BlobCache(cache_dir, "epub-media")

    def chapter(self, k: str, work: Path) -> Chapter | None:
        """The cached chapter, its media's sources put back into the `work` folder; None when
        it or one of them is not cached."""
        value = self.chapters.get(k)
        if not (isinstance(value, dict) and isinstance(value.get("text"), str)
                and value["text"].startswith("<?xml")):
            return None
        chapter = Chapter(value["text"], list(value.get("inline", [])), list(value.get("block", [])))
        for src in chapter.sources():
            path = work / src
            if not path.exists():
                data = self.media.get_bytes(src)
                if data is None:
                    return None
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
        return chapter

    def put(self, k: str, chapter: Chapter, work: Path) -> None:
        for src in chapter.sources():
            if self.media.get_bytes(src) is None:
                self.media.put_bytes(src, (work / src).read_bytes())
        self.chapters.put(k, {"text": chapter.text, "inline": chapter.inline, "block": chapter.block})


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


def chapter_ids(chapter: Chapter) -> list[str]:
    """Every id of a cached chapter's file, as often as it is there."""
    return _ID.findall(chapter.text)


def placeholder(post: Post, chapter: Chapter) -> list[Node]:
    """For a chapter taken from the cache, what pandoc must still see of the file's content
    after its heading (the contents are made of it) — every id (a link from another chapter to
    it is resolved by pandoc), whether it holds MathML or SVG (the manifest says so), what
    accessibility_metadata reads, and its media in the order and pass pandoc met them — in
    raw HTML; the file pandoc writes for it is then replaced."""
    xhtml = chapter.text
    ids = "".join(f'<span id="{ident}"></span>' for ident in dict.fromkeys(chapter_ids(chapter))
                  if ident != post_anchor(post))
    marks = "".join(f"{name}></{name[1:]}>" for name in ("<math", "<svg") if name in xhtml)
    for mark, html in ((PLACEHOLDER, f"<span {PLACEHOLDER}></span>"), (FIGURE, f"{FIGURE}</figure>"),
                       ('class="inline-image"', '<span class="inline-image"></span>')):
        if mark in xhtml:           # read by accessibility_metadata
            marks += html
    img = '<img class="math-img" src="{}" alt=""/>' if 'class="math-img"' in xhtml else '<img src="{}" alt=""/>'
    nodes: list[Node] = []
    if chapter.inline:
        nodes.append(Para.new([RawInline.new("html", img.format(src)) for src in chapter.inline]))
    blocks = "".join(img.format(src) for src in chapter.block)
    return [RawBlock.new("html", f"<div>{ids}{marks}{blocks}</div>"), *nodes]
