"""The printable anthology: one HTML book typeset by WeasyPrint's paged media.

    title page · contents (page numbers by target-counter) · a part page per series with its
    posts, then 「其他文章」 by date · every post on a new page with title, date and readers

Running headers carry the post's title, the footer the page number; bookmarks go series →
posts; links (contents, `\\eqref`, between posts) are PDF links.  Formulas are the shared
layer's SVG drawings as `<img>` files (each distinct formula written once), numbers set by us.
WeasyPrint reads only files below the build directory, from an explicit base URL.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from markupsafe import Markup

from pipeline.assemble import Collection, bodies, post_anchor
from pipeline.diagnostics import Diagnostics
from pipeline.emit import cjk_justify
from pipeline.emit.base import Emitter
from pipeline.emit.common import AUTHOR, TEMPLATES, BuildOptions, book_id, build_date, cjk_serif, environment
from pipeline.fileio import atomic_file, scratch_dir
from pipeline.mathhtml import MathHTML, svg_files
from pipeline.outputs import STAMP

PAPERS = {"a4": "A4", "a5": "A5", "b5": "JIS-B5"}


class LocalFetcher:
    """WeasyPrint's URL fetcher, limited to files below `root`: no network, no file:// outside."""

    def __init__(self, root: Path) -> None:
        from weasyprint.urls import URLFetcher

        class Fetcher(URLFetcher):  # type: ignore[misc]  # WeasyPrint is untyped
            def fetch(inner, url: str, headers: Any = None) -> Any:
                parsed = urlparse(url)
                path = Path(unquote(parsed.path)).resolve() if parsed.scheme == "file" else None
                if path is None or not (path == root or root in path.parents):
                    raise ValueError(f"not fetched: {url} (the book reads only files below {root})")
                return super(Fetcher, inner).fetch(url, headers)

        self.fetcher = Fetcher(allowed_protocols={"file"})


def book_html(collection: Collection, build: Path, options: BuildOptions,
              failed: dict[str, str] | None = None) -> Path:
    """Write the book's HTML, stylesheets and drawings into `build`; return the HTML's path.
    The posts in `failed` (id → WeasyPrint's complaint) are a marked box instead of their text."""
    font = cjk_serif()
    texts = bodies(collection, MathHTML(mode=EMITTER.math_mode(options.math), image=svg_files(build / "math")),
                   lambda post, fragment: "#" + post_anchor(post), heading_ids=EMITTER.keeps_heading_ids)
    for post_id, problem in (failed or {}).items():
        texts[post_id] = (f'<p class="math-error display"><span class="math-message">'
                          f'{escape(FAILED_NOTE)}{escape(problem)}</span></p>')
    env = environment()
    groups = collection.groups()
    html = env.get_template("pdf/book.html").render(
        collection=collection, author=AUTHOR, groups=groups, post_anchor=post_anchor,
        bodies={k: Markup(v) for k, v in texts.items()}, date=build_date(collection).date().isoformat(),
        parts=any(name for name, _ in groups))
    (build / "book.css").write_text(env.get_template("pdf/book.css").render(
        paper=PAPERS[options.paper], serif=font, title=collection.title), encoding="utf-8")
    shutil.copy(TEMPLATES / "math.css", build / "math.css")
    path = build / "book.html"
    path.write_text(html, encoding="utf-8")
    return path


# What WeasyPrint raises on a document it cannot typeset (its own faults included).
TYPESETTING_FAULTS = (ValueError, TypeError, KeyError, IndexError, AttributeError, AssertionError,
                      RecursionError, ZeroDivisionError, OverflowError)
FAILED_NOTE = "这篇文章无法排版，未收入本书："


def _failing_posts(collection: Collection, work: Path, options: BuildOptions) -> dict[str, str]:
    """Typeset each post alone to find the ones WeasyPrint fails on: id → what it said."""
    failed = {}
    for n, post in enumerate(collection.posts):
        alone = dataclasses.replace(collection, posts=[post], series=[])
        folder = work / str(n)
        folder.mkdir(parents=True)
        try:
            write_pdf(book_html(alone, folder, options), folder / "post.pdf", b"0")
        except TYPESETTING_FAULTS as e:
            failed[post.id] = f"{type(e).__name__}: {str(e)[:200]}"
        shutil.rmtree(folder, ignore_errors=True)
    return failed


def write_pdf(html: Path, target: Path, identifier: bytes) -> None:
    import weasyprint
    root = html.parent.resolve()
    document = weasyprint.HTML(filename=str(html), base_url=root.as_uri() + "/",
                               url_fetcher=LocalFetcher(root).fetcher)
    # Chinese lines flush on both sides (pipeline/emit/cjk_justify.py); where this WeasyPrint
    # cannot, flush left: WeasyPrint alone would open holes at the few Latin spaces.
    ragged = [] if cjk_justify.install() else [weasyprint.CSS(string="body { text-align: start; }")]
    document.write_pdf(str(target), pdf_identifier=identifier, stylesheets=ragged)


class PDFEmitter(Emitter):
    name = "pdf"
    help = "a book typeset by WeasyPrint"
    default_out = "{name}.pdf"
    math_choices = ("svg",)               # WeasyPrint draws no MathML
    svg_embedding = "img"                 # each distinct drawing written once

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--paper", choices=tuple(PAPERS), default="a4", help="the paper size")
        parser.add_argument("--keep-build", type=Path, metavar="DIR",
                            help="also keep the book's HTML, stylesheets and drawings in DIR")

    def other_outputs(self, options: BuildOptions) -> list[Path]:
        return [options.keep_build] if options.keep_build else []

    def write(self, collection: Collection, out: Path, options: BuildOptions, diagnostics: Diagnostics) -> Path:
        with scratch_dir("pdf") as tmp:
            html = book_html(collection, tmp, options)
            with atomic_file(out) as target:
                try:
                    write_pdf(html, target, book_id(collection).hex.encode())
                except TYPESETTING_FAULTS:
                    failed = _failing_posts(collection, tmp / "alone", options)
                    if not failed:
                        raise
                    for post in collection.posts:
                        if post.id in failed:
                            diagnostics.error("pdf-failed", f"WeasyPrint could not typeset this post: "
                                              f"{failed[post.id]}; it is left out of the book", post.position)
                    html = book_html(collection, tmp, options, failed)
                    write_pdf(html, target, book_id(collection).hex.encode())
            if options.keep_build:
                (tmp / STAMP).write_text("written by `anthology build pdf --keep-build`\n", encoding="utf-8")
                shutil.copytree(tmp, options.keep_build, dirs_exist_ok=True)
        return out


EMITTER = PDFEmitter()
