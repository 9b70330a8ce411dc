"""The printable anthology: a book typeset by WeasyPrint's paged media, in parts.

    title page · contents · a part page per series with its posts, then 「其他文章」 by date ·
    every post on a new page with title, date and readers

Running headers carry the post's title, the footer the page number; bookmarks go series →
posts; links (contents, `\\eqref`, between posts) are PDF links.  Formulas are the shared
layer's SVG drawings as `<img>` files (each distinct formula written once), numbers set by us,
each with its TeX as alt text and as invisible text over it (search and copy find it).  The book
is tagged for PDF/UA-1 (formats/pdf/tags.py); its title page and metadata say what the
project file says (`options.project`).
WeasyPrint reads only files below the build directory, from an explicit base URL.

WeasyPrint holds a whole document in memory and uses one processor, so the book is typeset in
parts (runs of posts, formats/pdf/parts.py) by `--jobs` processes, each part cached by
its content; the front matter is typeset last, when the page of every post is known, and the
parts are merged into one book with its page numbers, links and bookmarks laid over
(formats/pdf/merge.py).  `--keep-build` also keeps the whole book as one document.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import itertools
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from pathlib import Path

import pikepdf
from markupsafe import Markup

from kexue_anthology import TEMPLATES
from kexue_anthology.collection.anchors import post_anchor
from kexue_anthology.collection.bodies import bodies
from kexue_anthology.collection.collection import Collection
from kexue_anthology.collection.figures import FigureStyle, inline_figures
from kexue_anthology.config.settings import Settings
from kexue_anthology.core import progress
from kexue_anthology.core.diagnostics import Diagnostics
from kexue_anthology.core.fileio import atomic_dir, atomic_file, held_interrupts, scratch_dir
from kexue_anthology.core.model import Post
from kexue_anthology.core.outputs import STAMP, OutputRefused
from kexue_anthology.formats.base import Emitter, Option
from kexue_anthology.formats.common import build_date
from kexue_anthology.formats.fonts import cjk_serif
from kexue_anthology.formats.pdf import parts as pdf_parts
from kexue_anthology.formats.pdf.merge import NumberPage, Piece, destinations, merge, page_layout
from kexue_anthology.formats.templates import environment
from kexue_anthology.formulas.mathhtml import MathHTML, svg_files

FIGURES = FigureStyle("images/")          # put in as data: URLs when typeset (inline_figures)
PAPERS = {"a4": "A4", "a5": "A5", "b5": "JIS-B5"}
Group = tuple[int, str | None, list[Post]]     # a series (or 「其他文章」) in the contents: its place, name, posts
# A post's title is an h2 in the book (under a part's h1, or beside the contents' h1): its own
# headings start at h3 (collection.levels).
POST_BODY_TOP = 3
CONTENTS_LINES = 40          # about as many entries fit a page of contents (a guess the front matter corrects)
FAILED_NOTE = "这篇文章无法排版，未收入本书："


class Book:
    """The book's sources in a build folder: its stylesheets, drawings and each post's HTML,
    and the HTML of any part of it (formats/pdf/parts.py)."""

    def __init__(self, collection: Collection, build: Path, options: Settings) -> None:
        self.collection, self.build, self.project = collection, build, options.project
        texts = bodies(collection, MathHTML(mode=EMITTER.math_mode(options.math), image=svg_files(build / "math"),
                                            text_layer=True),
                       lambda post, fragment: "#" + post_anchor(post), heading_ids=EMITTER.keeps_heading_ids,
                       top_level=POST_BODY_TOP, figures=FIGURES)
        self.bodies = {k: Markup(inline_figures(v, collection)) for k, v in texts.items()}
        env = environment()
        self.template = env.get_template("pdf/book.html")
        self.stylesheets = [env.get_template("pdf/book.css").render(
            paper=PAPERS[options.paper], serif=cjk_serif(), title=collection.title),
            (TEMPLATES / "math.css").read_text(encoding="utf-8")]
        (build / "book.css").write_text(self.stylesheets[0], encoding="utf-8")
        (build / "math.css").write_text(self.stylesheets[1], encoding="utf-8")
        self.groups = collection.groups()

    def fail(self, post: Post, problem: str) -> None:
        """Show `post` as a marked box saying WeasyPrint could not typeset it."""
        self.bodies[post.id] = Markup(f'<p class="math-error display"><span class="math-message">'
                                      f'{escape(FAILED_NOTE)}{escape(problem)}</span></p>')

    def html(self, sections: list[pdf_parts.Section], front: bool = False, pages: dict[str, int] | None = None,
             groups: list[Group] | None = None, volume: str = "") -> str:
        """The HTML of the front matter and/or `sections`.  With `pages` (anchor → page number)
        the contents carry their numbers and link out of the part; without, the whole book is
        one document and WeasyPrint counts (target-counter)."""
        def link(anchor: str) -> str:
            return (pdf_parts.CROSS_PART if pages is not None else "#") + anchor

        def page(anchor: str) -> Markup:
            if pages is None:
                return Markup("")
            # a series begun in an earlier volume: its part page is not in this one
            return Markup(f' data-page="{pages[anchor]}"' if anchor in pages else ' class="elsewhere"')

        return self.template.render(
            collection=self.collection, project=self.project,
            groups=[(n, name, posts) for n, (name, posts) in enumerate(self.groups, 1)] if groups is None else groups,
            volume=volume, post_anchor=post_anchor,
            bodies=self.bodies, date=build_date(self.collection).date().isoformat(), front=front,
            sections=sections, link=link, page=page, parts=any(name for name, _ in self.groups))

    def whole(self) -> str:
        """The book as one document (what --keep-build keeps: WeasyPrint alone can typeset it)."""
        sections = [section for part in pdf_parts.plan(self.collection) for section in part.sections]
        return self.html(_joined(sections), front=True)


def _joined(sections: list[pdf_parts.Section]) -> list[pdf_parts.Section]:
    """Consecutive sections of one group as one."""
    joined: list[pdf_parts.Section] = []
    for section in sections:
        if joined and joined[-1].index == section.index:
            joined[-1] = dataclasses.replace(joined[-1], posts=joined[-1].posts + section.posts)
        else:
            joined.append(section)
    return joined


class PDFEmitter(Emitter):
    name = "pdf"
    help = "a book typeset by WeasyPrint"
    default_out = "{name}.pdf"
    math_choices = ("svg",)               # WeasyPrint draws no MathML
    svg_embedding = "img"                 # each distinct drawing written once

    def choices(self) -> Mapping[str, tuple[str, ...]]:
        return {**super().choices(), "paper": tuple(PAPERS)}

    def options(self) -> list[Option]:
        return [*super().options(),
                Option("--paper", "the paper size", choices=tuple(PAPERS)),
                Option("--jobs", f"typeset the book's parts in N worker processes at once, and draw its formulas "
                                 f"with N MathJax workers (default: one per processor, here "
                                 f"{pdf_parts.default_jobs()}, and at most 2 MathJax workers)",
                       type=_positive, metavar="N"),
                Option("--volumes", "write the book as N volumes of about equal length (OUT-1.pdf, OUT-2.pdf, …), "
                                    "each with its title page, contents and page numbers; links between volumes "
                                    "open the other file at the page", type=_positive, metavar="N"),
                Option("--keep-build", "also keep the book's HTML (book.html: the whole book as one document), "
                                       "stylesheets and drawings in DIR", type=Path, metavar="DIR")]

    def other_outputs(self, options: Settings) -> list[Path]:
        kept: Path | None = options.option("keep_build")
        return [kept] if kept else []

    def outputs(self, target: Path, options: Settings) -> list[Path]:
        count: int = options.option("volumes") or 1
        return [target] if count == 1 else [volume_path(target, n) for n in range(1, count + 1)]

    def write(self, collection: Collection, out: Path, options: Settings, diagnostics: Diagnostics) -> Path:
        targets = self.outputs(out, options)
        count = len(targets)
        with scratch_dir("pdf") as tmp:
            book = Book(collection, tmp, options)
            cache = options.cache_dir / "pdf-parts" if options.cache_dir else None
            with pdf_parts.Typesetter(tmp, cache, options.jobs or pdf_parts.default_jobs()) as typesetter:
                typeset = _typeset_parts(book, typesetter, diagnostics)
                volumes = [Volume(n if count > 1 else None, count, run, path)
                           for n, (run, path) in enumerate(zip(_split(typeset, count), targets, strict=True), 1)]
                for volume in volumes:
                    _front(book, typesetter, volume)
                numbers = _number_files(book, typesetter, max(v.pages for v in volumes))
            with contextlib.ExitStack() as opened:
                number_page = _number_page(numbers, opened)
                # every volume into a temporary first, then all put in place at once
                files = opened.enter_context(contextlib.ExitStack())
                with progress.task("merge", total=len(volumes), unit="books") as advance:
                    for volume in volumes:
                        elsewhere = {name: (other.path.name, *place) for other in volumes if other is not volume
                                     for name, place in other.anchors.items()}
                        pieces = [Piece(t.pdf, starts_right=t.part.starts_right, nested=t.part.nested)
                                  for t in volume.parts]
                        target = files.enter_context(atomic_file(volume.path))
                        merge(Piece(volume.front, numbered=False), pieces, number_page, target, elsewhere)
                        advance(1)
                if options.option("keep_build"):
                    (tmp / "book.html").write_text(book.whole(), encoding="utf-8")
                    (tmp / STAMP).write_text("written by `anthology build pdf --keep-build`\n", encoding="utf-8")
                    kept = files.enter_context(atomic_dir(options.option("keep_build")))
                    shutil.copytree(tmp, kept, dirs_exist_ok=True)
                with held_interrupts():
                    files.close()
        return targets[0]


def volume_path(out: Path, n: int) -> Path:
    """Where volume n of a book written to `out` goes: beside it, numbered."""
    return out.with_name(f"{out.stem}-{n}{out.suffix or '.pdf'}")


@dataclass
class Typeset:
    """A typeset part: its PDF, its length and its anchors (name → page in the part, x, y)."""
    part: pdf_parts.Part
    pdf: Path
    pages: int
    anchors: dict[str, tuple[int, float, float]]


@dataclass
class Volume:
    """A whole book of its own: title page, contents and page numbers (the book itself, when it
    is not split)."""
    number: int | None
    of: int
    parts: list[Typeset]
    path: Path
    front: Path = Path()
    pages: int = 0
    anchors: dict[str, tuple[int, float, float]] = dataclasses.field(default_factory=dict)   # in the volume


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def _typeset_parts(book: Book, typesetter: pdf_parts.Typesetter, diagnostics: Diagnostics) -> list[Typeset]:
    """Every part typeset, in order.  A part WeasyPrint fails on is typeset a post at a time;
    a post it fails on alone is a marked box and an error."""
    parts, pdfs = pdf_parts.plan(book.collection), {}
    pending, given_up = list(parts), set()
    while pending:
        jobs = {part.name: typesetter.job(part.name, pdf_parts.cross_part_links(book.html(part.sections)),
                                          book.stylesheets) for part in pending}
        failed = typesetter.run(list(jobs.values()))
        pdfs.update({name: job.pdf for name, job in jobs.items() if name not in failed})
        pending = []
        for part in list(parts):
            if part.name not in failed:
                continue
            posts = part.posts
            if len(posts) > 1:
                pieces = pdf_parts.split(part)
                at = parts.index(part)
                parts[at:at + 1] = pieces
                pending += pieces
            elif posts and posts[0].id not in given_up:
                given_up.add(posts[0].id)
                book.fail(posts[0], failed[part.name])
                diagnostics.error("pdf-failed", f"WeasyPrint could not typeset this post: {failed[part.name]}; "
                                  "it is left out of the book", posts[0].position)
                pending.append(part)
            else:
                raise RuntimeError(f"WeasyPrint could not typeset {part.name}: {failed[part.name]}")
    typeset = []
    for part in parts:
        with pikepdf.open(pdfs[part.name]) as pdf:
            typeset.append(Typeset(part, pdfs[part.name], len(pdf.pages),
                                   {name: (page, x, y) for name, page, x, y in destinations(pdf)}))
    return typeset


def _split(typeset: list[Typeset], count: int) -> list[list[Typeset]]:
    """The parts in `count` volumes of about equal length, each ending where a series ends
    when one does near enough."""
    if count <= 1:
        return [typeset]
    total = sum(t.pages for t in typeset)
    ends, at = [0], 0
    before = [0]
    for t in typeset:
        at += t.pages
        before.append(at)
    for k in range(1, count):
        ideal = total * k / count
        slack = total / count / 6
        candidates = list(range(ends[-1] + 1, len(typeset) - (count - k) + 1))
        if not candidates:
            raise OutputRefused(f"--volumes {count}: the book has only {len(typeset)} parts (runs of posts), "
                                "too few to make that many volumes")
        near = [i for i in candidates if abs(before[i] - ideal) <= slack and typeset[i].part.starts_right]
        ends.append(min(near or candidates, key=lambda i: abs(before[i] - ideal)))
    ends.append(len(typeset))
    return [typeset[a:b] for a, b in itertools.pairwise(ends)]


def _front(book: Book, typesetter: pdf_parts.Typesetter, volume: Volume) -> None:
    """A volume's front matter, its contents numbered, and where its pages and anchors fall.  The
    front matter's own length moves every number: it is typeset until that no longer changes."""
    right = [False] + [t.part.starts_right for t in volume.parts]
    counts = [t.pages for t in volume.parts]
    groups = _groups(volume)
    length = 1 + -(-(len(groups) + sum(len(posts) for _, _, posts in groups)) // CONTENTS_LINES)   # a first guess
    name = "front" if volume.number is None else f"front-{volume.number}"
    for _ in range(6):
        starts, _ = page_layout([length, *counts], right)
        pages = {anchor: starts[n + 1] + page + 1 for n, t in enumerate(volume.parts)
                 for anchor, (page, _, _) in t.anchors.items() if anchor.startswith(("post-", "part-"))}
        text = book.html([], front=True, pages=pages, groups=groups, volume=_volume_title(volume))
        front = typesetter.job(name, text, book.stylesheets, extra_css="")
        failed = typesetter.run([front], "front matter", "documents")
        if failed:
            raise RuntimeError(f"WeasyPrint could not typeset the title page and contents: {failed[name]}")
        with pikepdf.open(front.pdf) as pdf:
            if len(pdf.pages) == length:
                break
            length = len(pdf.pages)
    volume.front = front.pdf
    volume.pages = starts[-1] + counts[-1] if counts else length
    volume.anchors = {anchor: (starts[n + 1] + page, x, y) for n, t in enumerate(volume.parts)
                      for anchor, (page, x, y) in t.anchors.items()}


def _groups(volume: Volume) -> list[Group]:
    """The series and posts a volume holds, for its contents; a series begun in the volume
    before goes on here as 「名（续）」."""
    return [(s.index, f"{s.name}（续）" if s.name and not s.part_page else s.name, s.posts)
            for s in _joined([section for t in volume.parts for section in t.part.sections])]


def _volume_title(volume: Volume) -> str:
    return "" if volume.number is None else f"第 {volume.number} 卷（共 {volume.of} 卷）"


def _number_files(book: Book, typesetter: pdf_parts.Typesetter, total: int) -> list[Path]:
    """Documents of pages showing only their number, in the book's style, from 1 to `total`."""
    per_file = pdf_parts.NUMBERS_PER_FILE
    files = [typesetter.job(f"numbers-{n}", pdf_parts.numbers_html(per_file), book.stylesheets,
                            extra_css=pdf_parts.numbers_css(n * per_file + 1))
             for n in range(-(-total // per_file))]
    failed = typesetter.run(files, "page numbers", "documents")
    if failed:
        raise RuntimeError(f"WeasyPrint could not typeset the page numbers: {next(iter(failed.values()))}")
    return [job.pdf for job in files]


def _number_page(files: list[Path], opened: contextlib.ExitStack) -> NumberPage:
    numbered = [opened.enter_context(pikepdf.open(path)) for path in files]
    per_file = pdf_parts.NUMBERS_PER_FILE

    def number_page(n: int) -> pikepdf.Page:
        page: pikepdf.Page = numbered[(n - 1) // per_file].pages[(n - 1) % per_file]
        return page
    return number_page


EMITTER = PDFEmitter()
