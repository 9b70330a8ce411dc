"""Formulas as HTML, for every emitter: MathML, inline SVG or SVG images; equation numbers
laid out by us beside display formulas, level with their rows; bare `\\ref`/`\\eqref` as
links; formulas that failed validation as their TeX source in a marked box with the message.

The layout rules live in templates/math.css.  A display formula is

    <span class="math display tagged">
      <span class="math-body">…drawing…</span>
      <span class="eq-tags"><span class="eq-tag" id="ANCHOR" style="top:F%">(1)</span>…</span>
    </span>

where F is the row's baseline as a share of the drawing's height, read off MathJax's own
tagged layout (`Render.rows`), so the same rule places numbers for SVG and MathML alike.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kexue_anthology.check.number import EquationTag, PostNumbers, id_part
from kexue_anthology.core.model import Formula, Post, drawable, is_reference
from kexue_anthology.documents.pandoc_ast import Document, Node, RawInline, Span, replace
from kexue_anthology.formulas.drawing import Render
from kexue_anthology.formulas.links import WEB_URL, is_kept
from kexue_anthology.formulas.safemarkup import safe_markup

MODES = ("mathml", "svg", "img")
# As MathJax's matchFontHeight does on the blog's page: the math's x-height made equal to the
# text's.  Noto Serif CJK's x-height is 0.514 em, MathJax's 0.430554 em.
MATH_SCALE = 0.514 / 0.430554
_HREF = re.compile(r'(?<![\w:-])href="([^"]*)"')          # not xlink:href (glyphs)
_LINK_TITLE = re.compile(r'<a class="mjx-svg-href"[^>]*? xlink:title="([^"]*)"')
_GLYPH_PREFIX = re.compile(r'id="(M[0-9a-f]{12})-')     # a drawing's glyph ids (formulas.drawing.finish)
_SVG_BOX = re.compile(r'width="[-\d.]+(?:ex)?" height="[-\d.]+(?:ex)?" style="[^"]*"')
# A box shows at most this much of a rejected formula's source (the diagnostics have it all),
# with a break opportunity every BREAK_EVERY characters: a line breakable anywhere
# (`word-break: break-all`) costs WeasyPrint time quadratic in its length.
SHOWN_SOURCE = 2000
MATHML_SPARE = 1.12     # Chromium's MathML against MathJax's width: corpus median 0.97, 99th percentile 1.09, max 1.16
FIT_FROM = 12.0          # em: display formulas at least this wide shrink to fit a narrow column
MIN_FIT = 0.7            # of the text's size: a display formula shrinks no further, it scrolls in its box
BREAK_EVERY = 40
MIN_TEX_SCALE = 0.2      # of the invisible TeX's width (_invisible_tex)


def shown_source(f: Formula) -> str:
    """The source as a box shows it: cut after SHOWN_SOURCE characters."""
    source = f.source
    if len(source) <= SHOWN_SOURCE:
        return source
    return f"{source[:SHOWN_SOURCE]} …（另有 {len(source) - SHOWN_SOURCE} 个字符）"


def breakable(text: str) -> str:
    """`text` escaped, with `<wbr/>` every BREAK_EVERY characters."""
    return "<wbr/>".join(html.escape(text[i:i + BREAK_EVERY]) for i in range(0, len(text), BREAK_EVERY))


def svg_files(directory: Path, prefix: str = "math/") -> Callable[[Render], str]:
    """For img mode: each distinct drawing written once into `directory`, named by a hash of
    its SVG; the function gives the URL `prefix + name`."""
    def image(render: Render) -> str:
        svg = safe_markup(render.svg)                 # nothing in a formula may fetch or cover the page
        name = hashlib.sha256(svg.encode()).hexdigest()[:20] + ".svg"
        path = directory / name
        if not path.exists():
            directory.mkdir(parents=True, exist_ok=True)
            path.write_text(svg, encoding="utf-8")
        return prefix + name
    return image


def fit_width(render: Render, spare: float = 1.0) -> str:
    """The style that shrinks a wide display formula to the width of its column, but not below
    MIN_FIT of the text's size (a phone drew the widest at 5 px): past that it scrolls sideways
    in its box (`.math-body`), its numbers beside the box.  Its font size is the column's width
    over the formula's width in em (MathJax's measure, times `spare`: a browser sets MathML
    wider than MathJax draws it), between MIN_FIT and 1em.  `cqi` is the column
    (`.math.display` is a size container); where
    container units are unknown the declaration is dropped and the screen's width (`vw`) less
    the page's margins stands in; where `min()` is unknown too, the formula scrolls."""
    width = render.em(render.width) * MATH_SCALE * spare
    if width < FIT_FROM:
        return ""
    return (f' style="font-size:max({MIN_FIT}em,min(1em,calc((100vw - 2.5rem) / {width:.2f})));'
            f'font-size:max({MIN_FIT}em,min(1em,calc(100cqi / {width:.2f})))"')


