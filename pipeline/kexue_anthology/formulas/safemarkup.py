"""Formula markup made safe to show: nothing a formula carries may fetch or cover the page.

TeX lets a post put CSS and attributes into its formulas (`\\style`, `\\bbox[…]`, `\\class`,
`\\cssId`, `\\color`, `\\href`, `\\mmlToken`, huge `\\kern`s …), and MathJax passes them on into
its MathML and SVG.  `safe_markup` is applied to every drawing as it goes into an output
(kexue_anthology.formulas.mathhtml, so drawings already in the cache are covered too).  It walks the markup tag
by tag and keeps only

- elements MathJax's TeX input and SVG output make (an unknown tag is shown as text);
- attributes of an allowlist, each with a check of its value: colours for `mathcolor`,
  `mathbackground`, `fill`, `stroke`; path data, numbers and transforms for the SVG geometry;
  lengths within bounds for MathML's sizes and offsets; `xlink:href` only to `#…` in the same
  document; `href` only to `#…` and the web (anything else becomes `data-removed-href="removed"`);
- `id`s and `class`es that cannot take the page's own: MathJax's glyph ids (on `<path>`) and
  `MJX-`/`mjx-` classes stay, any other is prefixed `tex-`;
- in `style`, declarations of an allowlist of properties whose values are colours, bounded
  lengths and keywords — no `url(`, `@import`, `image-set`, `expression`, escapes, comments,
  `attr()`/`var()`, `position`, `z-index`, `transform`, `content`, `display:none`, huge or
  far negative sizes.

Markup with nothing to remove comes back unchanged, byte for byte.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from functools import lru_cache

from kexue_anthology.formulas.links import is_kept

# --- lengths --------------------------------------------------------------------------------
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_LENGTH = re.compile(rf"({_NUMBER})(em|ex|px|pt|pc|in|cm|mm|mu|%|width|height|depth)?", re.I)
_EM = {"em": 1.0, "ex": 0.5, "px": 1 / 16, "pt": 1 / 12, "pc": 1.0, "in": 6.0, "cm": 6 / 2.54,
       "mm": 0.6 / 2.54, "mu": 1 / 18}
_NAMED_SPACES = {f"{neg}{size}mathspace" for neg in ("", "negative")
                 for size in ("veryverythin", "verythin", "thin", "medium", "thick", "verythick",
                              "veryverythick")}


def _em(token: str, percent: float = 0.01) -> float | None:
    """A length as em (a relative unit: `percent` of an em per %; 1 per width/height/depth
    multiple), or None when it is no length."""
    m = _LENGTH.fullmatch(token)
    if not m:
        return None
    value, unit = float(m.group(1)), (m.group(2) or "").lower()
    if unit == "%":
        return value * percent
    if unit in ("width", "height", "depth"):
        return value
    return value * _EM.get(unit, 1.0)


def _bounded(low: float, high: float, keywords: frozenset[str] = frozenset(), unitless: bool = True,
             percent: float = 0.01) -> Callable[[str], bool]:
    def check(token: str) -> bool:
        if token.lower() in keywords:
            return True
        if not unitless and re.fullmatch(_NUMBER, token) and float(token) != 0:
            return False
        value = _em(token, percent)
        return value is not None and low <= value <= high
    return check


# --- colours --------------------------------------------------------------------------------
_COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}|[a-zA-Z]{1,30}|(?:rgba?|hsla?)\(\s*[-+0-9.%,\s/]{1,60}\)")
_NOT_COLOURS = {"inherit", "initial", "unset", "revert"}   # harmless, but no colour either


def is_colour(value: str) -> bool:
    value = value.strip()
    return bool(_COLOUR.fullmatch(value)) and value.lower() not in _NOT_COLOURS | {"url", "expression"}


# --- CSS ------------------------------------------------------------------------------------
_FORBIDDEN = re.compile(r"url|image|expression|behavior|binding|import|attr\(|var\(|env\(|calc\(|"
                        r"[\\@<>{}!`]|/\*|&", re.I)
_BORDER_STYLES = frozenset({"none", "hidden", "dotted", "dashed", "solid", "double", "groove",
                            "ridge", "inset", "outset"})
_BORDER_WIDTHS = frozenset({"thin", "medium", "thick"})
_FONT_SIZES = frozenset({"xx-small", "x-small", "small", "medium", "large", "x-large", "xx-large",
                         "smaller", "larger"})
_VALIGN = frozenset({"baseline", "sub", "super", "text-top", "text-bottom", "middle", "top",
                     "bottom"})

_border_width = _bounded(0, 1, _BORDER_WIDTHS, unitless=False)
_padding = _bounded(0, 2, unitless=False)
_margin = _bounded(-5, 5, frozenset({"auto"}), unitless=False)


def _border(tokens: list[str]) -> bool:
    return 0 < len(tokens) <= 3 and all(t.lower() in _BORDER_STYLES or _border_width(t) or is_colour(t)
                                        for t in tokens)


def _sides(check: Callable[[str], bool]) -> Callable[[list[str]], bool]:
    return lambda tokens: 0 < len(tokens) <= 4 and all(check(t) for t in tokens)


def _one(check: Callable[[str], bool]) -> Callable[[list[str]], bool]:
    return lambda tokens: len(tokens) == 1 and check(tokens[0])


def _keywords(*words: str) -> Callable[[list[str]], bool]:
    return _one(lambda t: t.lower() in words)


def _font_family(tokens: list[str]) -> bool:
    return bool(re.fullmatch(r"""(?:\s*(?:"[^"\\;]{1,60}"|'[^'\\;]{1,60}'|[\w -]{1,60})\s*,?)+""",
                             " ".join(tokens)))


