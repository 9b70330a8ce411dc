"""The emitters: one module per output format behind one small interface, registered here.

    emit(collection, out, options, diagnostics) -> Path

An emitter gets a collection that is complete and checked (pipeline.assemble), builds its
output beside `out` and moves it into place only when it is whole.
"""

from __future__ import annotations

from typing import Callable

from pipeline.emit import epub, html, pdf
from pipeline.emit.common import BuildOptions

EMITTERS: dict[str, Callable] = {
    "html": html.emit,
    "epub": epub.emit,
    "pdf": pdf.emit,
}

__all__ = ["EMITTERS", "BuildOptions"]
