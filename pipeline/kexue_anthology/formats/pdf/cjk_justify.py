"""Chinese paragraphs set flush on both sides in the PDF, as Chinese books set them.

WeasyPrint justifies a line by widening its spaces only (`layout.inline.justify_line`): a
Chinese line has none and ends ragged, and a line with one Latin space gets a hole
("Huffman␣␣␣␣Softmax").  The W3C's Requirements for Chinese Text Layout (clreq §3.1.8)
spread the slack between the characters instead.  `install()` replaces WeasyPrint's step
for lines with Chinese in them: the slack goes evenly to every gap after a Chinese
character or before one, and to the spaces, as Pango letter spacing on those characters
(kept on the text box, so it is there again when the line is drawn).  Lines without
Chinese are justified as WeasyPrint does.  A line whose gaps would each exceed MAX_GAP em
(a line cut short by a long unbreakable word) is left ragged rather than torn open.

This reaches into WeasyPrint's layout; `install()` checks that the pieces it replaces are
there and answers False if not, and the book is then set flush left (no holes), see
formats/pdf/emitter.py.  The pieces are those of WeasyPrint 70 (pyproject.toml pins the range;
tests/test_weasyprint_internals.py fails by name when one of them changes).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

MAX_GAP = 0.25                    # em: the most any gap is widened
# Han, kana, Hangul, CJK punctuation, fullwidth forms: the characters Chinese text spaces evenly.
CJK = re.compile(r"[\u2e80-\u2fff\u3000-\u30ff\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
                 r"\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0002fa1f\u2014\u2026\u201c\u201d\u2018\u2019]")
_installed: bool | None = None


@dataclass(frozen=True)
class _WeasyPrint:
    """The pieces of WeasyPrint's layout and text code used here (it is untyped: all `Any`)."""
    boxes: Any                     # weasyprint.formatting_structure.boxes
    inline: Any                    # weasyprint.layout.inline
    line_break: Any                # weasyprint.text.line_break
    ffi: Any                       # weasyprint.text.ffi: ffi, pango, TO_UNITS
    pango: Any
    to_units: Any


def _weasyprint() -> _WeasyPrint | None:
    """WeasyPrint's pieces, or None if this WeasyPrint has not all of them."""
    try:
        from weasyprint.formatting_structure import boxes
        from weasyprint.layout import inline
        from weasyprint.text import line_break
        from weasyprint.text.ffi import TO_UNITS, ffi, pango
        needed = (inline.justify_line, line_break.Layout.set_text,
                  inline.count_expandable_spaces, inline.add_word_spacing, line_break.create_layout,
                  pango.pango_attr_letter_spacing_new, pango.pango_layout_get_attributes,
                  pango.pango_attr_list_change, pango.pango_layout_set_attributes, pango.pango_attr_list_new)
    except (ImportError, AttributeError):
        return None
    del needed
    return _WeasyPrint(boxes, inline, line_break, ffi, pango, TO_UNITS)


def install() -> bool:
    """Put the Chinese justification into WeasyPrint (once); False if this WeasyPrint has
    not the pieces it needs."""
    global _installed
    if _installed is not None:
        return _installed
    wp = _weasyprint()
    if wp is None:
        _installed = False
        return False
    original_justify = wp.inline.justify_line
    original_set_text = wp.line_break.Layout.set_text

    def set_text(self: Any, text: str, justify: bool = False) -> None:
        original_set_text(self, text, justify)
        _letter_spacing(wp, self, justify)

    def justify_line(context: Any, line: Any, extra_width: float) -> None:
        if not _justify(wp, context, line, extra_width):
            original_justify(context, line, extra_width)

    wp.line_break.Layout.set_text = set_text
    wp.inline.justify_line = justify_line
    _installed = True
    return True


