"""The render stage: every distinct formula drawn once by MathJax, as SVG and as MathML.

A drawing depends on the TeX as drawn (each `\\ref`/`\\eqref` already replaced by a link to
our anchor with our number, see `drawn_tex`), display mode, the macros in scope (the post's
earlier formulas that define something) and the engine; the cache key is a hash of exactly
these, so a formula shared by many posts is drawn once, and a second build of an unchanged
collection starts no engine.  Formulas that failed validation and bare references are not
drawn: the emitters show the former as their source in a marked box and the latter as links.

The worker replays a post's formulas in page order up to the last one to draw (the page's
macros and `\\require`s), drawing only the formulas missing from the cache.  SVGs come back
without MathJax's tags; `Render.rows` says where each tagged row's baseline lies so that the
emitters set the numbers level with their rows.
"""

from __future__ import annotations

import hashlib
import re
import threading
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from PIL import ImageColor
from pylatexenc.latex2text import LatexNodes2Text

from pipeline.cache import Cache, key
from pipeline.diagnostics import Diagnostics
from pipeline.mathcore import core_mathml
from pipeline.mathjax.client import Request, Worker, fingerprint
from pipeline.model import Formula, Post
from pipeline.number import PostNumbers, Reference
from pipeline.validate import EngineOptions, error_code

UNITS_PER_EX = 430.554        # MathJax SVG: 1000 units per em, x-height 0.430554 em
EX_PER_EM = 1000 / UNITS_PER_EX
CJK_FONTS = "'Noto Serif CJK SC','Source Han Serif SC','Noto Sans CJK SC','Songti SC',serif"
TEXT_SIZE = 1000 / 71.759     # mathjax-node draws text at scale(71.759): 13.935 px is one em

DEFINES = re.compile(r"\\(?:(?:re|provide)?newcommand|(?:re)?newenvironment|[gex]?def|let|"
                     r"DeclareMathOperator|require|Newextarrow)(?![A-Za-z])")
REF = re.compile(r"\\(eqref|ref)\s*\{([^{}]*)\}")
NOT_REPLAYED = ("engine-timeout", "engine-crash", "too-complex", "formula-too-long")   # never sent again
DRAW_TIME_FACTOR = 3


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
    # The links drawn inside the formula (\\eqref in a larger formula, \\href): [href, left, top,
    # width, height] as percentages of the drawing, so that an <img> of it can carry them.
    links: list[list] = field(default_factory=list)

    def em(self, ex: float) -> float:
        return round(ex / EX_PER_EM, 4)


@dataclass
class RenderStats:
    formulas: int = 0         # drawable formulas in the collection
    distinct: int = 0
    drawn: int = 0            # went through the engine this run
    cached: int = 0


def drawn_tex(f: Formula, refs: list[Reference], linked: bool = True) -> str:
    """The formula with every \\ref/\\eqref replaced by our number, as a link to our anchor
    (MathJax alone cannot resolve a reference to a later formula), or as plain text for
    `linked=False`.  Left as it is when the references written do not match the ones MathJax read."""
    found = list(REF.finditer(f.tex))
    if not found or [m.group(2) for m in found] != [r.label for r in refs]:
        return f.tex
    out, pos = [], 0
    for m, ref in zip(found, refs):
        out.append(f.tex[pos:m.start()])
        shown = "\\text{" + ref.shown + "}"
        if linked and ref.target:
            shown = f"\\href{{#{ref.target.anchor}}}{{{shown}}}"
        out.append("{" + shown + "}")
        pos = m.end()
    out.append(f.tex[pos:])
    return "".join(out)


_ONLY_REF = re.compile(r"^\s*\\(?:eq)?ref\s*\{[^{}]*\}\s*$")


def is_reference(f: Formula) -> bool:
    """A bare \\ref/\\eqref, or a formula that is nothing else (`$\\eqref{x}$`): shown as a link
    in the text, not drawn (a link inside MathML is no link in most browsers)."""
    return f.delimiter == "ref" or bool(f.ok and _ONLY_REF.match(f.tex))


def drawable(f: Formula) -> bool:
    return bool(f.ok) and not is_reference(f)


def rejected(f: Formula) -> bool:
    """A formula MathJax rejects: shown as its source in a marked box and listed."""
    return not f.ok and f.delimiter != "ref"


