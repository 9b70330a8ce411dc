"""The printable anthology: one HTML book typeset by WeasyPrint's paged media.

    title page · contents (page numbers by target-counter) · a part page per series with its
    posts, then 「其他文章」 by date · every post on a new page with title, date and readers

Running headers carry the post's title, the footer the page number; bookmarks go series →
posts; links (contents, `\\eqref`, between posts) are PDF links.  Formulas are the shared
layer's SVG drawings as `<img>` files (each distinct formula written once), numbers set by us.
WeasyPrint reads only files below the build directory, from an explicit base URL.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

from markupsafe import Markup

from pipeline.assemble import Collection, bodies, post_anchor
from pipeline.diagnostics import Diagnostics
from pipeline.emit.common import (AUTHOR, TEMPLATES, BuildOptions, book_id, build_date, cjk_serif,
                                  environment)
from pipeline.fileio import atomic_file
from pipeline.mathhtml import MathHTML, svg_files

PAPERS = {"a4": "A4", "a5": "A5", "b5": "JIS-B5"}


class LocalFetcher:
    """WeasyPrint's URL fetcher, limited to files below `root`: no network, no file:// outside."""

    def __init__(self, root: Path) -> None:
        from weasyprint.urls import URLFetcher

        class Fetcher(URLFetcher):
            def fetch(inner, url, headers=None):
                parsed = urlparse(url)
                path = Path(unquote(parsed.path)).resolve() if parsed.scheme == "file" else None
                if path is None or not (path == root or root in path.parents):
                    raise ValueError(f"not fetched: {url} (the book reads only files below {root})")
                return super(Fetcher, inner).fetch(url, headers)

        self.fetcher = Fetcher(allowed_protocols={"file"})


def book_html(collection: Collection, build: Path, options: BuildOptions) -> Path:
    """Write the book's HTML, stylesheets and drawings into `build`; return the HTML's path."""
    font = cjk_serif()
    texts = bodies(collection, MathHTML(mode="img", image=svg_files(build / "math")),
                   lambda post, fragment: "#" + post_anchor(post), heading_ids=False)
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


def write_pdf(html: Path, target: Path, identifier: bytes) -> None:
    import weasyprint
    root = html.parent.resolve()
    document = weasyprint.HTML(filename=str(html), base_url=root.as_uri() + "/",
                               url_fetcher=LocalFetcher(root).fetcher)
    document.write_pdf(str(target), pdf_identifier=identifier)


def emit(collection: Collection, out: Path, options: BuildOptions, diagnostics: Diagnostics) -> Path:
    with tempfile.TemporaryDirectory(prefix="anthology-pdf-") as tmp:
        html = book_html(collection, Path(tmp), options)
        with atomic_file(out) as target:
            write_pdf(html, target, book_id(collection).hex.encode())
        if options.keep_build:
            shutil.copytree(tmp, options.keep_build, dirs_exist_ok=True)
    return out