_colour = _one(is_colour)
_size = _one(_bounded(0, 1000, frozenset({"auto"}), unitless=False, percent=0.01))

CSS_PROPERTIES: dict[str, Callable[[list[str]], bool]] = {
    "color": _colour, "background-color": _colour, "background": _colour,
    "fill": _colour, "stroke": _colour,
    "border": _border, **{f"border-{side}": _border for side in ("top", "right", "bottom", "left")},
    "border-color": _sides(is_colour), "border-style": _sides(lambda t: t.lower() in _BORDER_STYLES),
    "border-width": _sides(_border_width),
    **{f"border-{side}-{part}": _one(check) for side in ("top", "right", "bottom", "left")
       for part, check in (("color", is_colour), ("style", lambda t: t.lower() in _BORDER_STYLES),
                           ("width", _border_width))},
    "border-radius": _sides(_bounded(0, 1, unitless=False)),
    "padding": _sides(_padding), **{f"padding-{side}": _one(_padding) for side in ("top", "right", "bottom", "left")},
    "margin": _sides(_margin), **{f"margin-{side}": _one(_margin) for side in ("top", "right", "bottom", "left")},
    "vertical-align": _one(lambda t: t.lower() in _VALIGN or _bounded(-50, 50, unitless=False)(t)),
    # MathJax's own: the size of an SVG drawing (also ours, see kexue_anthology.formulas.mathhtml), at most as
    # large as the box it is laid out in.
    "width": _size, "height": _size,
    "max-width": _one(_bounded(0, 1e5, frozenset({"none"}), unitless=False, percent=0.01)),   # can only shrink
    "font-size": _one(lambda t: t.lower() in _FONT_SIZES or _bounded(0.01, 4, unitless=False, percent=0.01)(t)),
    "font-style": _keywords("normal", "italic", "oblique"),
    "font-weight": _keywords("normal", "bold", "bolder", "lighter", *(f"{n}00" for n in range(1, 10))),
    "font-family": _font_family,
    "text-decoration": _keywords("none", "underline", "overline", "line-through"),
    "display": _keywords("inline", "inline-block", "block"),
    "text-align": _keywords("left", "right", "center"),          # table cells (kexue_anthology.formulas.mathcore)
    "direction": _keywords("ltr", "rtl"),
}


