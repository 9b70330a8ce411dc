"""The PDF's structure tree (PDF/UA-1): each typeset part's finished, then the parts' made one.

WeasyPrint tags what it typesets (`pdf_variant="pdf/ua-1"`): a /Document of H1…, P, Span,
Figure (an `<img>`, its alt text as /Alt), Link (its annotation as /OBJR), and a /ParentTree
from each page's marked content (MCID) and each link (/StructParent) to its element.  Three
things are finished in each part as it is typeset (`finish_part`):

- the running header and footer: WeasyPrint marks their content but hangs it in no tree; it
  becomes a pagination artifact;
- a formula: its drawing (a /Figure, the TeX as /Alt) and the same TeX as invisible text
  before it (formulas/mathhtml.py, text_layer) become one /Formula carrying the /Alt, so that
  a screen reader speaks the alt text once and never the invisible text, which is there for
  search, copy and pdftotext;
- table headers' IDs (WeasyPrint numbers them by object, alike in every part) get the part's
  own prefix.

The book (formats/pdf/merge.py) then gets one tree (`Structure`): a /Document whose kids
are the parts' documents as /Part, in page order; their parent trees end to end, each page's
/StructParents and each link's /StructParent moved by the keys before it; a link the merge
drops loses its /OBJR.  Pages the merge adds (blank pages) have no content to mark; the page
numbers it lays over are wrapped as artifacts (pdf_merge._lay_over).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pikepdf

_MARKED = re.compile(rb"/(\w+)\s*<<\s*/MCID\s+(\d+)\s*>>\s*BDC")
ARTIFACT = b"/Artifact <</Type /Pagination>> BDC"


def _kids(element: pikepdf.Object) -> list[pikepdf.Object]:
    kids = element.get("/K")
    if kids is None:
        return []
    return list(kids) if isinstance(kids, pikepdf.Array) else [kids]


def _is_element(item: pikepdf.Object) -> bool:
    return isinstance(item, pikepdf.Dictionary) and "/S" in item


def elements(root: pikepdf.Object) -> Iterator[pikepdf.Object]:
    """Every structure element below `root`, in document order."""
    stack = list(reversed(_kids(root)))
    while stack:
        item = stack.pop()
        if _is_element(item):
            yield item
            stack.extend(reversed(_kids(item)))


def finish_part(path: Path, prefix: str) -> None:
    """Finish the tags of the PDF WeasyPrint wrote at `path` (see the module's docstring);
    `prefix` tells this part's IDs from another's."""
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        root = pdf.Root.get("/StructTreeRoot")
        if root is None:
            return
        reachable = set()
        for element in elements(root):
            reachable.add(element.objgen)
            if element.S == "/Figure" and "/Alt" in element:
                _formula(element)
            if "/ID" in element:
                element.ID = pikepdf.String(f"{prefix}-{element.ID}")
            _prefix_headers(element, prefix)
        _artifacts(pdf, root, reachable)
        pdf.save(path, deterministic_id=True)


def _formula(figure: pikepdf.Object) -> None:
    """A drawing with its invisible TeX just before it, under one parent: that parent as a
    /Formula with the drawing's alt text."""
    parent = figure.get("/P")
    if parent is None or parent.get("/S") != "/Span":
        return
    kids = _kids(parent)
    at = next((n for n, kid in enumerate(kids) if _is_element(kid) and kid.objgen == figure.objgen), 0)
    if at == 0 or not _is_element(kids[at - 1]) or kids[at - 1].S != "/Span":
        return
    parent.S = pikepdf.Name.Formula
    parent.Alt = figure.Alt
    if "/A" in figure:
        parent.A = figure.A


def _prefix_headers(element: pikepdf.Object, prefix: str) -> None:
    attributes = element.get("/A")
    for owner in (attributes if isinstance(attributes, pikepdf.Array) else [attributes]):
        if isinstance(owner, pikepdf.Dictionary) and "/Headers" in owner:
            owner.Headers = pikepdf.Array([pikepdf.String(f"{prefix}-{h}") for h in owner.Headers])


def _artifacts(pdf: pikepdf.Pdf, root: pikepdf.Object, reachable: set[tuple[int, int]]) -> None:
    """Marked content whose element is in no tree (the margin boxes'): artifacts."""
    tree = pikepdf.NumberTree(root.ParentTree)
    for page in pdf.pages:
        key = page.obj.get("/StructParents")
        if key is None or int(key) not in tree:
            continue
        marks = tree[int(key)]
        orphans = {n for n, element in enumerate(marks)
                   if isinstance(element, pikepdf.Dictionary) and element.objgen not in reachable}
        if not orphans:
            continue
        for n in orphans:
            marks[n] = None
        contents = page.obj.Contents
        for stream in ([contents] if isinstance(contents, pikepdf.Stream) else list(contents)):
            stream.write(_unmark(stream.read_bytes(), orphans))


def _unmark(content: bytes, mcids: set[int]) -> bytes:
    """`content` with the marked content of `mcids` as artifacts."""
    return _MARKED.sub(lambda m: ARTIFACT if int(m.group(2)) in mcids else m.group(0), content)


def _shift_keys(page: pikepdf.Page, offset: int) -> None:
    """The parent tree keys of `page` and its annotations moved up by `offset`."""
    if "/StructParents" in page.obj:
        page.obj.StructParents = int(page.obj.StructParents) + offset
    annotations = page.obj.get("/Annots")
    for annotation in annotations or []:
        if "/StructParent" in annotation:
            annotation.StructParent = int(annotation.StructParent) + offset
    if annotations:
        page.obj.Tabs = pikepdf.Name.S           # PDF/UA: links in the order of the structure


class Structure:
    """The book's structure tree, gathered from its parts as they are merged."""

    def __init__(self, book: pikepdf.Pdf) -> None:
        self.book = book
        self.document = book.make_indirect(pikepdf.Dictionary(
            Type=pikepdf.Name.StructElem, S=pikepdf.Name.Document, K=pikepdf.Array()))
        self.parents: dict[int, pikepdf.Object] = {}
        self.next_key = 0
        self.role_map = pikepdf.Dictionary()
        self.class_map = pikepdf.Dictionary()

    def add(self, source: pikepdf.Pdf, start: int) -> None:
        """The tree of `source`, whose pages are now the book's from `start` on."""
        root = source.Root.get("/StructTreeRoot")
        if root is None:
            return
        copied = self.book.copy_foreign(root)
        offset = self.next_key
        last = int(copied.get("/ParentTreeNextKey", 0)) - 1
        for key, value in pikepdf.NumberTree(copied.ParentTree).items():
            self.parents[int(key) + offset] = value
            last = max(last, int(key))
        for page in self.book.pages[start:start + len(source.pages)]:
            _shift_keys(page, offset)
        for kid in _kids(copied):
            if _is_element(kid):
                if kid.S == "/Document":
                    kid.S = pikepdf.Name.Part
                kid.P = self.document
                self.document.K.append(kid)
        for entry, mine in (("/RoleMap", self.role_map), ("/ClassMap", self.class_map)):
            for name, value in (copied.get(entry) or pikepdf.Dictionary()).items():
                mine[name] = value
        self.next_key = offset + last + 1

    def drop_links(self, annotations: list[pikepdf.Object]) -> None:
        """Annotations taken off their pages: their /Link elements no longer point at them."""
        for annotation in annotations:
            key = annotation.get("/StructParent")
            element = self.parents.pop(int(key), None) if key is not None else None
            if element is None or "/K" not in element:
                continue
            kept = [kid for kid in _kids(element) if not (
                isinstance(kid, pikepdf.Dictionary) and kid.get("/Type") == "/OBJR"
                and kid.Obj.objgen == annotation.objgen)]
            element.K = pikepdf.Array(kept)

    def write(self) -> None:
        if not self.parents:
            return
        root = self.book.make_indirect(pikepdf.Dictionary(
            Type=pikepdf.Name.StructTreeRoot, K=self.document,
            ParentTree=self.book.make_indirect(pikepdf.Dictionary(Nums=pikepdf.Array(
                [item for key in sorted(self.parents) for item in (key, self.parents[key])]))),
            ParentTreeNextKey=self.next_key))
        if len(self.role_map):
            root.RoleMap = self.role_map
        if len(self.class_map):
            root.ClassMap = self.class_map
        self.document.P = root
        self.book.Root.StructTreeRoot = root
        self.book.Root.MarkInfo = pikepdf.Dictionary(Marked=True)
