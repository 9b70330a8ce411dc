"""MathJax 2's MathML made to draw in MathML Core (what Chromium implements) as MathJax draws it.

Core ignores every `mathvariant` but `normal` on `<mi>`, named spaces (`thinmathspace`) and
the spacing TeX puts around function names, so `\\mathbb{E}` shows as E, `\\,` as nothing and
`\\log p` as "logp".  `core_mathml` rewrites the markup:

- each token (`mi mn mo mtext ms`) whose mathvariant, its own or inherited, is not `normal`
  gets its characters from Unicode's Mathematical Alphanumeric Symbols (with the block's
  holes filled from Letterlike Symbols: ℝ ℋ ℭ ℎ …); a token with a character that has no
  such form keeps its characters, bold and italic as CSS (`font-weight`, `font-style`), and
  an upright single-letter `<mi>` becomes `mathvariant="normal"`.  No other mathvariant is left;
- named spaces become em;
- `|` and `‖` written without `\\left`/`\\right` get no spaces (`p(y|x)`), nor does a binary
  operator where TeX makes it ordinary (`= -x`, `(-1)`);
- function names (`\\log`, `\\sin`, `\\operatorname`: an `<mi>` before U+2061; `\\max`,
  `\\lim`: an `<mo form="prefix" movablelimits="true">`) get TeX's thin spaces: after the
  name unless an opening fence or a binary, relation or punctuation follows, before it after
  an ordinary, closing or inner atom.

Input that is no XML comes back unchanged, and so does markup with nothing to change.
"""

from __future__ import annotations

import re
import unicodedata
import xml.etree.ElementTree as ET

NS = "http://www.w3.org/1998/Math/MathML"
_NS = "{" + NS + "}"
TOKENS = frozenset(["mi", "mn", "mo", "mtext", "ms"])
THIN = "0.1667em"                       # TeX's \, (3mu), MathJax 2's thinmathspace

# mathvariant → the words of the Unicode names of its letters ("MATHEMATICAL BOLD CAPITAL A").
VARIANTS = {
    "bold": "BOLD", "italic": "ITALIC", "bold-italic": "BOLD ITALIC", "double-struck": "DOUBLE-STRUCK",
    "script": "SCRIPT", "bold-script": "BOLD SCRIPT", "fraktur": "FRAKTUR", "bold-fraktur": "BOLD FRAKTUR",
    "sans-serif": "SANS-SERIF", "bold-sans-serif": "SANS-SERIF BOLD",
    "sans-serif-italic": "SANS-SERIF ITALIC", "sans-serif-bold-italic": "SANS-SERIF BOLD ITALIC",
    "monospace": "MONOSPACE",
}
_PLAIN = ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789ıȷ"
          + "".join(chr(c) for c in range(0x391, 0x3AA) if c != 0x3A2)
          + "".join(chr(c) for c in range(0x3B1, 0x3CA)) + "ϴϵϑϰϕϱϖ∇∂")
_HOLES = {"ITALIC SMALL H": "PLANCK CONSTANT"}         # ℎ; the others are named as in the block


def _styled_name(c: str) -> str:
    """`A` → "CAPITAL A", `α` → "SMALL ALPHA", `ϵ` → "EPSILON SYMBOL", `7` → "DIGIT SEVEN"."""
    name = unicodedata.name(c)
    for word in ("LATIN ", "GREEK ", "LUNATE ", " LETTER"):
        name = name.replace(word, "")
    return name


def _lookup(name: str) -> str | None:
    try:
        return unicodedata.lookup(name)
    except KeyError:
        return None


def _table() -> dict[str, dict[str, str]]:
    """For each mathvariant, its characters: the Mathematical Alphanumeric Symbols, and where
    the block has a hole, the Letterlike Symbol it stands for (ℝ: DOUBLE-STRUCK CAPITAL R,
    ℭ: BLACK-LETTER CAPITAL C)."""
    table: dict[str, dict[str, str]] = {}
    for variant, words in VARIANTS.items():
        table[variant] = {}
        for c in _PLAIN:
            rest = f"{words} {_styled_name(c)}"
            styled = (_lookup("MATHEMATICAL " + rest)
                      or _lookup(_HOLES.get(rest, rest).replace("FRAKTUR", "BLACK-LETTER")))
            if styled:
                table[variant][c] = styled
    return table


