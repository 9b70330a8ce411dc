"""EPUB 3 through pandoc: one chapter per post, a nested table of contents, our math.

A book of several series has a part per series (posts under it in series order) and a part
「其他文章」 for the rest by date; a book of one series has its posts as chapters.  Each post
is one chapter file, so equation numbers and `\\eqref` links (always within a post) stay in
one file; links between posts go through pandoc's own link resolution (`#post-ID`, a heading
`#post-ID_HEADING`: heading ids are made the post's own).  Every XHTML file is checked with an
XML parser before the book is closed, and mended when pandoc wrote it badly (kexue_anthology.formats.epub.xhtml).

Math is MathML, or with `--math svg` each distinct formula once as an SVG image with alt text.
The cover is the project's image (PNG or JPEG) or drawn here (Pillow, the CJK font of the
system); nothing comes from the network.

The book's metadata goes to pandoc inside the document, as literal strings: a title from the
command line or a post is text, never markup.  Every book-level word (title, subtitle, author,
language, source, licence) is the project's (`options.project`, kexue_anthology.config.project).  The package
document carries EPUB Accessibility 1.1's discovery metadata, read off the content pandoc is
given (kexue_anthology.formats.epub.accessibility: MathML or drawings, alt text, placeholders for images).  pandoc's own
title page and landmarks are replaced by ours (templates/epub/front.xhtml, styled like the
PDF's title page), its cover picture is labelled, and the contents are titled 目录.

When pandoc fails on the whole book, each chapter is tried alone; the ones it fails on are
reported and replaced by their post's plain text (kexue_anthology.documents.document.fallback), and the book is
written.

A rebuild is incremental and writes the same bytes as a build from scratch.  The whole book is
cached by a key over all that goes into it (each chapter's key, the metadata, stylesheet and
cover): nothing changed, nothing is run.  Each chapter's file is cached by a key over its post's
text, title and the book around it (kexue_anthology.formats.epub.chapters); pandoc's EPUB writer, whose time goes into
reading the raw HTML of the math, is given for such a chapter only its heading and what it must
know of the file (its ids, whether it holds MathML or SVG: `placeholder`), and the file it
writes is replaced by the cached one.  A first build converts the chapters missing from the cache
ahead, in `--jobs` pandoc runs side by side (kexue_anthology.formats.epub.batches), then writes the book
so, in either math mode (with `--math svg` only when asked: the book's run copies every drawing
again).  pandoc names the media (the drawings of `--math svg`, the figures) by their order in the
whole book: a cached chapter names them by their source, and the placeholder
holds them so that the book's run names them as one run over the whole book does
(kexue_anthology.formats.epub.chapters).  A chapter shown as plain text is never cached, so
that it is reported again.

A rebuild after edits that leave the book around the edited chapters as it was (the same
placeholders, metadata, stylesheet and cover: the same skeleton) runs no pandoc over the whole
book: the edited chapters are written in a small book of their own and put into the last book
made around that skeleton, nothing else deflated again (kexue_anthology.formats.epub.rebuild,
kexue_anthology.formats.epub.rezip).
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

import PIL

from kexue_anthology import TEMPLATES
from kexue_anthology.collection.anchors import post_anchor
from kexue_anthology.collection.bodies import post_blocks
from kexue_anthology.collection.collection import Collection
from kexue_anthology.collection.figures import FigureStyle, place_figures
from kexue_anthology.collection.links import book_link
from kexue_anthology.config.project import Project
from kexue_anthology.config.settings import Settings
from kexue_anthology.core.cache import key as cache_key
from kexue_anthology.core.diagnostics import Diagnostics
from kexue_anthology.core.errors import SetupError
from kexue_anthology.core.fileio import scratch_dir, write_if_changed
from kexue_anthology.core.model import Post
from kexue_anthology.core.outputs import MARK
from kexue_anthology.documents import pandoc
from kexue_anthology.documents.document import FALLBACK_NOTE, fallback
from kexue_anthology.documents.pandoc_ast import Attr, Document, Header, Node, RawBlock, Str, element
from kexue_anthology.formats.base import Emitter, Option, positive
from kexue_anthology.formats.common import build_date
from kexue_anthology.formats.cover import cover_image, draw_cover
from kexue_anthology.formats.epub import batches as epub_batches
from kexue_anthology.formats.epub import rezip
from kexue_anthology.formats.epub.accessibility import accessibility_metadata, meta_string
from kexue_anthology.formats.epub.chapters import (
    Chapter,
    ChapterStore,
    Misplaced,
    chapter_files,
    chapter_ids,
    chapter_key,
    digest,
    named,
    normalized,
    placeholder,
)
from kexue_anthology.formats.epub.rebuild import Skeletons, own_ids, renamed, small_book
from kexue_anthology.formats.epub.xhtml import NotXML, well_formed
from kexue_anthology.formats.fonts import cjk_serif_font
from kexue_anthology.formats.ids import book_id
from kexue_anthology.formats.templates import environment, post_meta
from kexue_anthology.formulas.formula_text import plain_title
from kexue_anthology.formulas.mathhtml import MathHTML, svg_files


class EPUBEmitter(Emitter):
    name = "epub"
    help = "an EPUB 3 book, one chapter per post"
    default_out = "{name}.epub"
    math_choices = ("mathml", "svg")
    svg_embedding = "img"                 # each distinct drawing once in the book, with alt text

    def options(self) -> list[Option]:
        return [*super().options(),
                Option("--jobs", "convert the chapters of a first build in N pandoc processes at once (default: "
                                 "one per processor, at most 2; with --math svg, 1)", type=positive, metavar="N")]

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
            place_figures(collection, work / "images")
            groups = collection.groups()
            depth = 1 if len(groups) == 1 and groups[0][0] is None else 2
            when = build_date(collection)
            store = ChapterStore(options.cache_dir)
            css = "".join((TEMPLATES / name).read_text(encoding="utf-8") for name in ("epub/book.css", "math.css"))
            (work / "book.css").write_text(css, encoding="utf-8")
            project = options.project
            cover_name, cover = _cover(work, collection.title, project, when, store)
            book = EPUBWriter(work, _metadata(collection, when, project), depth, when, len(collection.posts),
                              cover_name)
            files = chapter_files(groups)
            front = _front(collection, project, when, files)
            context = cache_key(EPUB_VERSION, pandoc.version(), depth, book.meta, when.isoformat(), files,
                                mathhtml.mode, front)
            keys = {post.id: chapter_key(collection, post, mathhtml, context, self.keeps_heading_ids, FIGURES)
                    for post in collection.posts}
            book_key = cache_key("epub-book", context, css, hashlib.sha256(cover).hexdigest(),
                                 [(name, [keys[post.id] for post in posts]) for name, posts in groups])
            whole = store.books.get_bytes(book_key)
            if whole is None or not zipfile.is_zipfile(io.BytesIO(whole)):
                cached = {post.id: chapter for post in collection.posts
                          if (chapter := store.chapter(keys[post.id], work)) is not None}
                skeletons = Skeletons(options.cache_dir)

                def skeleton(chapters: dict[str, Chapter]) -> str:
                    """The key of the book's run with every chapter its placeholder: all but
                    the chapter files come from it."""
                    blocks = _blocks(groups, {post.id: [*_head(post, depth), *placeholder(post, chapters[post.id])]
                                              for post in collection.posts})
                    return cache_key("epub-skeleton", context, css, hashlib.sha256(cover).hexdigest(), cover_name,
                                     hashlib.sha256(book.source(blocks).encode("utf-8")).hexdigest())

                # a first build (or one after many edits) converts the chapters in batches below, not twice
                few = len(collection.posts) - len(cached) <= max(_FEW_EDITED, len(collection.posts) // 8)
                quick = _edited(collection, groups, book, mathhtml, files, cached, front, skeleton, skeletons,
                                store) if few else None
                if quick is not None:
                    whole, converted, names, skeleton_key = quick
                    for post_id, chapter in converted.items():
                        store.put(keys[post_id], chapter, work)
                    store.books.put_bytes(book_key, whole)
                    skeletons.put(skeleton_key, book_key, names)
                    write_if_changed(out, whole)
                    return out
                # drawings as files (`--math svg`): the book's own run copies every drawing again, so
                # batches ahead cost more than they save unless asked for (`--jobs N`)
                jobs = options.jobs or (1 if mathhtml.mode != "mathml" else min(2, os.cpu_count() or 1))
                ahead = _ahead(collection, book, mathhtml, files, cached, front, jobs)
                done = {**cached, **ahead}
                try:
                    made, fell_back, names = _written(collection, book, mathhtml, files, done, front, diagnostics)
                except Misplaced:          # never seen: the book is written whole instead
                    done = {}
                    made, fell_back, names = _written(collection, book, mathhtml, files, done, front, diagnostics)
                for post in collection.posts:
                    if post.id not in cached and post.id not in fell_back:
                        chapter = ahead.get(post.id) or made.get(post.id)
                        if chapter is not None:
                            store.put(keys[post.id], chapter, work)
                whole = (work / "book.epub").read_bytes()
                if not fell_back:          # a post shown as plain text is reported again by the next build
                    store.books.put_bytes(book_key, whole)
                    every = {**cached, **ahead, **made}
                    if all(post.id in every for post in collection.posts):
                        skeletons.put(skeleton(every), book_key, names)
            write_if_changed(out, whole)
        return out


def _written(collection: Collection, book: EPUBWriter, mathhtml: MathHTML, files: dict[str, str],
             done: dict[str, Chapter], front: Front,
             diagnostics: Diagnostics) -> tuple[dict[str, Chapter], set[str], dict[str, str]]:
    """The book written into its work folder (`book.epub`), the chapters of `done` (post id →
    the chapter file made before) taken as they are, the front matter (`front`) set in: each
    chapter converted in this run, as cached (None: its media's sources are not known), the
    posts shown as plain text because pandoc failed on them, and the media's names (source →
    pandoc's `fileN.ext`)."""
    chapters = {post.id: [*_head(post, book.depth), *placeholder(post, done[post.id])] if post.id in done
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
    spliced = {files[post.id]: (post_anchor(post), chapter) for post in collection.posts
               if (chapter := done.get(post.id)) is not None}
    made, sources = _title_chapters(target, spliced, front)
    return {post.id: chapter for post in collection.posts if post.id not in done
            if (chapter := normalized(made[files[post.id]], sources, chapters[post.id])) is not None}, fell_back, \
        {src: name for name, src in sources.items()}


def _edited(collection: Collection, groups: list[tuple[str | None, list[Post]]], book: EPUBWriter,
            mathhtml: MathHTML, files: dict[str, str],
            cached: dict[str, Chapter], front: Front, skeleton: Callable[[dict[str, Chapter]], str],
            skeletons: Skeletons,
            store: ChapterStore) -> tuple[bytes, dict[str, Chapter], dict[str, str], str] | None:
    """The book when the posts not in `cached` can be written in a small book of their own and
    the book around them is as it was (kexue_anthology.formats.epub.rebuild): its bytes, each
    chapter converted (post id → as cached), the media's names and the skeleton's key; None
    when not."""
    converted = _converted(collection, groups, book, mathhtml, files, cached, front)
    if converted is None:
        return None
    chapters = {**cached, **converted}
    skeleton_key = skeleton(chapters)
    found = skeletons.get(skeleton_key)
    last = store.books.get_bytes(found[0]) if found is not None else None
    if found is None or last is None:
        return None
    names = found[1]
    try:
        entries, comment = rezip.read(last)
    except rezip.BadZip:
        return None
    by_file = {files[post.id]: post.id for post in collection.posts}
    replace: dict[str, bytes] = {}
    for entry in entries:
        if entry.name in by_file:
            try:
                data = named(chapters[by_file.pop(entry.name)], names).encode("utf-8")
            except KeyError:
                return None
            if data != entry.content:
                replace[entry.name] = data
    if by_file or comment != MARK.encode():
        return None
    return rezip.written(entries, replace, comment), converted, names, skeleton_key


def _converted(collection: Collection, groups: list[tuple[str | None, list[Post]]], book: EPUBWriter,
               mathhtml: MathHTML, files: dict[str, str], cached: dict[str, Chapter],
               front: Front) -> dict[str, Chapter] | None:
    """The chapter of each post not in `cached` (post id → as cached), written in a small book
    (kexue_anthology.formats.epub.rebuild.small_book) as the run over the whole book writes
    it; None when it might not be."""
    heads = {post.id: _head(post, book.depth) for post in collection.posts}
    full = {post.id: _chapter(collection, post, mathhtml, book.depth) for post in collection.posts
            if post.id not in cached}
    if not full:
        return {}
    parts = {f"#part-{n}": _header(1, f"part-{n}", name, ["part"]) for n, (name, _) in enumerate(groups, 1)
             if name is not None}
    ids: dict[str, list[str]] = {anchor: [anchor[1:]] for anchor in parts}
    for post in collection.posts:
        chapter = cached.get(post.id)
        ids[post.id] = (own_ids(heads[post.id], full[post.id][len(heads[post.id]):]) if chapter is None
                        else [post_anchor(post), *dict.fromkeys(chapter_ids(chapter))])
    plan = small_book(groups, files, full, heads, parts, ids)
    if plan is None:
        return None
    blocks, mapping = plan
    target = book.work / "edited.epub"
    try:
        book.write(blocks, target)
        made, sources = _title_chapters(target, {}, front, write=False)
    except (pandoc.PandocError, NotXML):
        return None
    small = {whole: part for part, whole in mapping.items()}
    converted: dict[str, Chapter] = {}
    for post_id, chapter_blocks in full.items():
        text = renamed(made.get(small[files[post_id]], ""), mapping)
        chapter = normalized(text, sources, chapter_blocks) if text else None
        if chapter is None or text is None or f'id="{ids[post_id][0]}"' not in text:
            return None
        converted[post_id] = chapter
    return converted


def _ahead(collection: Collection, book: EPUBWriter, mathhtml: MathHTML, files: dict[str, str],
           done: dict[str, Chapter], front: Front, jobs: int) -> dict[str, Chapter]:
    """The chapter files of the posts not in `done` converted ahead in `jobs` batches side by
    side (kexue_anthology.formats.epub.batches): post id → the chapter as cached."""
    todo = [post for post in collection.posts if post.id not in done]
    full = {post.id: _chapter(collection, post, mathhtml, book.depth) for post in todo}
    weights = {post_id: len(json.dumps(blocks, ensure_ascii=False)) for post_id, blocks in full.items()}
    batches = epub_batches.ahead(todo, lambda post: weights[post.id], jobs)
    if not batches:
        return {}
    heads = {post.id: _head(post, book.depth) for post in collection.posts}
    others = {post.id: [*heads[post.id], *placeholder(post, done[post.id])] if post.id in done
              else epub_batches.stand_in(heads[post.id], full[post.id][len(heads[post.id]):])
              for post in collection.posts}
    groups = collection.groups()

    def convert(n: int, batch: list[Post]) -> dict[str, Chapter]:
        target = book.work / f"batch-{n}.epub"
        book.write(_blocks(groups, {**others, **{post.id: full[post.id] for post in batch}}), target)
        made, sources = _title_chapters(target, {}, front, write=False)
        return {post.id: chapter for post in batch
                if (chapter := normalized(made[files[post.id]], sources, full[post.id])) is not None}

    return epub_batches.run_side_by_side(batches, convert, jobs)


EMITTER = EPUBEmitter()
FIGURES = FigureStyle("images/")        # pandoc, run in the work folder, puts each in the book and its manifest
_FEW_EDITED = 8           # at most so many changed chapters (or an eighth of the book) are tried in a small book
EPUB_VERSION = 10         # raised whenever what a chapter file or the book is made of changes here


def _cover(work: Path, title: str, project: Project, when: dt.datetime, store: ChapterStore) -> tuple[str, bytes]:
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


class EPUBWriter:
    """pandoc's EPUB writer with the book's stylesheet, cover and metadata, in `work`."""

    def __init__(self, work: Path, meta: dict[str, Node], depth: int, when: dt.datetime, posts: int,
                 cover: str) -> None:
        self.work, self.meta, self.depth = work, meta, depth
        self.env = dict(os.environ, SOURCE_DATE_EPOCH=str(int(when.timestamp())))
        self.posts, self.cover = posts, cover

    def source(self, blocks: list[Node]) -> str:
        """pandoc's input for the book of `blocks`."""
        content = json.dumps(blocks, ensure_ascii=False)
        meta = json.dumps({**self.meta, **accessibility_metadata(content)}, ensure_ascii=False)
        return f'{{"pandoc-api-version": {json.dumps(pandoc.api_version())}, "meta": {meta}, "blocks": {content}}}'

    def write(self, blocks: list[Node], target: Path) -> None:
        source = target.with_suffix(".json")
        source.write_text(self.source(blocks), encoding="utf-8")
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


def _metadata(collection: Collection, when: dt.datetime, project: Project) -> dict[str, Node]:
    """The book's metadata as pandoc's own JSON: every value a literal string, never read as
    Markdown (as a --metadata-file would be), so a title cannot carry markup into the book.
    A subtitle is a second dc:title, refined as the subtitle."""
    text = meta_string
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


def _title_chapters(book: Path, spliced: dict[str, tuple[str, Chapter]], front: Front,
                    write: bool = True) -> tuple[dict[str, str], dict[str, str]]:
    """pandoc names each chapter file's <title> after the file (ch001.xhtml); readers show it,
    so it becomes the post's (or the part's) title.  The title page, the landmarks and the
    cover get the front matter (`_front`: `_set_front`).  Every XHTML file is made well-formed XML
    (`well_formed`): a reader cannot open a chapter that is not.  The files named in `spliced`
    (a chapter taken from the cache, `placeholder`: the post's anchor and its file as it was
    made before) are replaced by that text, its media named as in this book; a file not holding
    the anchor raises Misplaced.  Entries keep their order, dates and compression, so the book
    stays byte-for-byte reproducible.  Returns the text of every chapter file, and the source
    in the work folder of each medium (pandoc's name `fileN.ext` → the source's path); with
    `write` false (a batch, whose chapters alone are wanted) the book is left as it is."""
    with zipfile.ZipFile(book) as z:
        items = [(info, z.read(info.filename)) for info in z.infolist()]
    sources = _media_sources(book.parent, {info.filename.removeprefix("EPUB/media/"): data for info, data in items
                                           if info.filename.startswith("EPUB/media/file")})
    names = {src: name for name, src in sources.items()}
    chapters: dict[str, str] = {}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.comment = MARK.encode()          # how a later build knows the file is ours to replace
        for info, data in items:
            if info.filename in spliced:
                anchor, made = spliced[info.filename]
                if f'id="{anchor}"' not in data.decode("utf-8"):
                    raise Misplaced(f"{info.filename} is not the chapter of #{anchor}")
                try:
                    text = named(made, names)
                except KeyError as e:
                    raise Misplaced(f"{info.filename}: no medium {e} in the book") from None
                chapters[info.filename] = text
                data = text.encode("utf-8")
            elif info.filename == "EPUB/content.opf":
                data = _set_front(info.filename, data.decode("utf-8"), front).encode("utf-8")
            elif not write and not _CHAPTER.fullmatch(info.filename):
                continue
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
            if write:
                z.writestr(info, data, compress_type=info.compress_type)
    if write:
        book.write_bytes(buffer.getvalue())
    return chapters, sources


def _media_sources(work: Path, media: dict[str, bytes]) -> dict[str, str]:
    """Each medium of a book written in `work` (pandoc's name → its bytes) by its source there
    (`math/…` drawings, `images/…` figures: files named by their content, so found by it)."""
    if not media:
        return {}
    found = {digest(path.read_bytes()): f"{folder}/{path.name}" for folder in ("math", "images")
             if (work / folder).is_dir() for path in sorted((work / folder).iterdir())}
    return {name: found[d] for name, data in media.items() if (d := digest(data)) in found}


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


def _header(level: int, ident: str, text: str, classes: Sequence[str] = ()) -> Node:
    return Header.new(level, Attr.new(ident, classes), [Str.new(text)])


def _chapter(collection: Collection, post: Post, mathhtml: MathHTML, level: int,
             document: Document | None = None) -> list[Node]:
    """The post's title, date and readers, then its text (`document`, default its AST)."""
    # the post's own headings go below its title, no level skipped (collection.levels)
    blocks = post_blocks(collection, post, mathhtml, book_link(collection), EMITTER.keeps_heading_ids, document,
                         top_level=level + 1, figures=FIGURES)
    return _head(post, level) + blocks


def _head(post: Post, level: int) -> list[Node]:
    """The post's title (a heading of `level`, where pandoc starts a file), date and readers."""
    meta = post_meta(post)
    head = [_header(level, post_anchor(post), plain_title(post.title), ["post-title"])]
    if meta:
        head.append(RawBlock.new("html", f'<div class="post-meta">\n<p>{meta}</p>\n</div>'))
    return head