def _declarations(style: str) -> list[str | None]:
    """A style attribute's declarations as written, split at the semicolons that end them (not
    those inside quotes or parentheses).  A declaration holding a comment is marked by None in
    its place; an unclosed quote or parenthesis spoils the rest."""
    out: list[str | None] = []
    start, depth, quote, spoiled, i = 0, 0, "", False, 0
    while i < len(style):
        c = style[i]
        if quote:
            if c == "\\":
                spoiled, i = True, i + 1
            elif c == quote:
                quote = ""
        elif style.startswith("/*", i):
            spoiled = True
            end = style.find("*/", i + 2)
            i = len(style) if end < 0 else end + 1
        elif c in "\"'":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth = max(depth - 1, 0)
        elif c == ";" and depth == 0:
            out.append(None if spoiled else style[start:i])
            start, spoiled = i + 1, False
        i += 1
    if quote or depth:
        out.append(None)
    else:
        out.append(None if spoiled else style[start:])
    return out


_TOKEN = re.compile(r"\s*([a-zA-Z-]+\([^()]*\)|\"[^\"]*\"|'[^']*'|[^\s()\"',]+,?|,)\s*")


def _value_tokens(value: str) -> list[str] | None:
    tokens, pos = [], 0
    while pos < len(value):
        m = _TOKEN.match(value, pos)
        if not m:
            return None
        tokens.append(m.group(1))
        pos = m.end()
    return tokens


def safe_declaration(declaration: str) -> bool:
    name, colon, value = declaration.partition(":")
    name, value = name.strip().lower(), value.strip()
    check = CSS_PROPERTIES.get(name)
    if not colon or check is None or not value or _FORBIDDEN.search(value):
        return False
    if name != "font-family" and not value.isascii():
        return False
    tokens = _value_tokens(value)
    return tokens is not None and (name == "font-family" or not any("," in t and "(" not in t for t in tokens)) \
        and check(tokens)


def safe_style(raw: str) -> str | None:
    """A style attribute's value (as written in the markup, entities and all) with only its safe
    declarations: the value itself when all are safe, None when none is."""
    style = html.unescape(raw)
    declarations = _declarations(style)
    kept = [d for d in declarations if d is not None and (not d.strip() or safe_declaration(d))]
    if len(kept) == len(declarations):
        return raw
    kept = [d.strip() for d in kept if d.strip()]
    return html.escape(";".join(kept)) if kept else None


# --- attributes -----------------------------------------------------------------------------
_TEXT = lambda v: True                                                        # noqa: E731
_WORDS = re.compile(r"[\w .,#%+:/-]*")
_SVG_NUMBERS = re.compile(rf"(?:\s*,?\s*{_NUMBER})*\s*")
_SVG_PATH = re.compile(r"[MmLlHhVvCcSsQqTtAaZz0-9eE\s.,+-]*")
_SVG_TRANSFORM = re.compile(rf"(?:\s*(?:translate|scale|matrix|rotate|skewX|skewY)\((?:\s*,?\s*{_NUMBER})*\s*\))*\s*")
_GLYPH_ID = re.compile(r"(?:M[0-9a-f]{12}|E\d+)-MJ[\w-]*")
_FONT_LIST = re.compile(r"[\w\s'\",.-]*")
_PREFIX = "tex-"


def _words(value: str) -> bool:
    return bool(_WORDS.fullmatch(value))


def _lengths(low: float, high: float, percent: float = 0.01) -> Callable[[str], bool]:
    one = _bounded(low, high, frozenset({"auto", "fit", "thin", "medium", "thick", "infinity", "0"})
                   | _NAMED_SPACES, percent=percent)
    return lambda value: all(one(t) for t in value.split())


def _svg_length(value: str) -> bool:
    return bool(re.fullmatch(rf"\s*{_NUMBER}(?:ex|em|px)?\s*", value))


def _colour_attribute(value: str) -> bool:
    return is_colour(html.unescape(value))