def _letter_spacing(wp: _WeasyPrint, layout: Any, justify: bool) -> None:
    """The slack of a justified layout (its `cjk_spacing`) set as Pango letter spacing."""
    spacing = getattr(layout, "cjk_spacing", 0)
    if not (justify and spacing and layout.text):
        return
    ffi, pango = wp.ffi, wp.pango
    attrs = pango.pango_layout_get_attributes(layout.layout)
    if attrs == ffi.NULL:
        attrs = ffi.gc(pango.pango_attr_list_new(), pango.pango_attr_list_unref)
    units = int(spacing * wp.to_units)
    offsets = [0]                      # Pango counts UTF-8 bytes: each character's byte offset
    for c in layout.text:
        offsets.append(offsets[-1] + len(c.encode()))
    for start, end in _spaced_ranges(layout.text):
        attr = pango.pango_attr_letter_spacing_new(units)
        attr.start_index, attr.end_index = offsets[start], offsets[end]
        pango.pango_attr_list_change(attrs, attr)
    pango.pango_layout_set_attributes(layout.layout, attrs)


def _justify(wp: _WeasyPrint, context: Any, line: Any, extra_width: float) -> bool:
    """Justify a line with Chinese in it; False if it has none (WeasyPrint's to justify)."""
    texts = list(_text_boxes(line, wp.boxes))
    gaps = sum(_gaps(box.text) for box in texts)
    if not any(CJK.search(box.text) for box in texts) or extra_width <= 0:
        return False
    spaces = wp.inline.count_expandable_spaces(line)
    spacing = extra_width / (gaps + spaces) if gaps + spaces else 0
    if spacing and spacing <= MAX_GAP * line.style["font_size"]:     # else ragged, but no hole
        _spread(wp, context, line, spacing, 0.0)
    return True


def _spread(wp: _WeasyPrint, context: Any, box: Any, spacing: float, x_advance: float) -> float:
    boxes = wp.boxes
    if isinstance(box, boxes.TextBox):
        box.position_x += x_advance
        added: float = spacing * (_gaps(box.text) + box.text.count(" ") + box.text.count("\u00a0"))
        if added:
            layout = wp.line_break.create_layout(box.text, box.style, context, max_width=None,
                                                 justification_spacing=spacing)
            layout.cjk_spacing = spacing
            layout.set_text(layout.text, justify=True)
            layout.deactivate()
            box.justification_spacing = spacing
            box.pango_layout = layout
            box.width += added
        return x_advance + added
    if isinstance(box, (boxes.LineBox, boxes.InlineBox)):
        box.position_x += x_advance
        before = x_advance
        children = box.children[::-1] if box.style["direction"] == "rtl" else box.children
        for child in children:
            if child.is_in_normal_flow():
                x_advance = _spread(wp, context, child, spacing, x_advance)
        box.width += x_advance - before
        return x_advance
    box.translate(x_advance, 0)           # a drawing, an image: moved, not widened
    return x_advance


def _text_boxes(box: Any, boxes: Any) -> Iterator[Any]:
    if isinstance(box, boxes.TextBox):
        yield box
    elif isinstance(box, (boxes.LineBox, boxes.InlineBox)):
        for child in box.children:
            if child.is_in_normal_flow():
                yield from _text_boxes(child, boxes)


def _spaced_ranges(text: str) -> list[tuple[int, int]]:
    """The characters that take a share of the slack: each Chinese character, and each other
    character followed by a Chinese one (the gap between Latin and Chinese)."""
    ranges: list[tuple[int, int]] = []
    for i, c in enumerate(text):
        if c in " \u00a0":
            continue                   # spaces are widened by WeasyPrint's own word spacing
        if CJK.match(c) or (i + 1 < len(text) and CJK.match(text[i + 1])):
            if ranges and ranges[-1][1] == i:
                ranges[-1] = (ranges[-1][0], i + 1)
            else:
                ranges.append((i, i + 1))
    return ranges


def _gaps(text: str) -> int:
    return sum(end - start for start, end in _spaced_ranges(text))