WEB_URL = re.compile(r"^\s*(?:https?:|mailto:)", re.I)    # the only link schemes an output keeps


def replayable(f: Formula) -> bool:
    """Formulas sent again to rebuild a page's state: all but those that hung or killed the
    engine, or were never sent to it."""
    return f.ok or error_code(f.message or "") not in NOT_REPLAYED


class _ToText(LatexNodes2Text):
    """pylatexenc's LaTeX-to-text, keeping the name of a macro it does not know (a post's own
    \\newcommand, say) instead of dropping it."""

    def macro_node_to_text(self, node):
        if self.latex_context.get_macro_spec(node.macroname) is None:
            return node.macroname + "".join(self._groupnodecontents_to_text(n)
                                            for n in (node.nodeargd.argnlist if node.nodeargd else []) if n)
        return super().macro_node_to_text(node)


_TO_TEXT = threading.local()
_HREF_URL = re.compile(r"\\href\s*\{[^{}]*\}")


def plain_text(tex: str) -> str:
    """A formula as plain text (pylatexenc), for alt text, titles and bookmarks."""
    if not hasattr(_TO_TEXT, "converter"):
        _TO_TEXT.converter = _ToText(math_mode="text", strict_latex_spaces=True)
    tex = _HREF_URL.sub("", tex)                 # \href{url}{text}: the text
    try:
        text = _TO_TEXT.converter.latex_to_text(tex)
    except Exception:        # pylatexenc gives up on some input; the source is still readable
        text = tex
    return " ".join(text.split())


_TITLE_MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)", re.S)


def plain_title(title: str) -> str:
    """A title with its math as plain text (`关于$\\alpha$的笔记` → `关于α的笔记`), for contents,
    bookmarks, running headers and page titles, where no formula can be drawn."""
    return _TITLE_MATH.sub(lambda m: plain_text(next(g for g in m.groups() if g is not None)), title)


_NOT_SHOWN = re.compile(r"\\(?:label|tag\s*\*?)\s*\{(?:[^{}]|\{[^{}]*\})*\}|\\(?:notag|nonumber)(?![A-Za-z])")


def alt_text(tex: str) -> str:
    """Alt text of a formula: its TeX as written, without what numbers it (`\\label`, `\\tag`,
    `\\notag`, `\\nonumber`) and the address of an `\\href`, whitespace collapsed."""
    tex = _HREF_URL.sub("", tex)
    tex = _NOT_SHOWN.sub(lambda m: " " if tex[m.end():m.end() + 1].isalpha() else "", tex)   # \\alpha\\notag b
    return " ".join(tex.split())


def _version() -> str:
    """The drawing code: this module and the MathML Core conversion."""
    h = hashlib.sha256()
    for module in (Path(__file__), Path(__file__).with_name("mathcore.py")):
        h.update(module.read_bytes())
    return h.hexdigest()[:16]


def render(posts: list[Post], numbers: dict[str, PostNumbers], diagnostics: Diagnostics,
           options: EngineOptions) -> tuple[dict[tuple[str, int], Render], RenderStats]:
    """Renders of every drawable formula, by (post id, formula index)."""
    stats = RenderStats()
    cache = Cache(options.cache_dir, "renders")
    engine = (fingerprint(), _version())
    keys: dict[tuple[str, int], str] = {}
    texts: dict[tuple[str, int], str] = {}
    alts: dict[str, str] = {}
    cached: dict[str, Optional[dict]] = {}            # each key's cache entry, read once
    missing: dict[str, tuple[str, int]] = {}          # key → first formula with it
    for post in posts:
        scope: list[str] = []
        refs = numbers[post.id].refs if post.id in numbers else {}
        for f in post.formulas:
            tex = drawn_tex(f, refs.get(f.index, []))
            texts[(post.id, f.index)] = tex
            if drawable(f):
                k = key(engine, tex, f.display, scope)
                keys[(post.id, f.index)] = k
                if k not in cached:
                    value = cache.get(k)
                    cached[k] = value if _complete(value) else None
                    if cached[k] is None:
                        missing[k] = (post.id, f.index)
                        alts[k] = drawn_tex(f, refs.get(f.index, []), linked=False)
            if DEFINES.search(f.tex):
                scope.append(f.tex)
    stats.formulas = len(keys)
    stats.distinct = len(cached)
    drawn = _draw(posts, texts, alts, missing, cache, diagnostics, options) if missing else {}
    stats.drawn = len(missing)
    stats.cached = stats.distinct - stats.drawn
    renders = {where: Render(**value) for where, k in keys.items()
               if (value := cached[k] or drawn.get(k)) is not None}
    return renders, stats