STYLED = _table()
# ∂ is slanted in TeX's upright fonts too: MathJax's bold ∂ is Unicode's bold italic one.
STYLED["bold"]["∂"], STYLED["bold-sans-serif"]["∂"] = STYLED["bold-italic"]["∂"], STYLED["sans-serif-bold-italic"]["∂"]

_OPEN = frozenset("([{⟨⌈⌊⟦⟮⦃⦅⦇⦉〈")
_CLOSE = frozenset(")]}⟩⌉⌋⟧⟯⦄⦆⦈⦊〉!?")
_BIN = frozenset("+−±∓×÷·∗⋅∘∙∪∩⊕⊖⊗⊘⊙∧∨∖⋆⋄⊎⊓⊔")
_PUNCT = frozenset(",;")
_ORD_MO = frozenset("|‖/′″‴∞∅∠△▽⊤⊥.⋯…⋮⋱∀∃¬")
_NAMED_SPACES = {f"{neg}{name}mathspace": f"{sign}{n / 18:.4f}em"
                 for neg, sign in (("", ""), ("negative", "-"))
                 for n, name in enumerate(("veryverythin", "verythin", "thin", "medium", "thick", "verythick",
                                           "veryverythick"), start=1)}
_LENGTH_ATTRIBUTES = ("width", "height", "depth", "lspace", "rspace", "voffset")
_SCRIPTED = frozenset(["msub", "msup", "msubsup", "munder", "mover", "munderover", "mmultiscripts"])
_EMPTY = frozenset(["mspace", "none", "mprescripts", "mglyph", "malignmark", "maligngroup"])


def core_mathml(mathml: str) -> str:
    """MathJax's MathML as MathML Core draws it the way MathJax does (see the module's text)."""
    try:
        root = ET.fromstring(mathml)
    except ET.ParseError:
        return mathml
    if root.tag != _NS + "math" or any(not _known(e) for e in root.iter()):
        return mathml
    changed = _variants(root)
    changed = _spaces(root) or changed
    changed = _functions(root) or changed
    changed = _scripts(root) or changed
    changed = _tables(root) or changed
    changed = _enclosures(root) or changed
    return _serialize(root) if changed else mathml


def _known(e: ET.Element) -> bool:
    return (isinstance(e.tag, str) and e.tag.startswith(_NS)
            and all(not name.startswith("{") for name in e.attrib))


def _name(e: ET.Element) -> str:
    return e.tag[len(_NS):]


# --- mathvariant ------------------------------------------------------------------------------
def _variants(root: ET.Element) -> bool:
    """Every token's effective mathvariant (its own, else its nearest ancestor's) put into its
    characters; the attribute removed everywhere but as `normal` on `<mi>`."""
    changed = False
    stack: list[tuple[ET.Element, str | None, ET.Element | None]] = [(root, None, None)]
    while stack:
        e, inherited, parent = stack.pop()
        own = e.attrib.get("mathvariant")
        variant = own if own is not None else inherited
        if _name(e) in TOKENS:
            changed = _token(e, variant, parent) or changed
            continue
        if own is not None:
            del e.attrib["mathvariant"]
            changed = True
        stack.extend((child, variant, e) for child in e)
    return changed


def _css(variant: str) -> list[str]:
    return ["font-weight:bold"] * ("bold" in variant) + ["font-style:italic"] * ("italic" in variant)


def _token(e: ET.Element, variant: str | None, parent: ET.Element | None) -> bool:
    own = e.attrib.pop("mathvariant", None)
    if variant is None or variant == "normal":
        if variant == "normal" and _name(e) == "mi":
            e.set("mathvariant", "normal")
        return e.attrib.get("mathvariant") != own
    text, table = e.text or "", STYLED.get(variant, {})
    if not len(e) and all(c in table or c.isspace() for c in text):
        e.text = "".join(table.get(c, c) for c in text)
        return True
    css = _css(variant)
    if css and _name(e) == "mtext" and parent is not None and not len(e) and any(c in table for c in text):
        _split(e, parent, table, css)            # \textbf{粗体 ab}: 𝐚𝐛 and bold CJK side by side
        return True
    # A character without a styled form: bold and slant as CSS, over characters left as they are.
    if css:
        _add_style(e, css)
    else:                                        # double-struck, script …: what has the form takes it
        e.text = "".join(table.get(c, c) for c in text)
    if "italic" not in variant and _name(e) == "mi" and len(text) == 1:
        e.set("mathvariant", "normal")           # upright, as MathJax draws it
    return True


