"""EPUB 3 through pandoc: one chapter per post, a nested table of contents, our math.

A book of several series has a part per series (posts under it in series order) and a part
「其他文章」 for the rest by date; a book of one series has its posts as chapters.  Each post
is one chapter file, so equation numbers and `\\eqref` links (always within a post) stay in
one file; links between posts go through pandoc's own link resolution (`#post-ID`).

Math is MathML, or with `--math svg` each distinct formula once as an SVG image with alt text.
The cover is drawn here (Pillow, the CJK font of the system); nothing comes from the network.

The book's metadata goes to pandoc inside the document, as literal strings: a title from the
command line or a post is text, never markup.  When pandoc fails on the whole book, each
chapter is tried alone; the ones it fails on are reported and replaced by their post's plain
text (pipeline.document.fallback), and the book is written.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import zipfile
from pathlib import Path
from typing import Optional

from pipeline import pandoc
from pipeline.assemble import Collection, drop_heading_ids, post_anchor, settle_links
from pipeline.document import FALLBACK_NOTE, fallback, walk
from pipeline.diagnostics import Diagnostics
from pipeline.emit.common import AUTHOR, TEMPLATES, BuildOptions, book_id, build_date
from pipeline.emit.cover import draw_cover
from pipeline.fileio import atomic_file, scratch_dir
from pipeline.outputs import MARK
from pipeline.mathhtml import MathHTML, svg_files
from pipeline.render import plain_title
from pipeline.model import Post

def emit(collection: Collection, out: Path, options: BuildOptions, diagnostics: Diagnostics) -> Path:
    with scratch_dir("epub") as work:
        mathhtml = MathHTML(mode="img" if options.math == "svg" else "mathml",
                            image=svg_files(work / "math"))
        groups = collection.groups()
        depth = 1 if len(groups) == 1 and groups[0][0] is None else 2
        chapters = {post.id: _chapter(collection, post, mathhtml, depth) for post in collection.posts}
        when = build_date(collection)
        draw_cover(work / "cover.png", collection.title, AUTHOR, when)
        css = [(TEMPLATES / name).read_text(encoding="utf-8") for name in ("epub/book.css", "math.css")]
        (work / "book.css").write_text("".join(css), encoding="utf-8")
        book = Book(work, _metadata(collection, when), depth, when, len(collection.posts))
        with atomic_file(out) as target:
            try:
                book.write(_blocks(groups, chapters), target)
            except pandoc.PandocError:
                for post in collection.posts:
                    failure = book.failure(chapters[post.id])
                    if failure:
                        diagnostics.error("document-failed", f"pandoc could not put the post into the EPUB "
                                          f"({failure}): {FALLBACK_NOTE}", post.position)
                        chapters[post.id] = _chapter(collection, post, mathhtml, depth, fallback(post))
                book.write(_blocks(groups, chapters), target)      # fails only if no chapter is to blame
            _title_chapters(target)
    return out


class Book:
    """pandoc's EPUB writer with the book's stylesheet, cover and metadata, in `work`."""

    def __init__(self, work: Path, meta: dict, depth: int, when: dt.datetime, posts: int) -> None:
        self.work, self.meta, self.depth = work, meta, depth
        self.env = dict(os.environ, SOURCE_DATE_EPOCH=str(int(when.timestamp())))
        self.posts = posts

    def write(self, blocks: list[dict], target: Path) -> None:
        source = self.work / "book.json"
        source.write_text(json.dumps({"pandoc-api-version": pandoc.api_version(), "meta": self.meta,
                                      "blocks": blocks}, ensure_ascii=False), encoding="utf-8")
        pandoc.run([str(source), "--from=json", "--to=epub3", f"--output={target}",
                    f"--css={self.work / 'book.css'}", f"--epub-cover-image={self.work / 'cover.png'}",
                    f"--split-level={self.depth}", "--toc", f"--toc-depth={self.depth}", "--wrap=none",
                    "--syntax-highlighting=none"],
                   cwd=self.work, env=self.env, posts=self.posts)

    def failure(self, chapter: list[dict]) -> Optional[pandoc.PandocError]:
        """Why pandoc cannot write this chapter alone, or None when it can."""
        try:
            self.write(chapter, self.work / "alone.epub")
        except pandoc.PandocError as e:
            return e
        return None


def _blocks(groups: list[tuple[Optional[str], list[Post]]], chapters: dict[str, list[dict]]) -> list[dict]:
    blocks = []
    for n, (name, posts) in enumerate(groups, 1):
        if name is not None:
            blocks.append(_header(1, f"part-{n}", name, ["part"]))
        for post in posts:
            blocks.extend(chapters[post.id])
    return blocks


def _metadata(collection: Collection, when: dt.datetime) -> dict:
    """The book's metadata as pandoc's own JSON: every value a literal string, never read as
    Markdown (as a --metadata-file would be), so a title cannot carry markup into the book."""
    def text(value: str) -> dict:
        return {"t": "MetaString", "c": value}
    return {
        "title": text(collection.title), "author": text(AUTHOR), "lang": text("zh-Hans"),
        "identifier": {"t": "MetaList", "c": [{"t": "MetaMap", "c": {
            "scheme": text("UUID"), "text": text("urn:uuid:" + str(book_id(collection)))}}]},
        "date": text(when.date().isoformat()), "rights": text("文章版权归原作者所有（科学空间 kexue.fm）"),
        "description": text(f"{len(collection.posts)} 篇文章，选自科学空间（kexue.fm）"),
    }


_CHAPTER = re.compile(r"EPUB/text/ch\d+\.xhtml")
_HEADING = re.compile(r'<h[12]\b[^>]*class="(?:post-title|part)"[^>]*>(.*?)</h[12]>', re.S)


def _title_chapters(book: Path) -> None:
    """pandoc names each chapter file's <title> after the file (ch001.xhtml); readers show it,
    so it becomes the post's (or the part's) title.  Entries keep their order, dates and
    compression, so the book stays byte-for-byte reproducible."""
    with zipfile.ZipFile(book) as z:
        items = [(info, z.read(info.filename)) for info in z.infolist()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.comment = MARK.encode()          # how a later build knows the file is ours to replace
        for info, data in items:
            if _CHAPTER.fullmatch(info.filename):
                text = data.decode("utf-8")
                heading = _HEADING.search(text)
                if heading:
                    title = re.sub(r"<[^>]+>", "", heading.group(1)).strip()
                    text = re.sub(r"<title>[^<]*</title>", lambda _: f"<title>{title}</title>", text, count=1)
                data = text.encode("utf-8")
            z.writestr(info, data, compress_type=info.compress_type)
    book.write_bytes(buffer.getvalue())


def _header(level: int, ident: str, text: str, classes=()) -> dict:
    return {"t": "Header", "c": [level, [ident, list(classes), []], [{"t": "Str", "c": text}]]}


def _chapter(collection: Collection, post: Post, mathhtml: MathHTML, level: int,
             document: Optional[dict] = None) -> list[dict]:
    """The post's title, date and readers, then its text (`document`, default its AST)."""
    ast = mathhtml.document(document or collection.asts[post.id], post, collection.numbers[post.id],
                            collection.renders)
    settle_links(ast["blocks"], collection, lambda other, fragment: "#" + post_anchor(other))
    _shift_headers(ast["blocks"], level)
    meta = " · ".join(x for x in (post.date, f"{post.readers:,} 位读者" if post.readers else None) if x)
    head = [_header(level, post_anchor(post), plain_title(post.title), ["post-title"])]
    if meta:
        head.append({"t": "Div", "c": [["", ["post-meta"], []], [{"t": "Para", "c": [{"t": "Str", "c": meta}]}]]})
    return head + ast["blocks"]


def _shift_headers(blocks, by: int) -> None:
    """A post's own headings go below its title, and below the level pandoc splits files at."""
    drop_heading_ids(blocks)                 # they repeat between posts; a book needs none
    for node in walk(blocks):
        if node["t"] == "Header":
            node["c"][0] = min(node["c"][0] + by, 6)
