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
from kexue_anthology.formats.base import Emitter, Option, positive
from kexue_anthology.formats.common import build_date
from kexue_anthology.formats.fonts import cjk_serif
from kexue_anthology.formats.pdf import parts as pdf_parts
from kexue_anthology.formats.pdf.merge import Piece, destinations, merge, page_layout
from kexue_anthology.formats.templates import environment
from kexue_anthology.formulas.mathhtml import MathHTML, svg_files

FIGURES = FigureStyle("images/")          # put in as data: URLs when typeset (inline_figures)
PAPERS = {"a4": "A4", "a5": "A5", "b5": "JIS-B5"}
Numbers = tuple[int, int, pdf_parts.Job]      # a document showing the page numbers first…last
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
                       cache_dir=options.cache_dir, top_level=POST_BODY_TOP, figures=FIGURES)
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
                       type=positive, metavar="N"),
                Option("--volumes", "write the book as N volumes of about equal length (OUT-1.pdf, OUT-2.pdf, …), "
                                    "each with its title page, contents and page numbers; links between volumes "
                                    "open the other file at the page", type=positive, metavar="N"),
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
            cache = options.cache_dir / "pdf-parts" if options.cache_dir else None
            with pdf_parts.Typesetter(tmp, cache, options.jobs or pdf_parts.default_jobs()) as typesetter:
                typesetter.warm()          # the workers load WeasyPrint while the posts' HTML is made
                book = Book(collection, tmp, options)
                typeset = _typeset_parts(book, typesetter, diagnostics)
                volumes = [Volume(n if count > 1 else None, count, run, path)
                           for n, (run, path) in enumerate(zip(_split(typeset, count), targets, strict=True), 1)]
                # the page numbers for the pages the first guesses of the front matter give,
                # typeset beside the front matter (a second core is otherwise idle then)
                guessed = [_layout(v, _front_guess(v))[1:] for v in volumes]
                numbers = _number_jobs(book, typesetter, min(g[0] for g in guessed), max(g[1] for g in guessed))
                for n, volume in enumerate(volumes):
                    _front(book, typesetter, volume, also=[job for _, _, job in numbers] if n == 0 else [])
                number_page = _NumberPages(numbers)
                missing = number_page.missing(min(v.first for v in volumes), max(v.pages for v in volumes))
                more = [job for low, high in missing for job in _number_jobs(book, typesetter, low, high)]
                _run_numbers(typesetter, more)
                number_page.add(more)
            with contextlib.ExitStack() as opened:
                opened.callback(number_page.close)
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
    first: int = 1                       # its first numbered page (after the front matter)
    anchors: dict[str, tuple[int, float, float]] = dataclasses.field(default_factory=dict)   # in the volume


def _typeset_parts(book: Book, typesetter: pdf_parts.Typesetter, diagnostics: Diagnostics) -> list[Typeset]:
    """Every part typeset, in order.  A part WeasyPrint fails on is typeset a post at a time;
    a post it fails on alone is a marked box and an error."""
    first = _finer(book, pdf_parts.plan(book.collection))
    texts, parts, pdfs = {part.name: text for part, text in first}, [part for part, _ in first], {}

    def html(part: pdf_parts.Part) -> str:
        # the first try's HTML as _finer wrote it; after a failure anew (a post may be a marked box now)
        text = texts.pop(part.name, None)
        return _part_html(book, part) if text is None else text

    pending, given_up = list(parts), set()
    read: dict[Path, tuple[int, dict[str, tuple[int, float, float]]]] = {}

    def done(job: pdf_parts.Job) -> None:
        # each part's length and anchors read while the others are typeset
        with pikepdf.open(job.pdf) as pdf:
            read[job.pdf] = (len(pdf.pages), {name: (page, x, y) for name, page, x, y in destinations(pdf)})

    while pending:
        jobs = {part.name: typesetter.job(part.name, html(part), book.stylesheets) for part in pending}
        failed = typesetter.run(list(jobs.values()), done=done)
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
    return [Typeset(part, pdfs[part.name], *read[pdfs[part.name]]) for part in parts]


def _part_html(book: Book, part: pdf_parts.Part) -> str:
    return pdf_parts.cross_part_links(book.html(part.sections))



def _finer(book: Book, parts: list[pdf_parts.Part]) -> list[tuple[pdf_parts.Part, str]]:
    """`parts` with their HTML, each that would cost too much halved until its pieces do not
    (or are one post)."""
    finer: list[tuple[pdf_parts.Part, str]] = []
    pending = list(reversed(parts))
    while pending:
        part = pending.pop()
        text = _part_html(book, part)
        if len(part.posts) > 1 and pdf_parts.too_long(pdf_parts.cost(text)):
            pending += reversed(pdf_parts.halves(part))
        else:
            finer.append((part, text))
    return finer


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