def _add_style(e: ET.Element, css: list[str]) -> None:
    style = e.attrib.get("style", "").strip().rstrip(";")
    e.set("style", ";".join([style] * bool(style) + css))


def _split(e: ET.Element, parent: ET.Element, table: dict[str, str], css: list[str]) -> None:
    """A text with characters of both kinds as an <mrow> of texts, one per run: Chromium does
    not embolden the Latin of a text that also holds CJK, and a styled letter must not be
    emboldened again.  Spaces at the ends of a run are no-break spaces, or they would vanish."""
    runs: list[tuple[bool, str]] = []             # (styled, text)
    for c in e.text or "":
        styled = c in table or (c.isspace() and (not runs or runs[-1][0]))
        if runs and runs[-1][0] == styled:
            runs[-1] = (styled, runs[-1][1] + table.get(c, c))
        else:
            runs.append((styled, table.get(c, c)))
    row = ET.Element(_NS + "mrow")
    for styled, text in runs:
        run = ET.SubElement(row, e.tag, dict(e.attrib))
        run.text = re.sub(r"^ | $", "\u00a0", text)
        if not styled:
            _add_style(run, css)
    row.tail = e.tail
    parent[list(parent).index(e)] = row


# --- spaces -------------------------------------------------------------------------------------
def _spaces(root: ET.Element) -> bool:
    changed = False
    for e in root.iter():
        for name in _LENGTH_ATTRIBUTES:
            value = e.attrib.get(name, "").strip()
            if value in _NAMED_SPACES:
                e.set(name, _NAMED_SPACES[value])
                changed = True
    return changed


# --- TeX's spacing: function names, bars, signs ---------------------------------------------
def _atom(e: ET.Element | None) -> str:
    """The TeX class of a node as MathJax 2 spaces it: ORD OP BIN REL OPEN CLOSE PUNCT INNER,
    or NONE (no node, a space, U+2061).  BIN and REL stand for any operator Core spaces itself."""
    while e is not None:
        name = _name(e)
        m = re.search(r"\bMJX-TeXAtom-([A-Z]+)", e.attrib.get("class", ""))
        if m:
            return m.group(1) if m.group(1) in ("OP", "OPEN", "CLOSE", "BIN", "REL", "PUNCT", "INNER") else "ORD"
        if name == "mo":
            text = (e.text or "").strip()
            if text in ("\u2061", "\u2062", "\u2063", ""):
                return "NONE"
            if (e.attrib.get("form") == "prefix" and e.attrib.get("movablelimits") == "true") or text.isalpha():
                return "OP"
            if "lspace" in e.attrib and e.get("lspace") == e.get("rspace") == "0":
                return "ORD"                     # made ordinary here
            return ("OPEN" if text in _OPEN else "CLOSE" if text in _CLOSE else "PUNCT" if text in _PUNCT
                    else "ORD" if text in _ORD_MO else "BIN" if text in _BIN else "REL")
        if name in ("mspace", "none", "mprescripts", "malignmark", "maligngroup"):
            return "NONE"
        if name == "mfrac":
            return "INNER"
        if _function_name(e):
            return "OP"
        children = list(e)
        if name == "mrow" and len(children) > 1:          # \\left … \\right is an inner atom
            return "INNER" if _name(children[0]) == "mo" and _name(children[-1]) == "mo" else "ORD"
        if (name in _SCRIPTED or name in ("mrow", "mstyle", "mpadded", "mphantom", "semantics")) and children:
            e = children[0]
            continue
        return "ORD"
    return "NONE"


