"""Typesetting one HTML document into a PDF with WeasyPrint: reading only files below its folder,
Chinese lines justified, tagged for PDF/UA-1.  Used by the book (formats/pdf/emitter.py) and by
the workers that typeset its parts (formats/pdf/parts.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from kexue_anthology.formats.pdf import cjk_justify


class LocalFetcher:
    """WeasyPrint's URL fetcher, limited to files below `root` and `data:` URLs (the figures: WeasyPrint
    names a raster image by its URL, and the build folder's name changes from build to build): no
    network, no file:// outside."""

    def __init__(self, root: Path) -> None:
        from weasyprint.urls import URLFetcher

        class Fetcher(URLFetcher):  # type: ignore[misc]  # WeasyPrint is untyped
            def fetch(inner, url: str, headers: Any = None) -> Any:
                parsed = urlparse(url)
                if parsed.scheme == "data":
                    return super(Fetcher, inner).fetch(url, headers)
                path = Path(unquote(parsed.path)).resolve() if parsed.scheme == "file" else None
                if path is None or not (path == root or root in path.parents):
                    raise ValueError(f"not fetched: {url} (the book reads only files below {root})")
                return super(Fetcher, inner).fetch(url, headers)

        self.fetcher = Fetcher(allowed_protocols={"file", "data"})


# What WeasyPrint raises on a document it cannot typeset (its own faults included).
TYPESETTING_FAULTS = (ValueError, TypeError, KeyError, IndexError, AttributeError, AssertionError,
                      RecursionError, ZeroDivisionError, OverflowError)


def write_pdf(html: Path, target: Path, identifier: bytes, extra_css: str = "") -> None:
    """Typeset `html` into `target`, tagged as PDF/UA-1 asks (structure tree, language, alt texts)."""
    import weasyprint
    root = html.parent.resolve()
    document = weasyprint.HTML(filename=str(html), base_url=root.as_uri() + "/",
                               url_fetcher=LocalFetcher(root).fetcher)
    # Chinese lines flush on both sides (formats/pdf/cjk_justify.py); where this WeasyPrint
    # cannot, flush left: WeasyPrint alone would open holes at the few Latin spaces.
    ragged = [] if cjk_justify.install() else [weasyprint.CSS(string="body { text-align: start; }")]
    extra = [weasyprint.CSS(string=extra_css)] if extra_css else []
    document.write_pdf(str(target), pdf_identifier=identifier, stylesheets=ragged + extra,
                       pdf_variant="pdf/ua-1")
