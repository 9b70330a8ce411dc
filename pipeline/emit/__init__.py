"""The emitters: one module per output format, each declaring itself (pipeline.emit.base), registered here.

    Emitter.write(collection, out, options, diagnostics) -> Path

An emitter gets a collection that is complete and checked (pipeline.assemble), builds its
output beside `out` and moves it into place only when it is whole.
"""

from __future__ import annotations

from pipeline.emit import epub, html, pdf
from pipeline.emit.base import Emitter
from pipeline.emit.common import BuildOptions

EMITTERS: dict[str, Emitter] = {e.name: e for e in (html.EMITTER, epub.EMITTER, pdf.EMITTER)}

__all__ = ["EMITTERS", "BuildOptions", "Emitter"]
