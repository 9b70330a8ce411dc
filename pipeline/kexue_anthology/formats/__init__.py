"""The emitters: one module per output format, each declaring itself (kexue_anthology.formats.base), registered here.

    Emitter.write(collection, out, options, diagnostics) -> Path

An emitter gets a collection that is complete and checked (kexue_anthology.collection.assemble), builds its
output beside `out` and moves it into place only when it is whole.
"""

from __future__ import annotations

from kexue_anthology.formats.base import Emitter
from kexue_anthology.formats.epub import emitter as epub
from kexue_anthology.formats.html import emitter as html
from kexue_anthology.formats.pdf import emitter as pdf

EMITTERS: dict[str, Emitter] = {e.name: e for e in (html.EMITTER, epub.EMITTER, pdf.EMITTER)}

__all__ = ["EMITTERS", "Emitter"]
