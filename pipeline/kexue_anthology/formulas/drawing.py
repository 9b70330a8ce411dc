"""MathJax's drawing of a formula made ours (`finish`): glyph ids unique to the formula, glyphs
filled and not stroked, CJK text in a CJK font, links titled and located, tag cells out of the MathML, MathML as MathML
Core draws it, sizes and the baselines of numbered rows read off the SVG."""

from __future__ import annotations

import hashlib
import html
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from PIL import ImageColor

from kexue_anthology.formulas.formula_text import alt_text
from kexue_anthology.formulas.links import link_title
from kexue_anthology.formulas.mathcore import core_mathml

# Part of the render cache key in place of the code itself: bump it whenever `finish` (this
# module), kexue_anthology.formulas.mathcore, formula_text.alt_text or links.link_title changes what a drawing
# holds, so that cached drawings are redrawn; a change that keeps them the same keeps the cache.
DRAWING_VERSION = 3

UNITS_PER_EX = 430.554        # MathJax SVG: 1000 units per em, x-height 0.430554 em
EX_PER_EM = 1000 / UNITS_PER_EX
CJK_FONTS = "'Noto Serif CJK SC','Source Han Serif SC','Noto Sans CJK SC','Songti SC',serif"
TEXT_SIZE = 1000 / 71.759     # mathjax-node draws text at scale(71.759): 13.935 px is one em


class FormulaLink(NamedTuple):
    """A link drawn inside a formula (\\eqref in a larger formula, \\href), placed as percentages
    of the drawing, so that an <img> of it can carry it.  A tuple: the cache stores it as a list."""
    href: str
    left: float
    top: float
    width: float
    height: float


@dataclass
class Render:
    svg: str                  # MathJax's SVG, no tags, glyphs in its own <defs>, ids unique
    mathml: str               # MathJax's MathML, tag cells removed
    width: float              # ex, as MathJax gives them
    height: float
    valign: float             # vertical-align (negative: below the text's baseline)
    margin_bottom: float
    rows: list[float] = field(default_factory=list)   # per tag: ex from the top to its row's baseline
    alt: str = ""
    links: list[FormulaLink] = field(default_factory=list)
    digest: str = field(default="", compare=False)     # `fingerprint`, once made (a pack keeps it)

    def fingerprint(self) -> bytes:
        """A digest of all the drawing shows: its size and place, rows, alt text, links, SVG and
        MathML.  Made once and kept in the drawing's pack, so that a rebuild does not hash every
        drawing of the collection again."""
        if not self.digest:
            digest = hashlib.sha256(repr((self.width, self.height, self.valign, self.margin_bottom, self.rows,
                                          self.alt, self.links, len(self.svg), len(self.mathml))).encode())
            digest.update(self.svg.encode())
            digest.update(self.mathml.encode())
            self.digest = digest.hexdigest()
        return bytes.fromhex(self.digest)

    def em(self, ex: float) -> float:
        return round(ex / EX_PER_EM, 4)

    @classmethod
    def from_json(cls, value: Any) -> Render | None:
        """A cached drawing, or None when the entry is damaged or of another shape (a `digest`
        that is there must be one)."""
        fields = set(cls.__dataclass_fields__)
        if not (isinstance(value, dict) and set(value) in (fields, fields - {"digest"})
                and isinstance(value.get("digest", ""), str)
                and re.fullmatch(r"(?:[0-9a-f]{64})?", value.get("digest", ""))
                and isinstance(value["svg"], str) and value["svg"].startswith("<svg")
                and value["svg"].rstrip().endswith("</svg>")
                and isinstance(value["mathml"], str) and value["mathml"].rstrip().endswith("</math>")):
            return None
        links = value["links"]
        if not (isinstance(links, list) and all(isinstance(link, list) and len(link) == len(FormulaLink._fields)
                                                 and isinstance(link[0], str) for link in links)):
            return None
        return cls(**{**value, "links": [FormulaLink(*link) for link in links]})


