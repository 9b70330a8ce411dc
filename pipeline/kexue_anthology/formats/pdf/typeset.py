"""Typesetting one HTML document into a PDF with WeasyPrint: reading only files below its folder,
Chinese lines justified, tagged for PDF/UA-1.  Used by the book (formats/pdf/emitter.py) and by
the workers that typeset its parts (formats/pdf/parts.py).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from kexue_anthology.formats.pdf import cjk_justify
from kexue_anthology.formats.pdf.fonts import stub


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


_linked: dict[tuple[str, bytes], tuple[Any, list[Any]]] = {}


def _keep_linked_stylesheets() -> None:
    """WeasyPrint parses each `<link>`ed stylesheet of every document anew; this keeps each
    parsed one (by its address and content) for the next document that links it.  A parsed
    sheet brings its `@page` rules into a list of the document's, which is refilled here; a
    sheet that adds layers or counter styles is not kept."""
    import weasyprint.css
    original = weasyprint.css.CSS
    if getattr(original, "kept", False):
        return

    def css(*args: Any, **kwargs: Any) -> Any:
        url, rules, layers, counters = (kwargs.get(k) for k in ("url", "page_rules", "layers", "counter_style"))
        parsed = urlparse(url) if isinstance(url, str) else None
        if args or parsed is None or parsed.scheme != "file" or rules is None or layers is None or counters is None:
            return original(*args, **kwargs)
        try:
            data = Path(unquote(parsed.path)).read_bytes()
        except OSError:
            return original(*args, **kwargs)
        # the font configuration is the worker's own (`Kept.fonts`): its id names it
        key = (f"{url} {kwargs.get('media_type')} {id(kwargs.get('font_config'))}", hashlib.sha256(data).digest())
        if key in _linked:
            sheet, added = _linked[key]
            rules.extend(added)
            sheet = copy.copy(sheet)
            sheet.page_rules, sheet.layers = rules, layers
            return sheet
        before = (len(rules), len(layers), len(counters))
        sheet = original(*args, **kwargs)
        if (len(layers), len(counters)) == before[1:]:
            _linked[key] = (sheet, rules[before[0]:])
        return sheet

    css.kept = True  # type: ignore[attr-defined]
    weasyprint.css.CSS = css


_SIZED_ARRAY = re.compile(r"(\w+)\[(\d+)\]")


def _parse_array_types_once() -> None:
    """WeasyPrint's font subsetting asks cffi for `hb_codepoint_t[N]` with N the number of glyphs
    kept; cffi parses each new type string with pycparser (some 25 ms here), so every part
    paid that per font.  The same arrays as `T[]` sized by their contents: one type, parsed once."""
    import weasyprint.pdf.fonts
    real = weasyprint.pdf.fonts.ffi
    if isinstance(real, _OpenArrays):
        return
    weasyprint.pdf.fonts.ffi = _OpenArrays(real)


class _OpenArrays:
    """A cffi FFI whose `new("T[N]", items)` (N items) is `new("T[]", items)`: the same array."""

    def __init__(self, ffi: Any) -> None:
        self._ffi = ffi

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ffi, name)

    def new(self, cdecl: Any, init: Any = None) -> Any:
        sized = _SIZED_ARRAY.fullmatch(cdecl) if isinstance(cdecl, str) else None
        if sized and init is not None and len(init) == int(sized.group(2)):
            return self._ffi.new(f"{sized.group(1)}[]", init)
        return self._ffi.new(cdecl, init)


_stubbing = False        # while a part is typeset (`as_part`)


@contextlib.contextmanager
def as_part() -> Iterator[None]:
    """The documents typeset in this block are parts of a book (formats/pdf/parts.py): they
    embed font stubs for the merge to replace."""
    global _stubbing
    _stubbing = True
    try:
        yield
    finally:
        _stubbing = False


def _stub_font_programs() -> None:
    """A part's font programs as stubs that the merge replaces by one subset per face
    (formats/pdf/fonts.py `stub`): a part subsets no font of its own.  Any other document
    this process typesets gets its subsets as ever."""
    from weasyprint.pdf.fonts import Font
    original = Font.subset
    if getattr(original, "stubbed", False):
        return

    def subset(font: Any, to_unicode: Any, hinting: Any) -> None:
        plain = not (font.bitmap or font.png or font.svg or font.colr or "fvar" in font.tables)
        found = stub(font.file_content, font.index) if _stubbing and to_unicode and plain else None
        if found is None:
            original(font, to_unicode, hinting)
        else:
            font.file_content = found

    subset.stubbed = True  # type: ignore[attr-defined]
    Font.subset = subset


# What WeasyPrint raises on a document it cannot typeset (its own faults included).
TYPESETTING_FAULTS = (ValueError, TypeError, KeyError, IndexError, AttributeError, AssertionError,
                      RecursionError, ZeroDivisionError, OverflowError)


class Kept:
    """What a process that typesets many documents keeps between them: WeasyPrint's font
    configuration and the stylesheets parsed, the book's own (`<link>`ed: parsing them is the
    largest fixed cost of a part) as well as the user stylesheets.  Its documents are parts of
    a book, merged: their fonts may be stubs (`_stub_font_programs`)."""

    def __init__(self) -> None:
        from weasyprint.text.fonts import FontConfiguration
        self.fonts = FontConfiguration()
        self._sheets: dict[str, Any] = {}
        _keep_linked_stylesheets()
        _parse_array_types_once()
        _stub_font_programs()

    def stylesheet(self, text: str) -> Any:
        import weasyprint
        if text not in self._sheets:
            self._sheets[text] = weasyprint.CSS(string=text, font_config=self.fonts)
        return self._sheets[text]


_kept: Kept | None = None


def keep() -> None:
    """From now on this process keeps fonts and stylesheets between documents (a worker that
    typesets the book's parts)."""
    global _kept
    if _kept is None:
        _kept = Kept()


def write_pdf(html: Path, target: Path, identifier: bytes, extra_css: str = "") -> None:
    """Typeset `html` into `target`, tagged as PDF/UA-1 asks (structure tree, language, alt texts);
    with what this process kept from the documents before, if it keeps them (`keep`)."""
    import weasyprint
    kept = _kept
    root = html.parent.resolve()
    document = weasyprint.HTML(filename=str(html), base_url=root.as_uri() + "/",
                               url_fetcher=LocalFetcher(root).fetcher)
    # Chinese lines flush on both sides (formats/pdf/cjk_justify.py); where this WeasyPrint
    # cannot, flush left: WeasyPrint alone would open holes at the few Latin spaces.
    sheets = ([] if cjk_justify.install() else ["body { text-align: start; }"]) + ([extra_css] if extra_css else [])
    if kept is None:
        stylesheets = [weasyprint.CSS(string=text) for text in sheets]
        document.write_pdf(str(target), pdf_identifier=identifier, stylesheets=stylesheets, pdf_variant="pdf/ua-1")
    else:
        document.write_pdf(str(target), pdf_identifier=identifier, stylesheets=[kept.stylesheet(t) for t in sheets],
                           pdf_variant="pdf/ua-1", font_config=kept.fonts)