# MathML: what MathJax's TeX input writes; sizes and offsets within bounds (em), so that no
# formula is laid over the page (\kern-999em, \raise{999em}, \rule{999em}{999em}, mathsize=9999px).
MATHML_ATTRIBUTES: dict[str, Callable[[str], bool]] = {
    **{name: _words for name in (
        "xmlns", "display", "mathvariant", "displaystyle", "scriptlevel", "columnalign", "columnlines",
        "rowalign", "rowlines", "frame", "equalrows", "equalcolumns", "side", "fence", "form", "stretchy",
        "symmetric", "largeop", "movablelimits", "accent", "accentunder", "separator", "linebreak",
        "linebreakstyle", "notation", "actiontype", "selection", "numalign", "denomalign", "bevelled",
        "fontstyle", "fontweight", "columnspan", "rowspan", "indentalign", "dir", "texclass")},
    **{name: _TEXT for name in ("alttext", "open", "close", "separators", "aria-label", "title")},
    "width": _lengths(-10, 50), "height": _lengths(-10, 50), "depth": _lengths(-10, 50),
    "lspace": _lengths(-10, 10), "rspace": _lengths(-10, 10), "voffset": _lengths(-10, 10),
    "mathsize": _lengths(0, 4, percent=0.01), "fontsize": _lengths(0, 4, percent=0.01),
    "minsize": _lengths(0, 10), "maxsize": _lengths(0, 10),
    "linethickness": _lengths(0, 1), "rowspacing": _lengths(-10, 50), "columnspacing": _lengths(-10, 50),
    "framespacing": _lengths(0, 10), "minlabelspacing": _lengths(0, 10), "columnwidth": _lengths(0, 50),
    "mathcolor": _colour_attribute, "mathbackground": _colour_attribute,
    "color": _colour_attribute, "background": _colour_attribute,
    "fontfamily": lambda v: bool(_FONT_LIST.fullmatch(html.unescape(v))),
}
SVG_ATTRIBUTES: dict[str, Callable[[str], bool]] = {
    **{name: _words for name in ("xmlns", "xmlns:xlink", "role", "focusable", "aria-hidden", "pointer-events",
                                 "stroke-linecap", "stroke-linejoin", "font-style", "font-weight",
                                 "text-anchor", "cursor")},
    **{name: _TEXT for name in ("aria-label", "xlink:title")},
    **{name: lambda v: bool(_SVG_NUMBERS.fullmatch(v))
       for name in ("x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "rx", "ry", "r", "points", "viewBox",
                    "stroke-width", "stroke-dasharray", "font-size")},
    "width": _svg_length, "height": _svg_length,
    "d": lambda v: bool(_SVG_PATH.fullmatch(v)),
    "transform": lambda v: bool(_SVG_TRANSFORM.fullmatch(v)),
    "fill": _colour_attribute, "stroke": _colour_attribute,
    "font-family": lambda v: bool(_FONT_LIST.fullmatch(html.unescape(v))),
}
MATHML_ELEMENTS = frozenset(
    "math mi mn mo mtext mspace ms mrow mfrac msqrt mroot mstyle merror mpadded mphantom mfenced menclose "
    "msub msup msubsup munder mover munderover mmultiscripts mprescripts none mtable mtr mtd mlabeledtr "
    "maligngroup malignmark maction semantics annotation".split())
SVG_ELEMENTS = frozenset("svg defs g path use rect line ellipse polygon polyline text a title desc".split())


def _href(value: str) -> str | None:
    url = html.unescape(value)
    return value if is_kept(url) else None


def _ident(value: str) -> str:
    return _PREFIX + re.sub(r"[^A-Za-z0-9_-]", "_", html.unescape(value))


def _class(value: str) -> str | None:
    names = html.unescape(value).split()
    safe = [n if re.fullmatch(r"(?:MJX|mjx)-[A-Za-z0-9-]+", n) else _ident(n) for n in names]
    return " ".join(safe) if safe else None


def _attribute(element: str, name: str, value: str, svg: bool) -> str | None:
    """`name="value"` as it may stay (possibly changed), or None to drop it.  An empty value
    says nothing, and pandoc's EPUB writer would write it bare, which is no XML."""
    if value == "":
        return None
    if name == "style":
        style = safe_style(value)
        return None if style is None else f'style="{style}"'
    if name == "href":
        return f'href="{value}"' if _href(value) is not None else 'data-removed-href="removed"'
    if name == "xlink:href":
        return f'{name}="{value}"' if svg and re.fullmatch(r"#[\w.:-]+", value) else None
    if name == "id":
        if svg and element == "path" and _GLYPH_ID.fullmatch(value):
            return f'id="{value}"'
        return f'id="{_ident(value)}"'
    if name == "class":
        names = _class(value)
        return None if names is None else f'class="{html.escape(names)}"'
    check = (SVG_ATTRIBUTES if svg else MATHML_ATTRIBUTES).get(name)
    return f'{name}="{value}"' if check is not None and check(value) else None


