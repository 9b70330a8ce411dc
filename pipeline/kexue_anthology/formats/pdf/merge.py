"""The book from its typeset parts: one PDF, as if typeset in one piece.

WeasyPrint typesets each part alone (formats/pdf/parts.py); what a part cannot know is
laid over them here: the pages in order, a blank page before a series' part page that would
fall on a left-hand page, the page numbers (cut from a document of numbered empty pages),
every anchor as one named destination, links into other parts (written by the parts as
`anthology-dest:NAME` addresses) made internal links, the bookmarks nested across parts,
page labels, the front matter's metadata, the parts' structure trees as one (the PDF/UA tags,
formats/pdf/tags.py), and one subset per font (formats/pdf/fonts.py).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pikepdf

from kexue_anthology.formats.pdf.fonts import merge_font_dictionaries, merge_fonts
from kexue_anthology.formats.pdf.tags import Structure

CROSS_PART = "anthology-dest:"        # how a part writes a link to an anchor in another part
PAGE_NUMBER_ARTIFACT = "/Artifact <</Type /Pagination /Subtype /Footer>> BDC"


@dataclass
class Piece:
    """A typeset part in the book's order."""
    pdf: Path
    starts_right: bool = False        # opens with a series' part page: on a right-hand (odd) page
    numbered: bool = True             # its pages show page numbers (the front matter's do not)
    nested: bool = False              # its bookmarks go under the last one before it (a series' later posts)


@dataclass
class Bookmark:
    title: str
    level: int
    page: int                          # index in the book
    x: float
    y: float


NumberPage = Callable[[int], pikepdf.Page]      # page number → a page showing just that number


def page_layout(counts: list[int], right: list[bool]) -> tuple[list[int], list[int]]:
    """Where each piece starts (0-based page index) given its page count and whether it opens
    on a right-hand page, and the indices of the blank pages put in for that."""
    starts, blanks, at = [], [], 0
    for count, on_right in zip(counts, right, strict=True):
        if on_right and at % 2 == 1:        # page at+1 would be even: a left-hand page
            blanks.append(at)
            at += 1
        starts.append(at)
        at += count
    return starts, blanks


def destinations(pdf: pikepdf.Pdf) -> Iterator[tuple[str, int, float, float]]:
    """The named destinations of one typeset part: name, page index, x, y."""
    names = pdf.Root.get("/Names")
    if names is None or "/Dests" not in names:
        return
    index = _page_index(pdf)
    for name, dest in pikepdf.NameTree(names.Dests).items():
        if isinstance(dest, pikepdf.Dictionary):
            dest = dest.D
        page = index.get(dest[0].objgen)
        if page is not None:
            yield str(name), page, float(dest[2]), float(dest[3])


def _page_index(pdf: pikepdf.Pdf) -> dict[tuple[int, int], int]:
    return {page.obj.objgen: n for n, page in enumerate(pdf.pages)}


def bookmarks(pdf: pikepdf.Pdf) -> list[Bookmark]:
    """The outline of one typeset part, flattened in order with levels (1 = top)."""
    index = _page_index(pdf)
    found: list[Bookmark] = []

    def walk(item: pikepdf.Object | None, level: int) -> None:
        while item is not None:
            dest = item.get("/Dest")
            if dest is not None and dest[0].objgen in index:
                found.append(Bookmark(str(item.Title), level, index[dest[0].objgen], float(dest[2]), float(dest[3])))
            walk(item.get("/First"), level + 1)
            item = item.get("/Next")

    outlines = pdf.Root.get("/Outlines")
    if outlines is not None:
        walk(outlines.get("/First"), 1)
    return found


def _point(book: pikepdf.Pdf, page: int, x: float, y: float) -> pikepdf.Array:
    return pikepdf.Array([book.pages[page].obj, pikepdf.Name.XYZ, x, y, 0])


Elsewhere = dict[str, tuple[str, int, float, float]]    # anchor → file, page index, x, y: in another volume


def merge(front: Piece, parts: list[Piece], number_page: NumberPage, target: Path,
          elsewhere: Elsewhere | None = None) -> None:
    """Write the book: `front` (title page and contents), then `parts`.  A link to an anchor in
    `elsewhere` (another volume) opens that file at that place."""
    pieces = [front, *parts]
    book = pikepdf.new()
    sources = [pikepdf.open(piece.pdf) for piece in pieces]
    try:
        starts, _blanks = page_layout([len(s.pages) for s in sources], [p.starts_right for p in pieces])
        size = sources[0].pages[0].mediabox
        dests: dict[str, tuple[int, float, float]] = {}
        marks: list[Bookmark] = []
        structure = Structure(book)
        for piece, source, start in zip(pieces, sources, starts, strict=True):
            while len(book.pages) < start:
                book.add_blank_page(page_size=(float(size[2]), float(size[3])))
            with warnings.catch_warnings():        # named destinations are carried over below
                warnings.simplefilter("ignore", pikepdf.PageCopyWarning)
                book.pages.extend(source.pages)
            for name, page, x, y in destinations(source):
                dests.setdefault(name, (start + page, x, y))
            marks += [Bookmark(m.title, m.level + piece.nested, start + m.page, m.x, m.y) for m in bookmarks(source)]
            structure.add(source, start)
            if piece.numbered:
                for n in range(len(source.pages)):
                    _lay_over(book, book.pages[start + n], number_page(start + n + 1), start + n + 1)
        _name_destinations(book, dests)
        structure.drop_links(_link_across_parts(book, dests, elsewhere or {}))
        structure.write()
        _outline(book, marks)
        book.Root.PageLabels = pikepdf.Dictionary(Nums=pikepdf.Array([0, pikepdf.Dictionary(S=pikepdf.Name.D)]))
        _metadata(book, sources[0])
        merge_fonts(book)
        merge_font_dictionaries(book)
        book.save(target, deterministic_id=True, compress_streams=True, min_version="1.7",
                  object_stream_mode=pikepdf.ObjectStreamMode.generate)
    finally:
        for source in sources:
            source.close()