def formula_anchor(f: Formula) -> str:
    """The id of a formula's place in its post (broken formulas are linked to from lists)."""
    return f"formula-{id_part(f.post_id)}-{f.index}"


def em(value: float) -> str:
    return f"{value:.4g}em"


@dataclass
class MathHTML:
    mode: str = "mathml"
    link: Callable[[str], str] = lambda anchor: "#" + anchor          # where an anchor lives
    image: Callable[[Render], str] | None = None                     # img mode: the drawing's URL
    text_layer: bool = False      # img mode: the TeX as invisible text over the drawing (the PDF's search and copy)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"math mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.mode == "img" and self.image is None:
            raise ValueError("img mode needs a function giving each drawing's URL")

    def formula(self, f: Formula, numbers: PostNumbers, render: Render | None) -> str:
        if is_reference(f):
            return "".join(self._reference(r.shown, r.target, r.label) for r in numbers.refs.get(f.index, []))\
                or self._broken(f, [])
        tags = numbers.by_formula.get(f.index, [])
        if not drawable(f) or render is None:
            return self._broken(f, tags)
        body = self._drawing(render, f.display)
        if not f.display:
            return f'<span class="math inline" data-formula="{f.index}">{body}</span>'
        fit = fit_width(render, MATHML_SPARE if self._as_mathml(render) else 1.0)
        return (f'<span class="math display{" tagged" if tags else ""}" data-formula="{f.index}">'
                f'<span class="math-body"{fit}>{body}</span>{self._tags(tags, render)}</span>')

    # --- pieces ------------------------------------------------------------------------------
    def _reference(self, shown: str, target: EquationTag | None, label: str) -> str:
        if target is None:
            return (f'<span class="eqref unknown" title="{html.escape("no equation labelled " + label)}">'
                    f'{html.escape(shown)}</span>')
        return f'<a class="eqref" href="{html.escape(self.link(target.anchor))}">{html.escape(shown)}</a>'

    def _drawing(self, render: Render, display: bool) -> str:
        def size(ex: float) -> str:
            return em(render.em(ex) * MATH_SCALE)
        box = (f"width:{size(render.width)};height:{size(render.height)};"
               f"vertical-align:{size(render.valign)};margin-bottom:{size(render.margin_bottom)}")
        # Never empty (a formula of spacing only): pandoc's EPUB writer writes an empty attribute
        # bare, which is no XML.
        alt = html.escape(render.alt or "公式")
        if self.mode == "img" and self.image:
            img = f'<img class="math-img" src="{html.escape(self.image(render))}" alt="{alt}" style="{box}"/>'
            if self.text_layer and render.alt:
                img = _invisible_tex(render, display) + img
            return self._overlay(img, render) if render.links else img
        # A link inside MathML is followed by Firefox alone: a formula with links in it
        # (`$\\eqref{a},\\eqref{b}$`) is drawn as SVG, whose links every browser follows.
        if not self._as_mathml(render):
            svg = _SVG_BOX.sub(lambda _: f'style="{box}" aria-label="{alt}"', render.svg, count=1)
            svg = self._relink(safe_markup(svg))
            if render.links:      # an `img` may hold nothing focusable (WAI-ARIA): a named drawing of named links
                svg = _LINK_TITLE.sub(r'\g<0> aria-label="\1"', svg.replace(' role="img"', "", 1))
            return svg
        return self._relink(safe_markup(render.mathml.replace("<math ", f'<math alttext="{alt}" ', 1)))

    def _as_mathml(self, render: Render) -> bool:
        """Drawn as MathML: in MathML mode, unless links are inside, which only SVG keeps."""
        return self.mode == "mathml" and not render.links

    def _overlay(self, img: str, render: Render) -> str:
        """An image carries no links: each link MathJax drew (an \\eqref inside a larger formula)
        becomes a transparent link box over its place in the picture."""
        boxes = []
        for link in render.links:
            href = link.href
            if href.startswith("#eq-"):
                href = self.link(href[1:])
            elif not (href.startswith("#") or WEB_URL.match(href)):
                continue
            boxes.append(f'<a class="math-link" href="{html.escape(href)}" title="{html.escape(render.alt)}" '
                         f'style="left:{link.left}%;top:{link.top}%;width:{link.width}%;height:{link.height}%"></a>')
        return f'<span class="math-linked">{img}{"".join(boxes)}</span>'

    def _relink(self, markup: str) -> str:
        """Links drawn by MathJax (\\eqref, \\href): ours go where the anchor lives, web links
        stay, anything else (`javascript:` …) loses its target."""
        def fix(m: re.Match[str]) -> str:
            url = html.unescape(m.group(1))
            if url.startswith("#eq-"):
                return f'href="{html.escape(self.link(url[1:]))}"'
            return m.group(0) if is_kept(url) else 'data-removed-href="removed"'
        return _HREF.sub(fix, markup)

    @staticmethod
    def _tags(tags: list[EquationTag], render: Render | None) -> str:
        if not tags:
            return ""
        spans = []
        for i, tag in enumerate(tags):
            if render and i < len(render.rows) and render.height > 0:
                top = 100 * render.rows[i] / render.height
            else:                      # no drawing: the numbers one under another
                top = 100 * (i + 1) / (len(tags) + 1)
            spans.append(f'<span class="eq-tag" id="{tag.anchor}" style="top:{top:.2f}%">'
                         f'{html.escape(tag.shown)}</span>')
        return f'<span class="eq-tags">{"".join(spans)}</span>'

    def _broken(self, f: Formula, tags: list[EquationTag]) -> str:
        message = f.message or "this formula could not be drawn"
        kind = "display" if f.display else "inline"
        return (f'<span class="math-error {kind}{" tagged" if tags else ""}" id="{formula_anchor(f)}" '
                f'data-formula="{f.index}" title="{html.escape(message)}">'
                f'<code class="math-source">{breakable(shown_source(f))}</code>'
                f'<span class="math-message">{html.escape(message)}</span>{self._tags(tags, None)}</span>')

    # --- documents ---------------------------------------------------------------------------
    def document(self, ast: Document, post: Post, numbers: PostNumbers,
                 renders: dict[tuple[str, int], Render]) -> Document:
        """A copy of the pandoc AST of `post` (kexue_anthology.documents.document) with each formula as raw HTML."""
        ast = json.loads(json.dumps(ast))
        seen: Counter[str] = Counter()
        _swap(ast["blocks"], len(post.formulas),
              lambda i: _unique_ids(self.formula(post.formulas[i], numbers, renders.get((post.id, i))), seen))
        return ast