def _functions(root: ET.Element) -> bool:
    """TeX's spacing where Core's differs: thin spaces around function names (U+2061 alone is
    no space in Core, and an `<mo>` of letters gets thick spaces on both sides), none around
    `|` and around a sign TeX makes ordinary (Core spaces both as binary operators)."""
    changed = False
    for parent in list(root.iter()):
        children = list(parent)
        new: list[ET.Element] = []
        for i, e in enumerate(children):
            before = new[-1] if new else None
            after = children[i + 1] if i + 1 < len(children) else None
            if _name(e) == "mo" and (e.text or "").strip() == "\u2061":
                if before is not None and _atom(after) in ("ORD", "OP", "INNER") and e.get("rspace") != THIN:
                    e.set("rspace", THIN)
                    changed = True
            elif _name(e) == "mo" and (e.text or "") in ("|", "‖") and e.get("stretchy") == "false" \
                    and "lspace" not in e.attrib:
                e.set("lspace", "0")             # |, \\|, \\vert: ordinary symbols in TeX, no spaces
                e.set("rspace", "0")
                changed = True
            elif _name(e) == "mo" and (e.text or "") in _BIN and "lspace" not in e.attrib \
                    and _atom(before) in ("NONE", "OP", "BIN", "REL", "OPEN", "PUNCT"):
                e.set("lspace", "0")             # -x after =, ( or at the start: an ordinary symbol in TeX
                e.set("rspace", "0")
                changed = True
            elif (core := _named_operator(e)) is not None:
                core.set("lspace", THIN if _atom(before) in ("ORD", "CLOSE", "INNER") else "0")
                core.set("rspace", THIN if _atom(after) in ("ORD", "OP", "INNER") else "0")
                changed = True
            elif (_function_name(_base(e)) or _applies(after)) and _atom(before) in ("ORD", "CLOSE", "INNER"):
                new.append(ET.Element(_NS + "mspace", {"width": THIN}))
                changed = True
            new.append(e)
        if len(new) != len(children):
            parent[:] = new
    return changed


def _applies(e: ET.Element | None) -> bool:
    return e is not None and _name(e) == "mo" and (e.text or "").strip() == "\u2061"


def _function_name(e: ET.Element) -> bool:
    """`\\log`, `\\operatorname{KL}`: an <mi> of several letters."""
    text = e.text or ""
    return (_name(e) == "mi" and len(text) > 1 and text.isalpha() and not len(e)
            and all(ord(c) < 0x1D400 for c in text))     # not letters styled by a mathvariant


def _base(e: ET.Element) -> ET.Element:
    while _name(e) in _SCRIPTED and len(e):
        e = e[0]
    return e


def _named_operator(e: ET.Element) -> ET.Element | None:
    """The <mo> of `\\max`, `\\lim`, `\\det` … (possibly under limits): letters MathJax marks
    as a prefix operator, not yet spaced."""
    e = _base(e)
    text = e.text or ""
    if (_name(e) == "mo" and e.get("form") == "prefix" and len(text) > 1 and text.isalpha()
            and "lspace" not in e.attrib):
        return e
    return None


# --- scripts ------------------------------------------------------------------------------------
def _scripts(root: ET.Element) -> bool:
    """TeX sets relations and binary operators in sub- and superscripts without their spaces
    (`\\sum_{i=1}`); Core keeps the operator dictionary's, so they are set to nothing."""
    changed = False
    for e in root.iter():
        if _name(e) not in _SCRIPTED:
            continue
        for script in list(e)[1:]:
            for mo in script.iter(_NS + "mo"):
                if "lspace" not in mo.attrib and "rspace" not in mo.attrib and mo.get("form") != "prefix":
                    mo.set("lspace", "0")
                    mo.set("rspace", "0")
                    changed = True
    return changed


# --- tables -------------------------------------------------------------------------------------
_ALIGN = {"left": "left", "right": "right"}
_LINE = {"solid": "solid", "dashed": "dashed"}
_LENGTH = re.compile(r"^(-?[\d.]+)([a-z%]*)$")
_ROWS = frozenset(["mtr", "mlabeledtr"])


def _half(length: str) -> str:
    m = _LENGTH.match(length.strip())
    if not m:
        return "0"
    value = float(m.group(1)) / 2
    return f"{value:.4g}{m.group(2) or 'em'}" if value else "0"


def _nth(values: list[str], n: int, default: str) -> str:
    """The n-th of a MathML list attribute, whose last value repeats."""
    return values[min(n, len(values) - 1)] if values else default