def _lay_over(book: pikepdf.Pdf, page: pikepdf.Page, number: pikepdf.Page, n: int) -> None:
    """Draw `number` (a page of the same size) over page `n`, under a name of its own (the
    pages of a part share their resources) that two builds choose alike (pikepdf's
    add_overlay picks a random one)."""
    contents = number.obj.get("/Contents")
    streams = [contents] if isinstance(contents, pikepdf.Stream) else list(contents or [])
    form = book.make_stream(b"\n".join(stream.read_bytes() for stream in streams),
                            Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Form,
                            BBox=pikepdf.Array([float(x) for x in number.mediabox]),
                            Resources=book.copy_foreign(number.obj.get("/Resources", pikepdf.Dictionary())))
    name = f"/AnthologyPageNumber{n}"
    page.add_resource(form, pikepdf.Name.XObject, pikepdf.Name(name))
    page.contents_add(book.make_stream(b"q\n"), prepend=True)
    number_only = f"\nQ\n{PAGE_NUMBER_ARTIFACT} q {name} Do Q EMC\n"      # no content to a screen reader
    page.contents_add(book.make_stream(number_only.encode()))


def _name_destinations(book: pikepdf.Pdf, dests: dict[str, tuple[int, float, float]]) -> None:
    tree = pikepdf.NameTree.new(book)
    for name in sorted(dests):
        page, x, y = dests[name]
        tree[name] = _point(book, page, x, y)
    book.Root.Names = pikepdf.Dictionary(Dests=tree.obj)


def _link_across_parts(book: pikepdf.Pdf, dests: dict[str, tuple[int, float, float]],
                       elsewhere: Elsewhere) -> list[pikepdf.Object]:
    """`anthology-dest:NAME` addresses become links to the named destination, or to the other
    volume that holds it; one whose anchor is nowhere is no link (as WeasyPrint drops it).
    Returns the annotations dropped."""
    dropped = []
    for page in book.pages:
        annots = page.obj.get("/Annots")
        if annots is None:
            continue
        kept = pikepdf.Array()
        for annot in annots:
            action = annot.get("/A")
            uri = str(action.get("/URI", "")) if action is not None else ""
            if uri.startswith(CROSS_PART):
                name = unquote(uri[len(CROSS_PART):])
                if name in dests:
                    del annot["/A"]
                    annot.Dest = pikepdf.String(name)
                elif name in elsewhere:
                    file, at, x, y = elsewhere[name]
                    annot.A = pikepdf.Dictionary(
                        S=pikepdf.Name.GoToR, NewWindow=False, D=pikepdf.Array([at, pikepdf.Name.XYZ, x, y, 0]),
                        F=pikepdf.Dictionary(Type=pikepdf.Name.Filespec, F=pikepdf.String(file.encode()),
                                             UF=pikepdf.String(file)))
                else:
                    dropped.append(annot)
                    continue
            kept.append(annot)
        page.obj.Annots = kept
    return dropped


def _outline(book: pikepdf.Pdf, marks: list[Bookmark]) -> None:
    """The bookmarks, each under the last one of a higher level before it."""
    with book.open_outline() as outline:
        stack: list[tuple[int, pikepdf.OutlineItem]] = []
        for mark in marks:
            item = pikepdf.OutlineItem(mark.title, _point(book, mark.page, mark.x, mark.y))
            while stack and stack[-1][0] >= mark.level:
                stack.pop()
            (stack[-1][1].children if stack else outline.root).append(item)
            stack.append((mark.level, item))


def _metadata(book: pikepdf.Pdf, front: pikepdf.Pdf) -> None:
    for key, value in front.docinfo.items():
        book.docinfo[key] = value
    for key in ("/Lang", "/PageMode", "/ViewerPreferences", "/Metadata"):
        if key in front.Root:
            value = front.Root[key]
            book.Root[key] = book.copy_foreign(front.make_indirect(value)) if isinstance(
                value, (pikepdf.Dictionary, pikepdf.Stream)) else value