# An empty drawing (a formula that only defines macros) is `width="0"`, without a unit.
_SVG_SIZE = re.compile(r'<svg[^>]*?width="([-\d.]+)(?:ex)?" height="([-\d.]+)(?:ex)?" style="([^"]*)"')
_STYLE = re.compile(r"(vertical-align|margin-bottom):\s*([-\d.]+)ex")
_IDS = re.compile(r'(id="|href="#)E\d+-')
# MathJax 2 gives each glyph outline `stroke-width="1"` (its group has 0): a browser draws the
# hairline, but a PDF viewer or printer draws a stroke at least one device pixel wide, so every
# glyph came out bolder than the text beside it.  MathJax 3 fills glyphs only.  Rules meant to
# be stroked (\boxed, \hline, \cancel, \enclose) are <line>, <rect> or <ellipse> with their
# own widths and stay.
_GLYPH_STROKE = re.compile(r'<path stroke-width="[\d.]+" (?=id=")')
_TEXT = re.compile(r'<text font-family="monospace" ([^>]*)>([^<]*)</text>')
_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef\U00020000-\U0002fa1f]")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_SVG_LINK = re.compile(r'<a class="mjx-svg-href" href="([^"]*)"')
# A reference drawn as a link (formulas.render.drawn_tex): its anchor and the number it shows.
_REFERENCE = re.compile(r"\\href\{(#[^{}]*)\}\{\\text\{([^{}]*)\}\}")
_COLOR = re.compile(r'\b(mathcolor|mathbackground|color|background)="([^"]*)"')
_HTML4_COLORS = {"aqua", "black", "blue", "fuchsia", "gray", "green", "lime", "maroon", "navy", "olive",
                 "purple", "red", "silver", "teal", "white", "yellow"}
_LABEL_CELL = re.compile(r"<mlabeledtr([^>]*)>\s*<mtd[^>]*>.*?</mtd>", re.S)


def finish(drawing: dict[str, Any], k: str, alt_tex: str, drawn_tex: str = "") -> Render:
    """Our touches on MathJax's drawing (the worker's `render` answer): glyph ids unique to the
    formula (`k`, its cache key), glyphs filled only (no stroke), CJK text in a CJK font at
    MathJax's em, links titled (a reference by what it shows, `公式 (8)`, read off the TeX drawn, `drawn_tex`), tag
    cells out of the MathML, colours as MathML 3 allows them, the MathML as MathML Core draws
    it (kexue_anthology.formulas.mathcore), sizes read off the SVG, the TeX as alt text."""
    svg = _IDS.sub(lambda m: f"{m.group(1)}M{k[:12]}-", drawing["svg"])
    svg = _GLYPH_STROKE.sub('<path stroke-width="0" ', svg)
    svg = _TEXT.sub(_text_font, svg)
    names = {url: html.escape(f"公式 {shown}") for url, shown in _REFERENCE.findall(drawn_tex)}
    svg = _SVG_LINK.sub(lambda m: f'{m.group(0)} xlink:title="{names.get(m.group(1)) or link_title(m.group(1))}"',
                        svg)
    m = _SVG_SIZE.search(svg)
    if not m:
        raise ValueError(f"unexpected SVG from MathJax: {svg[:200]}")
    width, height, style = float(m.group(1)), float(m.group(2)), m.group(3)
    styles = {name: float(value) for name, value in _STYLE.findall(style)}
    rows = [round(min(max(depth / UNITS_PER_EX, 0.0), height), 3) for depth in _row_depths(svg, drawing)]
    mathml = _LABEL_CELL.sub(lambda m: f"<mtr{m.group(1)}>", drawing["mml"]).replace("</mlabeledtr>", "</mtr>")
    mathml = re.sub(r">\n\s*<", "><", _COMMENT.sub("", mathml)).strip()
    mathml = core_mathml(_COLOR.sub(_mathml_color, mathml))
    return Render(svg=svg, mathml=mathml, width=width, height=height,
                  valign=styles.get("vertical-align", 0.0), margin_bottom=styles.get("margin-bottom", 0.0),
                  rows=rows, alt=alt_text(alt_tex), links=link_boxes(svg))


@dataclass(frozen=True)
class Affine:
    """An SVG transform matrix (a b c d e f): x' = a x + c y + e, y' = b x + d y + f."""
    a: float = 1.0
    b: float = 0.0
    c: float = 0.0
    d: float = 1.0
    e: float = 0.0
    f: float = 0.0

    def __matmul__(self, t: Affine) -> Affine:
        """This transform after `t`."""
        return Affine(self.a * t.a + self.c * t.b, self.b * t.a + self.d * t.b, self.a * t.c + self.c * t.d,
                      self.b * t.c + self.d * t.d, self.a * t.e + self.c * t.f + self.e,
                      self.b * t.e + self.d * t.f + self.f)

    def apply(self, x: float, y: float) -> tuple[float, float]:
        return self.a * x + self.c * y + self.e, self.b * x + self.d * y + self.f

    @classmethod
    def parse(cls, transform: str | None) -> Affine:
        """An SVG transform attribute (MathJax writes translate, scale and matrix)."""
        m = cls()
        for name, args in _TRANSFORM.findall(transform or ""):
            v = [float(x) for x in re.split(r"[\s,]+", args.strip()) if x]
            if name == "translate":
                t = cls(e=v[0], f=v[1] if len(v) > 1 else 0.0)
            elif name == "scale":
                t = cls(a=v[0], d=v[1] if len(v) > 1 else v[0])
            else:
                t = cls(*v[:6])
            m = m @ t
        return m


_TRANSFORM = re.compile(r"(translate|scale|matrix)\(([^)]*)\)")
_SVG_NS = "{http://www.w3.org/2000/svg}"
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"


def link_boxes(svg: str) -> list[FormulaLink]:
    """Where MathJax drew each link (`<a>` with its hit rectangle), as percentages of the
    drawing: left, top, width, height."""
    if "<a " not in svg:
        return []
    try:
        root = ET.fromstring(svg)
    except ET.ParseError:
        return []
    x0, y0, w, h = (float(v) for v in root.get("viewBox", "0 0 1 1").split())
    boxes = []
    stack = [(root, Affine())]       # a loop, not recursion: drawings nest deep
    while stack:
        node, m = stack.pop()
        m = m @ Affine.parse(node.get("transform"))
        if node.tag == _SVG_NS + "a":
            box = _link_box(node, m, (x0, y0, w, h))
            if box:
                boxes.append(box)
        stack.extend((child, m) for child in reversed(node))
    return boxes


def _link_box(node: ET.Element, m: Affine, view: tuple[float, float, float, float]) -> FormulaLink | None:
    x0, y0, w, h = view
    rect = node.find(_SVG_NS + "rect")
    href = node.get("href") or node.get(_XLINK_HREF)
    if rect is None or not href or not w or not h:
        return None
    rx, ry = float(rect.get("x", 0)), float(rect.get("y", 0))
    rw, rh = float(rect.get("width", 0)), float(rect.get("height", 0))
    xs, ys = zip(*(m.apply(px, py) for px in (rx, rx + rw) for py in (ry, ry + rh)), strict=True)
    return FormulaLink(href, round(100 * (min(xs) - x0) / w, 3), round(100 * (min(ys) - y0) / h, 3),
                round(100 * (max(xs) - min(xs)) / w, 3), round(100 * (max(ys) - min(ys)) / h, 3))


def _mathml_color(m: re.Match[str]) -> str:
    """MathML 3 takes #rgb/#rrggbb and the 16 HTML 4 names; MathJax passes CSS names through."""
    value = m.group(2).strip()
    if re.fullmatch(r"#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?", value) or value.lower() in _HTML4_COLORS:
        return m.group(0)
    try:
        r, g, b = ImageColor.getrgb(value)[:3]
    except ValueError:
        return ""
    return f'{m.group(1)}="#{r:02x}{g:02x}{b:02x}"'


def _row_depths(svg: str, drawing: dict[str, Any]) -> list[float]:
    """Each tag's baseline as a depth below the top of the untagged drawing, in SVG units.
    Where the tagged layout has the same box as the untagged one, both share a baseline and
    the rows are where the tags are.  Otherwise the tagged layout was shifted: either a
    single-row formula was made a table centred on the axis, or a tag is taller than its
    row; with one tag the number sits on the formula's baseline, with several the baseline
    is shared."""
    heights = drawing.get("rows", [])
    box = re.search(r'viewBox="\S+ (\S+) \S+ (\S+)"', svg)
    if not heights or not box:
        return []
    top, height = -float(box.group(1)), float(box.group(2))
    tagged = drawing.get("box") or [-top, height]
    same = abs(tagged[0] + top) < 1 and abs(tagged[1] - height) < 1
    if not same and len(heights) == 1:
        return [top]
    return [top - y for y in heights]


def _text_font(m: re.Match[str]) -> str:
    family = CJK_FONTS if _CJK.search(m.group(2)) else "monospace"
    return f'<text font-family="{family}" font-size="{TEXT_SIZE:.3f}" {m.group(1)}>{m.group(2)}</text>'