def _complete(value) -> bool:
    return (isinstance(value, dict) and isinstance(value.get("svg"), str)
            and value["svg"].startswith("<svg") and value["svg"].rstrip().endswith("</svg>")
            and isinstance(value.get("mathml"), str) and value["mathml"].rstrip().endswith("</math>")
            and set(value) == set(Render.__dataclass_fields__))


def _draw(posts, texts, alts, missing, cache: Cache, diagnostics: Diagnostics,
          options: EngineOptions) -> dict[str, dict]:
    """Draw the missing formulas: each post's stream (state replay + drawings) goes whole to
    one of `options.jobs` workers, which run side by side."""
    wanted = {where: k for k, where in missing.items()}
    streams = []
    for post in posts:
        last = max((f.index for f in post.formulas if (post.id, f.index) in wanted), default=-1)
        stream = [(f, wanted.get((post.id, f.index))) for f in post.formulas[:last + 1] if replayable(f)]
        if stream:
            streams.append((post, stream))
    buckets: list[list] = [[] for _ in range(max(1, min(options.workers(), len(streams))))]
    load = [0] * len(buckets)
    for post, stream in sorted(streams, key=lambda s: -sum(10 if k else 1 for _, k in s[1])):
        i = load.index(min(load))
        buckets[i].append((post, stream))
        load[i] += sum(10 if k else 1 for _, k in stream)
    drawn: dict[str, dict] = {}
    lock = threading.Lock()

    def run(bucket):
        requests, asked = [], {}
        for post, stream in bucket:
            for f, k in stream:
                if k is not None:
                    asked[len(requests)] = (post, f, k)
                requests.append(Request(post.id, texts[(post.id, f.index)], f.display,
                                        render=k is not None, quiet=k is None))

        def on_answer(i: int, answer: dict) -> None:
            post, f, k = asked[i]
            drawing = answer.get("render")
            problem = f"MathJax could not draw this formula, which it accepted when checking: {answer.get('error')}"
            if answer.get("ok") and isinstance(drawing, dict):
                try:
                    value = asdict(finish(drawing, k, alts[k]))
                except (ValueError, TypeError, KeyError, ET.ParseError, RecursionError) as e:
                    problem = f"MathJax's drawing of this formula could not be used: {e}"
                else:
                    cache.put(k, value)
                    drawn[k] = value
                    return
            with lock:
                diagnostics.error("render", problem, f.position, source=texts[(post.id, f.index)])

        # Drawing takes about ten times as long as checking: a formula gets three times the time.
        worker = (options.worker_factory() if options.worker_factory
                  else Worker(timeout=DRAW_TIME_FACTOR * options.timeout))
        with worker:
            worker.check(requests, on_answer)

    with ThreadPoolExecutor(len(buckets)) as pool:
        for done in [pool.submit(run, bucket) for bucket in buckets]:
            done.result()
    return drawn