def _tables(root: ET.Element) -> bool:
    """Core ignores `columnalign`, `rowspacing`, `columnspacing`, `rowlines` and `columnlines`:
    each cell gets them as CSS (text-align, padding, borders), so `aligned` aligns at its `&`
    and an `array`'s rules are drawn.  Spacing goes between cells, none at the table's edges,
    as MathJax sets it."""
    changed = False
    for table in root.iter(_NS + "mtable"):
        aligns = table.get("columnalign", "").split()
        column_space = table.get("columnspacing", "0.8em").split()
        row_space = table.get("rowspacing", "1.0ex").split()
        column_lines = table.get("columnlines", "").split()
        row_lines = table.get("rowlines", "").split()
        rows = [r for r in table if _name(r) in _ROWS]
        for i, row in enumerate(rows):
            row_aligns = row.get("columnalign", "").split() or aligns
            cells = [c for c in row if _name(c) == "mtd"]
            for j, cell in enumerate(cells):
                align = _ALIGN.get(cell.get("columnalign") or _nth(row_aligns, j, "center"))
                top = _half(_nth(row_space, i - 1, "1.0ex")) if i else "0"
                bottom = _half(_nth(row_space, i, "1.0ex")) if i < len(rows) - 1 else "0"
                left = _half(_nth(column_space, j - 1, "0.8em")) if j else "0"
                right = _half(_nth(column_space, j, "0.8em")) if j < len(cells) - 1 else "0"
                css = [f"padding:{top} {right} {bottom} {left}"]
                if align == "left":
                    css.append("text-align:left")
                elif align == "right":
                    # Chromium sets a cell's math at its start or centre, never at its end:
                    # a right-to-left cell's start is its right, its content kept left to right.
                    css += ["direction:rtl", "text-align:right"]
                    _wrap(cell, "direction:ltr")
                    _trim(cell[0])
                line = _LINE.get(_nth(column_lines, j, "none")) if j < len(cells) - 1 else None
                if line:
                    css.append(f"border-right:1px {line}")
                line = _LINE.get(_nth(row_lines, i, "none")) if i < len(rows) - 1 else None
                if line:
                    css.append(f"border-bottom:1px {line}")
                _add_style(cell, css)
                changed = True
    return changed


def _trim(row: ET.Element) -> None:
    """A relation ending a right-aligned cell (`a =& b`) gets no space after it, nor one
    starting it (`\\leq& c`) before it: TeX's list ends there, and the `=` and `≤` of the rows
    line up."""
    if len(row) and _name(row[-1]) == "mo" and "rspace" not in row[-1].attrib:
        row[-1].set("rspace", "0")
    if len(row) and _name(row[0]) == "mo" and "lspace" not in row[0].attrib:
        row[0].set("lspace", "0")


def _wrap(e: ET.Element, style: str) -> None:
    """`e`'s children moved into one `<mrow style=…>`."""
    row = ET.Element(_NS + "mrow", {"style": style})
    row.extend(list(e))
    for child in list(e):
        e.remove(child)
    e.append(row)


# --- enclosures ---------------------------------------------------------------------------------
_NOTATIONS = {"box": ["border:1px solid", "padding:0.2em"], "roundedbox": ["border:1px solid", "padding:0.2em",
                                                                          "border-radius:0.3em"],
              "circle": ["border:1px solid", "padding:0.2em", "border-radius:1em"],
              "top": ["border-top:1px solid"], "bottom": ["border-bottom:1px solid"],
              "left": ["border-left:1px solid", "padding-left:0.2em"],
              "right": ["border-right:1px solid", "padding-right:0.2em"]}


def _enclosures(root: ET.Element) -> bool:
    """`<menclose>` is not in Core: its box, rules and rounded box become borders (`\\boxed`,
    an `array` between `\\hline`s).  Strikes (`\\cancel`) have no CSS of their own and are left."""
    changed = False
    for e in root.iter(_NS + "menclose"):
        css = [rule for notation in e.get("notation", "longdiv").split() for rule in _NOTATIONS.get(notation, [])]
        if css:
            _add_style(e, css)
            changed = True
    return changed


# --- output -------------------------------------------------------------------------------------
def _escape(text: str, quote: bool = False) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if quote:
        text = text.replace('"', "&quot;")
    return text if text.isascii() else _NON_ASCII.sub(lambda m: f"&#x{ord(m.group()):04X};", text)


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _serialize(root: ET.Element) -> str:
    """Compact MathML as MathJax writes it: no prefixes, characters beyond ASCII as `&#xHHHH;`."""
    out: list[str] = []
    stack: list[tuple[ET.Element, bool]] = [(root, False)]
    while stack:
        e, closing = stack.pop()
        name = _name(e)
        if closing:
            out.append(f"</{name}>")
            out.append(_escape(e.tail or ""))
            continue
        attributes = ([f'xmlns="{NS}"'] if e is root else []) + [
            f'{k}="{_escape(v, quote=True)}"' for k, v in e.attrib.items()]
        head = f"<{name}{''.join(' ' + a for a in attributes)}"
        if name in _EMPTY and not len(e) and not e.text:
            out.append(head + " />")
            out.append(_escape(e.tail or ""))
            continue
        out.append(head + ">" + _escape(e.text or ""))
        stack.append((e, True))
        stack.extend((child, False) for child in reversed(e))
    return "".join(out)