def _front_guess(volume: Volume) -> int:
    """A first guess at the length of a volume's front matter (title page and contents)."""
    groups = _groups(volume)
    return 1 + -(-(len(groups) + sum(len(posts) for _, _, posts in groups)) // CONTENTS_LINES)


def _layout(volume: Volume, length: int) -> tuple[list[int], int, int]:
    """Where each piece of a volume starts with a front matter of `length` pages, its first
    numbered page and its last page."""
    counts = [t.pages for t in volume.parts]
    starts, _ = page_layout([length, *counts], [False] + [t.part.starts_right for t in volume.parts])
    return starts, (starts[1] + 1 if counts else length + 1), (starts[-1] + counts[-1] if counts else length)


def _front(book: Book, typesetter: pdf_parts.Typesetter, volume: Volume, also: list[pdf_parts.Job]) -> None:
    """A volume's front matter, its contents numbered, and where its pages and anchors fall.  The
    front matter's own length moves every number: it is typeset until that no longer changes.
    The jobs `also` (page numbers) are typeset beside its first try."""
    groups = _groups(volume)
    length = _front_guess(volume)
    name = "front" if volume.number is None else f"front-{volume.number}"
    for _ in range(6):
        starts, volume.first, volume.pages = _layout(volume, length)
        pages = {anchor: starts[n + 1] + page + 1 for n, t in enumerate(volume.parts)
                 for anchor, (page, _, _) in t.anchors.items() if anchor.startswith(("post-", "part-"))}
        text = book.html([], front=True, pages=pages, groups=groups, volume=_volume_title(volume))
        front = typesetter.job(name, text, book.stylesheets, extra_css="")
        failed = typesetter.run([front, *also], "front matter", "documents")
        _run_numbers(typesetter, [], failed)
        also = []
        if failed:
            raise RuntimeError(f"WeasyPrint could not typeset the title page and contents: {failed[name]}")
        with pikepdf.open(front.pdf) as pdf:
            if len(pdf.pages) == length:
                break
            length = len(pdf.pages)
    volume.front = front.pdf
    volume.anchors = {anchor: (starts[n + 1] + page, x, y) for n, t in enumerate(volume.parts)
                      for anchor, (page, x, y) in t.anchors.items()}


def _groups(volume: Volume) -> list[Group]:
    """The series and posts a volume holds, for its contents; a series begun in the volume
    before goes on here as 「名（续）」."""
    return [(s.index, f"{s.name}（续）" if s.name and not s.part_page else s.name, s.posts)
            for s in _joined([section for t in volume.parts for section in t.part.sections])]


def _volume_title(volume: Volume) -> str:
    return "" if volume.number is None else f"第 {volume.number} 卷（共 {volume.of} 卷）"


def number_ranges(first: int, last: int, per_file: int) -> list[tuple[int, int]]:
    """The page numbers first…last in documents of at most `per_file` pages, each within one
    block of `per_file` numbers (so a longer book, or another front matter, leaves the documents
    of the other blocks as they were, cached)."""
    return [(max(first, start), min(last, start + per_file - 1))
            for start in range((first - 1) // per_file * per_file + 1, last + 1, per_file) if first <= last]


def _number_jobs(book: Book, typesetter: pdf_parts.Typesetter, first: int, last: int) -> list[Numbers]:
    """Documents of pages showing only their number, in the book's style, from `first` to `last`."""
    return [(low, high, typesetter.job(f"numbers-{low}-{high}", pdf_parts.numbers_html(high - low + 1),
                                       book.stylesheets, extra_css=pdf_parts.numbers_css(low)))
            for low, high in number_ranges(first, last, pdf_parts.NUMBERS_PER_FILE)]


def _run_numbers(typesetter: pdf_parts.Typesetter, numbers: list[Numbers],
                 failed: dict[str, str] | None = None) -> None:
    """Typeset `numbers` (or only check `failed`, a run's failures, for theirs)."""
    jobs = [job for _, _, job in numbers]
    failed = {**(failed or {}), **(typesetter.run(jobs, "page numbers", "documents") if jobs else {})}
    problem = next((v for k, v in failed.items() if k.startswith("numbers-")), None)
    if problem is not None:
        raise RuntimeError(f"WeasyPrint could not typeset the page numbers: {problem}")


class _NumberPages:
    """Page number → the page showing it, from documents of numbered pages (first, last, file),
    each opened on first use and closed by `close`."""

    def __init__(self, numbers: list[Numbers]) -> None:
        self.files: list[tuple[int, int, Path]] = []
        self.opened: dict[Path, pikepdf.Pdf] = {}
        self.add(numbers)

    def add(self, numbers: list[Numbers]) -> None:
        self.files += [(low, high, job.pdf) for low, high, job in numbers]

    def missing(self, first: int, last: int) -> list[tuple[int, int]]:
        """The runs of pages from `first` to `last` that no document shows."""
        covered = {n for low, high, _ in self.files for n in range(low, high + 1)}
        runs: list[tuple[int, int]] = []
        for n in range(first, last + 1):
            if n in covered:
                continue
            if runs and runs[-1][1] == n - 1:
                runs[-1] = (runs[-1][0], n)
            else:
                runs.append((n, n))
        return runs

    def __call__(self, n: int) -> pikepdf.Page:
        low, _, path = next(f for f in self.files if f[0] <= n <= f[1])
        if path not in self.opened:
            self.opened[path] = pikepdf.open(path)
        page: pikepdf.Page = self.opened[path].pages[n - low]
        return page

    def close(self) -> None:
        for pdf in self.opened.values():
            pdf.close()
        self.opened.clear()


EMITTER = PDFEmitter()
