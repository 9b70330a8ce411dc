"""XHTML that is XML: each file of the book as an XML parser reads it, mended when pandoc wrote it
badly (`well_formed`): a reader cannot open a chapter that is not."""

from __future__ import annotations

import html
import re
from typing import Any
from xml.etree import ElementTree


class NotXML(RuntimeError):
    """An XHTML file of the book that no repair makes well-formed: a fault of the tool."""


def well_formed(text: str, name: str = "") -> str:
    """`text` as it is when an XML parser reads it; else with its tags written again as XML
    (pandoc's EPUB writer passes raw HTML through TagSoup, which writes an empty attribute
    bare, `<mtable columnalign>`); else the whole file parsed as HTML5 and written by an XML
    serializer.  What no step mends raises NotXML, naming the file and the parser's complaint."""
    problem = _xml_problem(text)
    if problem is None:
        return text
    for mend in (_xml_tags, _reserialized):
        mended = mend(text)
        if _xml_problem(mended) is None:
            return mended
    raise NotXML(f"{name or 'an XHTML file'} of the EPUB is not well-formed XML ({problem})")


def _xml_problem(text: str) -> str | None:
    try:
        ElementTree.fromstring(text.encode("utf-8"))
    except ElementTree.ParseError as e:
        return str(e)
    return None


_TAG = re.compile(r"<([A-Za-z][\w:.-]*)((?:\s+[^\s=/>\"'<]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'=<>`]+))?)*)\s*(/?)>")
_ATTRIBUTE = re.compile(r"([^\s=/>\"'<]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'=<>`]+)))?")
_KEEP_EMPTY = ("alt", "alttext", "title")      # said when empty; any other empty attribute says nothing


def _xml_tags(text: str) -> str:
    """Each start tag written again as XML: a bare attribute dropped (`alt` and the like get
    `""`), an unquoted value quoted, a repeated attribute kept once, `&` and `<` in values escaped."""
    def tag(m: re.Match[str]) -> str:
        seen: set[str] = set()
        attributes: list[str] = []
        for a in _ATTRIBUTE.finditer(m.group(2)):
            name = a.group(1)
            value = next((v for v in a.groups()[1:] if v is not None), None)
            if name in seen or (value is None and name not in _KEEP_EMPTY):
                continue
            seen.add(name)
            attributes.append(f' {name}="{_attribute(html.unescape(value or ""))}"')
        return f"<{m.group(1)}{''.join(attributes)}{' /' if m.group(3) else ''}>"
    return _TAG.sub(tag, text)


def _attribute(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


def _reserialized(text: str) -> str:
    """The file read as HTML5 (as a browser would) and written by an XML serializer."""
    import tinyhtml5  # WeasyPrint's HTML parser, installed with it

    root = tinyhtml5.parse(text)
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html>\n']
    _write(root, out, None)
    return "".join(out)


def _write(root: ElementTree.Element, out: list[str], parent_ns: str | None) -> None:
    """An element and its subtree as XML, without recursion: each namespace declared where it
    starts (XHTML at the root, with `epub:`), names without prefixes."""
    # a comment's or processing instruction's tag is a function, not a name
    stack: list[str | tuple[ElementTree.Element[Any], str | None]] = [(root, parent_ns)]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        node, outer = item
        if not isinstance(node.tag, str):                 # a comment or processing instruction
            stack.append(_text(node.tail))
            continue
        ns, _, local = node.tag[1:].partition("}") if node.tag.startswith("{") else ("", "", node.tag)
        attributes = []
        if ns != outer:
            attributes.append(f' xmlns="{ns}"' if ns else "")
            if outer is None:
                attributes.append(' xmlns:epub="http://www.idpf.org/2007/ops"')
        for key, value in node.attrib.items():
            key = key.split("}")[-1] if key.startswith("{") else key
            if key in ("xmlns",) or key.startswith("xmlns:") or not re.fullmatch(r"[A-Za-z_][\w.:-]*", key):
                continue
            attributes.append(f' {key}="{_attribute(value)}"')
        out.append(f"<{local}{''.join(attributes)}>{_text(node.text)}")
        stack.append(f"</{local}>{_text(node.tail)}")
        stack.extend((child, ns) for child in reversed(list(node)))


def _text(text: str | None) -> str:
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