def _unique_ids(markup: str, seen: Counter[str]) -> str:
    """A post is a page (a chapter) of its own: the second and later inline drawings of one
    formula in it get their glyph ids suffixed (`M…n2-`), so that every id stays unique in
    the page (formulas.drawing makes them unique to each formula, not to each place it stands)."""
    for prefix in dict.fromkeys(_GLYPH_PREFIX.findall(markup)):
        n = seen[prefix]
        seen[prefix] += 1
        if n:
            markup = re.sub(f'(id="|href="#){prefix}-', rf"\g<1>{prefix}n{n}-", markup)
    return markup


def _invisible_tex(render: Render, display: bool) -> str:
    """The formula's TeX, to be drawn invisibly in a monospaced face (0.6 em a character, a
    CJK one 1 em) squeezed or stretched to the drawing's width (the PDF's rules,
    templates/pdf/book.css, place and hide it).  Squeezed no further than
    MIN_TEX_SCALE: poppler takes a letter less than 0.1 em after the same letter for a
    duplicate (fake bold) and drops it (`rr` in `\\curvearrowright`).  A display formula's
    TeX too long for one line at that squeeze wraps at its spaces within the drawing's box, in
    a size that fits it: text running below the drawing would be carried onto the next page
    and move what follows."""
    text = sum(1.0 if ord(c) >= 0x2E80 else 0.602 for c in render.alt)
    width, height = (render.em(x) * MATH_SCALE for x in (render.width, render.height))
    if text <= 0 or width <= 0:           # nothing drawn (a formula of definitions) or nothing to say
        return ""
    scale = max(MIN_TEX_SCALE, width / text)
    style = f"transform:scaleX({scale:.4f})"
    lines = text * scale / width                          # at 1em, lines of the drawing's width
    if display and lines > 1:
        size = min(1.0, 0.7 * (height / lines) ** 0.5)
        style += f";width:{100 / scale:.2f}%;font-size:{size:.3f}em;white-space:pre-wrap"
    elif display:
        style += f";font-size:{min(1.0, height):.3f}em"
    return f'<span class="math-tex" style="{style}">{html.escape(render.alt)}</span>'


def _swap(blocks: list[Node], count: int, html_of: Callable[[int], str]) -> None:
    """Each formula's Span becomes raw HTML, in place.  A span a post writes itself
    (`[文本]{.math}`) has no index of ours and is left as it is."""
    def swap(node: Node) -> Node | None:
        span = Span.of(node)
        index = span.attr.get("data-formula") if span is not None and "math" in span.attr.classes else None
        if index is None or not index.isdigit() or int(index) >= count:
            return None
        return RawInline.new("html", html_of(int(index)))
    replace(blocks, swap)