_GENERIC = r"""<!--.*?-->|<(/?)([A-Za-z][\w.:-]*)((?:\s+[A-Za-z_][\w.:-]*="[^"<]*")*)\s*(/?)>|<"""
_MARKUP = re.compile(_GENERIC, re.S)
# The bulk of a drawing, runs of glyphs, plain tags and text as MathJax writes them, passes in one
# piece without a closer look.
_GLYPH = r"(?:M[0-9a-f]{12}|E\d+)-MJ[\w-]*"
_SVG_PLAIN = re.compile(
    rf"""(?P<plain>(?:<path stroke-width="[\d.]+" id="{_GLYPH}" d="[MmLlHhVvCcSsQqTtAaZz0-9eE\s.,+-]*"></path>"""
    rf"""|<use (?:transform="scale\([\d.]+\)" )?xlink:href="#{_GLYPH}"(?: x="-?[\d.]+" y="-?[\d.]+")?></use>"""
    r"""|</?(?:g|defs)>|</(?:svg|rect|line|text|a)>|[^<]+)+)|""" + _GENERIC, re.S)
_MATHML_PLAIN = re.compile(
    r"""(?P<plain>(?:</?(?:mi|mn|mo|mtext|mrow|mfrac|msqrt|mroot|msub|msup|msubsup|munder|mover|munderover"""
    r"""|mtable|mtr|mtd|mstyle|mspace|mpadded|mphantom|menclose|math)>|<mrow class="MJX-TeXAtom-[A-Z]+">"""
    r"""|<mi mathvariant="[a-z-]+">|<mo(?: stretchy="false"| fence="(?:true|false)")+>|[^<]+)+)|""" + _GENERIC, re.S)
_ATTRIBUTE = re.compile(r'(\s+)([A-Za-z_][\w.:-]*)="([^"<]*)"')
_ROOT = re.compile(r"\s*<([A-Za-z][\w:-]*)")


_CHAR_REF = re.compile(r"&#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}));")


def _xml_char(m: re.Match[str]) -> str:
    """A character reference to what XML forbids (`\\unicode{xD800}`: a lone surrogate, a
    control character) is U+FFFD: one such reference makes an XHTML chapter unreadable."""
    code = int(m.group(1), 16) if m.group(1) else int(m.group(2))
    allowed = code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD \
        or 0x10000 <= code <= 0x10FFFF
    return m.group(0) if allowed else "&#xFFFD;"


@lru_cache(maxsize=4096)
def safe_markup(markup: str) -> str:
    """MathJax's SVG or MathML (told apart by the root element) with only what is safe to show."""
    if "&#" in markup:
        markup = _CHAR_REF.sub(_xml_char, markup)
    root = _ROOT.match(markup)
    svg = root is not None and root.group(1) == "svg"
    return (_SVG_PLAIN if svg else _MATHML_PLAIN).sub(
        lambda m: m.group(0) if m.lastgroup == "plain" or m.group(0).startswith("<!--") else _tag(svg, m.group(0)),
        markup)


@lru_cache(maxsize=65536)
def _tag(svg: bool, tag: str) -> str:
    """One tag as it may stay: an unknown element or a stray "<" shown as text, attributes checked."""
    m = _MARKUP.fullmatch(tag)
    if m is None or m.group(2) is None:                     # a stray "<"
        return html.escape(tag, quote=False)
    closing, element, attributes, empty = m.groups()
    if element not in (SVG_ELEMENTS if svg else MATHML_ELEMENTS) or (closing and (attributes or empty)):
        return html.escape(tag, quote=False)
    if closing or not attributes:
        return tag
    changed, parts = False, []
    for a in _ATTRIBUTE.finditer(attributes):
        space, name, value = a.groups()
        kept = _attribute(element, name, value, svg)
        changed = changed or kept != f'{name}="{value}"'
        if kept is not None:
            parts.append(space + kept)
    return tag if not changed else f"<{element}{''.join(parts)}{' /' if empty else ''}>"