# An empty drawing (a formula that only defines macros) is `width="0"`, without a unit.
_SVG_SIZE = re.compile(r'<svg[^>]*?width="([-\d.]+)(?:ex)?" height="([-\d.]+)(?:ex)?" style="([^"]*)"')
_STYLE = re.compile(r"(vertical-align|margin-bottom):\s*([-\d.]+)ex")
_IDS = re.compile(r'(id="|href="#)E\d+-')
_TEXT = re.compile(r'<text font-family="monospace" ([^>]*)>([^<]*)</text>')
_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef\U00020000-\U0002fa1f]")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_SVG_LINK = re.compile(r'<a class="mjx-svg-href" href="([^"]*)"')
_COLOR = re.compile(r'\b(mathcolor|mathbackground|color|background)="([^"]*)"')
_HTML4_COLORS = {"aqua", "black", "blue", "fuchsia", "gray", "green", "lime", "maroon", "navy", "olive",
                 "purple", "red", "silver", "teal", "white", "yellow"}
_LABEL_CELL = re.compile(r"<mlabeledtr([^>]*)>\s*<mtd[^>]*>.*?</mtd>", re.S)


def finish(drawing: dict, k: str, alt_tex: str) -> Render:
    """Our touches on MathJax's output: glyph ids unique to the formula, CJK text in a CJK
    font at MathJax's em, links titled, tag cells out of the MathML, colours as MathML 3
    allows them, the MathML as MathML Core draws it (pipeline.mathcore), sizes read off the
    SVG, the TeX as alt text."""
    svg = _IDS.sub(lambda m: f"{m.group(1)}M{k[:12]}-", drawing["svg"])
    svg = _TEXT.sub(_text_font, svg)
    svg = _SVG_LINK.sub(lambda m: f'{m.group(0)} xlink:title="{_link_title(m.group(1))}"', svg)
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


_TRANSFORM = re.compile(r"(translate|scale|matrix)\(([^)]*)\)")
_SVG_NS = "{http://www.w3.org/2000/svg}"


def _matrix(transform: str) -> tuple[float, ...]:
    """An SVG transform attribute (MathJax writes translate, scale and matrix) as (a b c d e f)."""
    m = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    for name, args in _TRANSFORM.findall(transform or ""):
        v = [float(x) for x in re.split(r"[\s,]+", args.strip()) if x]
        if name == "translate":
            t = (1, 0, 0, 1, v[0], v[1] if len(v) > 1 else 0)
        elif name == "scale":
            t = (v[0], 0, 0, v[1] if len(v) > 1 else v[0], 0, 0)
        else:
            t = tuple(v[:6])
        m = _mul(m, t)
    return m


def link_boxes(svg: str) -> list[list]:
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
    stack = [(root, (1.0, 0.0, 0.0, 1.0, 0.0, 0.0))]       # a loop, not recursion: drawings nest deep
    while stack:
        node, m = stack.pop()
        m = _mul(m, _matrix(node.get("transform")))
        if node.tag == _SVG_NS + "a":
            box = _link_box(node, m, (x0, y0, w, h))
            if box:
                boxes.append(box)
        stack.extend((child, m) for child in reversed(node))
    return boxes


def _link_box(node, m, view) -> Optional[list]:
    x0, y0, w, h = view
    rect = node.find(_SVG_NS + "rect")
    href = node.get("href") or node.get("{http://www.w3.org/1999/xlink}href")
    if rect is None or not href or not w or not h:
        return None
    rx, ry = float(rect.get("x", 0)), float(rect.get("y", 0))
    rw, rh = float(rect.get("width", 0)), float(rect.get("height", 0))
    xs, ys = zip(*(_apply(m, px, py) for px in (rx, rx + rw) for py in (ry, ry + rh)))
    return [href, round(100 * (min(xs) - x0) / w, 3), round(100 * (min(ys) - y0) / h, 3),
            round(100 * (max(xs) - min(xs)) / w, 3), round(100 * (max(ys) - min(ys)) / h, 3)]


def _mul(m, t):
    """The product of two affine matrices (a b c d e f), `t` applied first."""
    return (m[0] * t[0] + m[2] * t[1], m[1] * t[0] + m[3] * t[1], m[0] * t[2] + m[2] * t[3],
            m[1] * t[2] + m[3] * t[3], m[0] * t[4] + m[2] * t[5] + m[4], m[1] * t[4] + m[3] * t[5] + m[5])


def _apply(m, x, y):
    return m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5]


def _link_title(url: str) -> str:
    if url.startswith("#"):
        return "跳到公式"
    return url if WEB_URL.match(url) else "链接"


def _mathml_color(m: re.Match) -> str:
    """MathML 3 takes #rgb/#rrggbb and the 16 HTML 4 names; MathJax passes CSS names through."""
    value = m.group(2).strip()
    if re.fullmatch(r"#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?", value) or value.lower() in _HTML4_COLORS:
        return m.group(0)
    try:
        r, g, b = ImageColor.getrgb(value)[:3]
    except ValueError:
        return ""
    return f'{m.group(1)}="#{r:02x}{g:02x}{b:02x}"'


def _row_depths(svg: str, drawing: dict) -> list[float]:
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


def _text_font(m: re.Match) -> str:
    family = CJK_FONTS if _CJK.search(m.group(2)) else "monospace"
    return f'<text font-family="{family}" font-size="{TEXT_SIZE:.3f}" {m.group(1)}>{m.group(2)}</text>'
