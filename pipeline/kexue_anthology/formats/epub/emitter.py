"""EPUB 3 through pandoc: one chapter per post, a nested table of contents, our math.

A book of several series has a part per series (posts under it in series order) and a part
「其他文章」 for the rest by date; a book of one series has its posts as chapters.  Each post
is one chapter file, so equation numbers and `\\eqref` links (always within a post) stay in
one file; links between posts go through pandoc's own link resolution (`#post-ID`, a heading
`#post-ID_HEADING`: heading ids are made the post's own).  Every XHTML file is checked with an
XML parser before the book is closed, and mended when pandoc wrote it badly (`well_formed`).

Math is MathML, or with `--math svg` each distinct formula once as an SVG image with alt text.
The cover is the project's image (PNG or JPEG) or drawn here (Pillow, the CJK font of the
system); nothing comes from the network.

The book's metadata goes to pandoc inside the document, as literal strings: a title from the
command line or a post is text, never markup.  Every book-level word (title, subtitle, author,
language, source, licence) is the project's (`options.project`, kexue_anthology.config.project).  The package
document carries EPUB Accessibility 1.1's discovery metadata, read off the content pandoc is
given (`_accessibility`: MathML or drawings, alt text, placeholders for images).  pandoc's own
title page and landmarks are replaced by ours (templates/epub/front.xhtml, styled like the
PDF's title page), its cover picture is labelled, and the contents are titled 目录.

When pandoc fails on the whole book, each chapter is tried alone; the ones it fails on are
reported and replaced by their post's plain text (kexue_anthology.documents.document.fallback), and the book is
written.

A rebuild is incremental and writes the same bytes as a build from scratch.  The whole book is
cached by a key over all that goes into it (each chapter's key, the metadata, stylesheet and
cover): nothing changed, nothing is run.  Each chapter's file is cached by a key over its post's
text, title and the book around it (`_chapter_key`); pandoc's EPUB writer, whose time goes into
reading the raw HTML of the math, is given for such a chapter only its heading and what it must
know of the file (its ids, whether it holds MathML or SVG: `_placeholder`), and the file it
writes is replaced by the cached one.  Books with `--math svg` cache whole books only: pandoc
names their drawings by their order in the whole book.  A chapter shown as plain text is never
cached, so that it is reported again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import io
import json
import os
import re
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import PIL

from kexue_anthology.collection.assemble import Collection, body_key, book_link, post_anchor, post_blocks
from kexue_anthology.config.project import Project
from kexue_anthology.config.settings import Settings
from kexue_anthology.core.cache import BlobCache, Cache
from kexue_anthology.core.cache import key as cache_key
from kexue_anthology.core.diagnostics import Diagnostics
from kexue_anthology.core.errors import SetupError
from kexue_anthology.core.fileio import atomic_file, scratch_dir
from kexue_anthology.core.model import Post
from kexue_anthology.core.outputs import MARK
from kexue_anthology.documents import pandoc
from kexue_anthology.documents.document import FALLBACK_NOTE, fallback
from kexue_anthology.documents.pandoc_ast import Attr, Document, Header, Node, RawBlock, Str, element, walk
from kexue_anthology.formats.base import Emitter
from kexue_anthology.formats.common import (
    TEMPLATES,
    book_id,
    build_date,
    cjk_serif_font,
    environment,
    post_meta,
)
from kexue_anthology.formats.cover import cover_image, draw_cover
from kexue_anthology.formulas.formula_text import plain_title
from kexue_anthology.formulas.mathhtml import MathHTML, svg_files


class EPUBEmitter(Emitter):
    name = "epub"
    help = "an EPUB 3 book, one chapter per post"
    default_out = "{name}.epub"
    math_choices = ("mathml", "svg")
    svg_embedding = "img"                 # each distinct drawing once in the book, with alt text

    def file_problem(self, key: str, path: Path) -> str | None:
        """A cover that is not a whole PNG or JPEG (kexue_anthology.formats.cover.cover_image)."""
        if key == "cover":
            try:
                cover_image(path)
            except SetupError as e:
                return str(e)
        return None

    def write(self, collection: Collection, out: Path, options: Settings, diagnostics: Diagnostics) -> Path:
        with scratch_dir("epub") as work:
            mathhtml = MathHTML(mode=self.math_mode(options.math), image=svg_files(work / "math"))
            groups = collection.groups()
            depth = 1 if len(groups) == 1 and groups[0][0] is None else 2
            when = build_date(collection)
            store = _Store(options.cache_dir)
            css = "".join((TEMPLATES / name).read_text(encoding="utf-8") for name in ("epub/book.css", "math.css"))
            (work / "book.css").write_text(css, encoding="utf-8")
            project = options.project
            cover_name, cover = _cover(work, collection.title, project, when, store)
            book = Book(work, _metadata(collection, when, project), depth, when, len(collection.posts), cover_name)
            files = _chapter_files(groups)
            front = _front(collection, project, when, files)
            context = cache_key(EPUB_VERSION, pandoc.version(), depth, book.meta, when.isoformat(), files,
                                mathhtml.mode, front)
            keys = {post.id: _chapter_key(collection, post, mathhtml, context) for post in collection.posts}
            book_key = cache_key("epub-book", context, css, hashlib.sha256(cover).hexdigest(),
                                 [(name, [keys[post.id] for post in posts]) for name, posts in groups])
            whole = store.books.get_bytes(book_key)
            if whole is None or not zipfile.is_zipfile(io.BytesIO(whole)):
                done = {post.id: text for post in collection.posts
                        if (text := store.chapter(keys[post.id], mathhtml.mode)) is not None}
                try:
                    made, fell_back = _written(collection, book, mathhtml, files, done, front, diagnostics)
                except _Misplaced:          # never seen: the book is written whole instead
                    done = {}
                    made, fell_back = _written(collection, book, mathhtml, files, done, front, diagnostics)
                for post in collection.posts:
                    if post.id not in done and post.id not in fell_back:
                        store.chapters.put(keys[post.id], made[files[post.id]])
                whole = (work / "book.epub").read_bytes()
                if not fell_back:          # a post shown as plain text is reported again by the next build
                    store.books.put_bytes(book_key, whole)
            _write_if_changed(out, whole)
        return out


def _written(collection: Collection, book: Book, mathhtml: MathHTML, files: dict[str, str], done: dict[str, str],
             front: Front, diagnostics: Diagnostics) -> tuple[dict[str, str], set[str]]:
    """The book written into its work folder (`book.epub`), the chapters of `done` (post id →
    the chapter file made before) taken as they are, the front matter (`front`) set in: the
    text of each chapter file, and the posts shown as plain text because pandoc failed on them."""
    chapters = {post.id: _placeholder(post, book.depth, done[post.id]) if post.id in done
                else _chapter(collection, post, mathhtml, book.depth) for post in collection.posts}
    groups = collection.groups()
    fell_back: set[str] = set()
    target = book.work / "book.epub"
    try:
        book.write(_blocks(groups, chapters), target)
    except pandoc.PandocError:
        for post in collection.posts:
            failure = None if post.id in done else book.failure(chapters[post.id])
            if failure:
                diagnostics.error("document-failed", f"pandoc could not put the post into the EPUB "
                                  f"({failure}): {FALLBACK_NOTE}", post.position)
                chapters[post.id] = _chapter(collection, post, mathhtml, book.depth, fallback(post))
                fell_back.add(post.id)
        book.write(_blocks(groups, chapters), target)      # fails only if no chapter is to blame
    spliced = {files[post.id]: (post_anchor(post), text) for post in collection.posts
               if (text := done.get(post.id)) is not None}
    return _title_chapters(target, spliced, front), fell_back


EMITTER = EPUBEmitter()
EPUB_VERSION = 6          # raised whenever what a chapter file or the book is made of changes here


class _Misplaced(RuntimeError):
    """A chapter file pandoc wrote is not the one `_chapter_files` said it would be."""


class _Store:
    """The cache of a book's parts: each chapter's XHTML file as written (by `_chapter_key`,
    MathML books only: an SVG book's drawings are named by their order in the whole book),
    the whole book (by all that goes into it) and the cover."""

    def __init__(self, cache_dir: Path | None) -> None:
        self.chapters = Cache(cache_dir, "epub-chapters")
        self.books = BlobCache(cache_dir, "epub-books")

    def chapter(self, k: str, mode: str) -> str | None:
        text = self.chapters.get(k) if mode == "mathml" else None
        return text if isinstance(text, str) and text.startswith("<?xml") else None


def _chapter_files(groups: list[tuple[str | None, list[Post]]]) -> dict[str, str]:
    """The file pandoc writes each part (by its anchor) and each post (by its id) into: one
    file per heading it splits at, numbered in order (`ch001.xhtml` …)."""
    files: dict[str, str] = {}
    for n, (name, posts) in enumerate(groups, 1):
        if name is not None:
            files[f"#part-{n}"] = _chapter_file(len(files) + 1)
        for post in posts:
            files[post.id] = _chapter_file(len(files) + 1)
    return files


def _chapter_file(n: int) -> str:
    return f"EPUB/text/ch{n:03d}.xhtml"


def _chapter_key(collection: Collection, post: Post, mathhtml: MathHTML, context: str) -> str:
    """A key over everything a post's chapter file is made of: its text (`body_key`), title and
    readers, and the book around it (`context`: where every post's file is, the metadata,
    pandoc and this module's version)."""
    body = body_key(collection, post, mathhtml, book_link(collection), EMITTER.keeps_heading_ids)
    return cache_key("epub-chapter", context, body, post.title, post_meta(post))


def _cover(work: Path, title: str, project: Project, when: dt.datetime, store: _Store) -> tuple[str, bytes]:
    """The cover's file in `work` and its bytes: the project's image (checked to be PNG or JPEG),
    else the one drawn (kexue_anthology.formats.cover), taken from the cache when the same words, year,
    fonts and drawing code made it before."""
    if project.cover is not None:
        path = work / f"cover.{cover_image(project.cover)}"
        given = project.cover.read_bytes()
        path.write_bytes(given)
        return path.name, given
    path = work / "cover.png"
    fonts = [cjk_serif_font(bold=True), cjk_serif_font()]
    code = Path(draw_cover.__code__.co_filename)
    words = (title, project.subtitle, project.author, project.source)
    k = cache_key("epub-cover", words, when.isoformat(), [(str(f.file), f.index, _stat(f.file)) for f in fonts],
                  hashlib.sha256(code.read_bytes()).hexdigest(), PIL.__version__)
    data = store.books.get_bytes(k)
    if data is None:
        draw_cover(path, title, project.author, project.source, when, project.subtitle)
        data = path.read_bytes()
        store.books.put_bytes(k, data)
    else:
        path.write_bytes(data)
    return path.name, data


def _stat(path: Path) -> list[int]:
    info = path.stat()
    return [info.st_size, info.st_mtime_ns]


def _placeholder(post: Post, depth: int, xhtml: str) -> list[Node]:
    """A chapter whose file is taken from the cache: its heading (the contents are made of
    it), then what pandoc must still see of the file's content — every id (a link from
    another chapter to it is resolved by pandoc) and whether it holds MathML or SVG (the
    manifest says so) — in one raw block; the file pandoc writes for it is then replaced."""
    ids = "".join(f'<span id="{ident}"></span>' for ident in dict.fromkeys(_ID.findall(xhtml))
                  if ident != post_anchor(post))
    marks = "".join(f"{name}></{name[1:]}>" for name in ("<math", "<svg") if name in xhtml)
    if _PLACEHOLDER in xhtml:        # read by _accessibility
        marks += f'<span {_PLACEHOLDER}></span>'
    return [*_head(post, depth), RawBlock.new("html", f"<div>{ids}{marks}</div>")]


_ID = re.compile(r'\sid="([^"]+)"')
_PLACEHOLDER = 'class="image-placeholder"'      # an image of the post, not in the book (assemble.py)


def _write_if_changed(out: Path, data: bytes) -> None:
    try:
        if out.is_file() and out.stat().st_size == len(data) and out.read_bytes() == data:
            return
    except OSError:
        pass
    with atomic_file(out) as target:
        target.write_bytes(data)


class Book:
    """pandoc's EPUB writer with the book's stylesheet, cover and metadata, in `work`."""

    def __init__(self, work: Path, meta: dict[str, Node], depth: int, when: dt.datetime, posts: int,
                 cover: str) -> None:
        self.work, self.meta, self.depth = work, meta, depth
        self.env = dict(os.environ, SOURCE_DATE_EPOCH=str(int(when.timestamp())))
        self.posts, self.cover = posts, cover

    def write(self, blocks: list[Node], target: Path) -> None:
        source = self.work / "book.json"
        content = json.dumps(blocks, ensure_ascii=False)
        meta = json.dumps({**self.meta, **_accessibility(content)}, ensure_ascii=False)
        source.write_text(f'{{"pandoc-api-version": {json.dumps(pandoc.api_version())}, "meta": {meta}, '
                          f'"blocks": {content}}}', encoding="utf-8")
        pandoc.run([str(source), "--from=json", "--to=epub3", f"--output={target}",
                    f"--css={self.work / 'book.css'}", f"--epub-cover-image={self.work / self.cover}",
                    f"--split-level={self.depth}", "--toc", f"--toc-depth={self.depth}", "--wrap=none",
                    "--syntax-highlighting=none"],
                   cwd=self.work, env=self.env, posts=self.posts)

    def failure(self, chapter: list[Node]) -> pandoc.PandocError | None:
        """Why pandoc cannot write this chapter alone, or None when it can."""
        try:
            self.write(chapter, self.work / "alone.epub")
        except pandoc.PandocError as e:
            return e
        return None


def _blocks(groups: list[tuple[str | None, list[Post]]], chapters: dict[str, list[Node]]) -> list[Node]:
    blocks: list[Node] = []
    for n, (name, posts) in enumerate(groups, 1):
        if name is not None:
            blocks.append(_header(1, f"part-{n}", name, ["part"]))
        for post in posts:
            blocks.extend(chapters[post.id])
    return blocks


def _meta_text(value: str) -> Node:
    return element("MetaString", value)


def _metadata(collection: Collection, when: dt.datetime, project: Project) -> dict[str, Node]:
    """The book's metadata as pandoc's own JSON: every value a literal string, never read as
    Markdown (as a --metadata-file would be), so a title cannot carry markup into the book.
    A subtitle is a second dc:title, refined as the subtitle."""
    text = _meta_text
    title = text(collection.title)
    if project.subtitle:
        title = element("MetaList", [element("MetaMap", {"type": text(kind), "text": text(value)})
                                     for kind, value in (("main", collection.title), ("subtitle", project.subtitle))])
    meta = {
        "title": title, "author": text(project.author), "lang": text(project.language),
        "identifier": element("MetaList", [element("MetaMap", {
            "scheme": text("UUID"), "text": text("urn:uuid:" + str(book_id(collection)))})]),
        "date": text(when.date().isoformat()),
        "description": text(project.description(len(collection.posts))),
        "toc-title": text(CONTENTS),
    }
    if project.licence:
        meta["rights"] = text(project.licence)
    return meta


CONTENTS = "目录"


def _accessibility(content: str) -> dict[str, Node]:
    """EPUB Accessibility 1.1's discovery metadata (schema.org) for a book whose content, as
    pandoc's JSON, is `content`: MathML, drawings (SVG or <img>, each with its TeX as alt text:
    kexue_anthology.formulas.mathhtml) and placeholders for the posts' images are read off it, so that what the
    metadata says holds for this book.  The cover is no content (it says what the title page
    says) and needs no `visual` access mode."""
    mathml = "<math" in content
    drawn = "<svg" in content or json.dumps('<img class="math-img"')[1:-1] in content
    placeholders = '"image-placeholder"' in content or json.dumps(_PLACEHOLDER)[1:-1] in content
    modes = ["textual"] + (["visual", "mathOnVisual"] if drawn else [])
    features = ["tableOfContents", "readingOrder", "structuralNavigation", "displayTransformability",
                "alternativeText"]
    if mathml:
        features.append("MathML")
    if mathml or drawn:
        features.append("describedMath")
    summary = ["本书为可重排的电子书：有目录、逐级的标题结构和与原文一致的阅读顺序，"
               "文字可由阅读软件调整字体与字号，朗读软件可读出全部内容。"]
    if mathml and drawn:
        summary.append("公式以 MathML 编写；含链接的公式画作 SVG 图形。每个公式都以其 TeX 源码为替代文字。")
    elif mathml:
        summary.append("公式以 MathML 编写，每个公式都以其 TeX 源码为替代文字（alttext）。")
    elif drawn:
        summary.append("公式画作 SVG 图片，每个公式都以其 TeX 源码为替代文字（alt）。")
    if placeholders:
        summary.append("原文的图片未收录，以其图注和地址代替。")
    summary.append("封面图片附有文字说明。没有闪烁、动画或声音。")

    def strings(values: list[str]) -> Node:
        return element("MetaList", [_meta_text(v) for v in values])
    return {
        "accessModes": strings(modes),
        "accessModeSufficient": strings(["textual"] + (["textual,visual"] if drawn else [])),
        "accessibilityFeatures": strings(features),
        "accessibilityHazards": strings(["none"]),
        "accessibilitySummary": _meta_text("".join(summary)),
    }


Front = dict[str, str]
"""What the front matter is made of (`_front`): the title page's section, the landmarks, the cover's label."""


def _front(collection: Collection, project: Project, when: dt.datetime, files: dict[str, str]) -> Front:
    """The title page (as the PDF's: title, subtitle, author, source, how many posts and the year,
    the licence), the landmarks (cover, title page, 目录, the first chapter) and the cover's alt
    text, to be set into the files pandoc writes (`_title_chapters`)."""
    partials = environment().get_template("epub/front.xhtml").module
    title_page = environment().get_template("title_page.html").module.title_page  # type: ignore[attr-defined]
    first = next(iter(files.values()), None)
    label = "封面：" + "，".join(x for x in (collection.title, project.subtitle, project.author) if x)
    return {"title_page": str(title_page(collection.title, project, len(collection.posts), when.strftime("%Y"),
                                         epub=True)).strip(),
            "landmarks": str(partials.landmarks(first and first.removeprefix("EPUB/"))).strip(),  # type: ignore[attr-defined]
            "cover": label}


_CHAPTER = re.compile(r"EPUB/text/ch\d+\.xhtml")
_HEADING = re.compile(r'<h[12]\b[^>]*class="(?:post-title|part)"[^>]*>(.*?)</h[12]>', re.S)


def _title_chapters(book: Path, spliced: dict[str, tuple[str, str]], front: Front) -> dict[str, str]:
    """pandoc names each chapter file's <title> after the file (ch001.xhtml); readers show it,
    so it becomes the post's (or the part's) title.  The title page, the landmarks and the
    cover get the front matter (`_front`: `_set_front`).  Every XHTML file is made well-formed XML
    (`well_formed`): a reader cannot open a chapter that is not.  The files named in `spliced`
    (a chapter taken from the cache, `_placeholder`: the post's anchor and its file as it was
    made before) are replaced by that text; a file not holding the anchor raises _Misplaced.
    Entries keep their order, dates and compression, so the book stays byte-for-byte
    reproducible.  Returns the text of every chapter file."""
    with zipfile.ZipFile(book) as z:
        items = [(info, z.read(info.filename)) for info in z.infolist()]
    chapters: dict[str, str] = {}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.comment = MARK.encode()          # how a later build knows the file is ours to replace
        for info, data in items:
            if info.filename in spliced:
                anchor, made = spliced[info.filename]
                if f'id="{anchor}"' not in data.decode("utf-8"):
                    raise _Misplaced(f"{info.filename} is not the chapter of #{anchor}")
                chapters[info.filename] = made
                data = made.encode("utf-8")
            elif info.filename == "EPUB/content.opf":
                data = _set_front(info.filename, data.decode("utf-8"), front).encode("utf-8")
            elif info.filename.endswith(".xhtml"):
                text = _set_front(info.filename, data.decode("utf-8"), front)
                heading = _HEADING.search(text) if _CHAPTER.fullmatch(info.filename) else None
                if heading:
                    title = re.sub(r"<[^>]+>", "", heading.group(1)).strip()
                    text = re.sub(r"<title>[^<]*</title>", _literally(f"<title>{title}</title>"), text, count=1)
                text = well_formed(text, info.filename)
                if _CHAPTER.fullmatch(info.filename):
                    chapters[info.filename] = text
                data = text.encode("utf-8")
            z.writestr(info, data, compress_type=info.compress_type)
    book.write_bytes(buffer.getvalue())
    return chapters


def _set_front(name: str, text: str, front: Front) -> str:
    """pandoc's title page, landmarks, cover picture and the guide's name of the cover replaced
    by ours (`_front`); a file that is not as pandoc writes it stays as it is (the tests would
    see it)."""
    if name == "EPUB/text/title_page.xhtml":
        return _TITLE_PAGE.sub(_literally(front["title_page"]), text, count=1)
    if name == "EPUB/nav.xhtml":
        return _LANDMARKS.sub(_literally(front["landmarks"]), text, count=1)
    if name == "EPUB/content.opf":             # the EPUB 2 guide's names, as the landmarks'
        return text.replace('<reference type="cover" title="Cover"', '<reference type="cover" title="封面"', 1)
    if name == "EPUB/text/cover.xhtml":
        label = html.escape(front["cover"])
        return _COVER.sub(lambda m: f'{m.group(1)} role="img" aria-label="{label}"{m.group(2)}<title>{label}</title>',
                          text, count=1)
    return text


_TITLE_PAGE = re.compile(r'<section epub:type="titlepage"[^>]*>.*?</section>', re.S)
_LANDMARKS = re.compile(r'<nav epub:type="landmarks"[^>]*>.*?</nav>', re.S)
_COVER = re.compile(r"(<svg\b[^>]*?)(\s*>)")


def _literally(replacement: str) -> Callable[[re.Match[str]], str]:
    """A replacement for `re.sub` taken as it is (no backslash or group references)."""
    return lambda _: replacement


# --- XHTML that is XML ---------------------------------------------------------------------------
class NotXML(RuntimeError):
    """An XHTML file of the book that no repair makes well-formed: a fault of the tool."""


def well_formed(text: str, name: str = "") -> str:
    """`text` as it is when an XML parser reads it; else with its tags written again as XML
    (pandoc's EPUB writer passes raw HTML through TagSoup, which writes an empty attribute
    bare, `<mtable columnalign>`); else the whole file parsed as HTML5 and written by an XML
    serializer.  What no step mends raises NotXML, naming the file and the parser's complaint."""
    problem = _xml_problem(text)
    if problem is None:
        return text
    for mend in (_xml_tags, _reserialized):
        mended = mend(text)
        if _xml_problem(mended) is None:
            return mended
    raise NotXML(f"{name or 'an XHTML file'} of the EPUB is not well-formed XML ({problem})")


def _xml_problem(text: str) -> str | None:
    try:
        ElementTree.fromstring(text.encode("utf-8"))
    except ElementTree.ParseError as e:
        return str(e)
    return None


_TAG = re.compile(r"<([A-Za-z][\w:.-]*)((?:\s+[^\s=/>\"'<]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'=<>`]+))?)*)\s*(/?)>")
_ATTRIBUTE = re.compile(r"([^\s=/>\"'<]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'=<>`]+)))?")
_KEEP_EMPTY = ("alt", "alttext", "title")      # said when empty; any other empty attribute says nothing


def _xml_tags(text: str) -> str:
    """Each start tag written again as XML: a bare attribute dropped (`alt` and the like get
    `""`), an unquoted value quoted, a repeated attribute kept once, `&` and `<` in values escaped."""
    def tag(m: re.Match[str]) -> str:
        seen: set[str] = set()
        attributes: list[str] = []
        for a in _ATTRIBUTE.finditer(m.group(2)):
            name = a.group(1)
            value = next((v for v in a.groups()[1:] if v is not None), None)
            if name in seen or (value is None and name not in _KEEP_EMPTY):
                continue
            seen.add(name)
            attributes.append(f' {name}="{_attribute(html.unescape(value or ""))}"')
        return f"<{m.group(1)}{''.join(attributes)}{' /' if m.group(3) else ''}>"
    return _TAG.sub(tag, text)


def _attribute(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


def _reserialized(text: str) -> str:
    """The file read as HTML5 (as a browser would) and written by an XML serializer."""
    import tinyhtml5  # WeasyPrint's HTML parser, installed with it

    root = tinyhtml5.parse(text)
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html>\n']
    _write(root, out, None)
    return "".join(out)


def _write(root: ElementTree.Element, out: list[str], parent_ns: str | None) -> None:
    """An element and its subtree as XML, without recursion: each namespace declared where it
    starts (XHTML at the root, with `epub:`), names without prefixes."""
    # a comment's or processing instruction's tag is a function, not a name
    stack: list[str | tuple[ElementTree.Element[Any], str | None]] = [(root, parent_ns)]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        node, outer = item
        if not isinstance(node.tag, str):                 # a comment or processing instruction
            stack.append(_text(node.tail))
            continue
        ns, _, local = node.tag[1:].partition("}") if node.tag.startswith("{") else ("", "", node.tag)
        attributes = []
        if ns != outer:
            attributes.append(f' xmlns="{ns}"' if ns else "")
            if outer is None:
                attributes.append(' xmlns:epub="http://www.idpf.org/2007/ops"')
        for key, value in node.attrib.items():
            key = key.split("}")[-1] if key.startswith("{") else key
            if key in ("xmlns",) or key.startswith("xmlns:") or not re.fullmatch(r"[A-Za-z_][\w.:-]*", key):
                continue
            attributes.append(f' {key}="{_attribute(value)}"')
        out.append(f"<{local}{''.join(attributes)}>{_text(node.text)}")
        stack.append(f"</{local}>{_text(node.tail)}")
        stack.extend((child, ns) for child in reversed(list(node)))


def _text(text: str | None) -> str:
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _header(level: int, ident: str, text: str, classes: Sequence[str] = ()) -> Node:
    return Header.new(level, Attr.new(ident, classes), [Str.new(text)])


def _chapter(collection: Collection, post: Post, mathhtml: MathHTML, level: int,
             document: Document | None = None) -> list[Node]:
    """The post's title, date and readers, then its text (`document`, default its AST)."""
    blocks = post_blocks(collection, post, mathhtml, book_link(collection), EMITTER.keeps_heading_ids, document)
    _shift_headers(blocks, level)
    return _head(post, level) + blocks


def _head(post: Post, level: int) -> list[Node]:
    """The post's title (a heading of `level`, where pandoc starts a file), date and readers."""
    meta = post_meta(post)
    head = [_header(level, post_anchor(post), plain_title(post.title), ["post-title"])]
    if meta:
        head.append(RawBlock.new("html", f'<div class="post-meta">\n<p>{meta}</p>\n</div>'))
    return head


def _shift_headers(blocks: list[Node], level: int) -> None:
    """A post's own headings go below its title (of `level`, where pandoc splits files), its
    topmost one level under it: no level skipped between the title and the post's first heading,
    which a screen reader's list of headings would show as a gap."""
    headers = [header for node in walk(blocks) if (header := Header.of(node))]
    by = level + 1 - min((header.level for header in headers), default=1)
    for header in headers:
        header.level = min(header.level + by, 6)
