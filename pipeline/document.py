"""The document stage: each post's text as a pandoc document (pandoc's JSON AST, via pypandoc).

Every formula found by `extract` stands in its place as a `Span` with class `math` and
`data-formula` = its index in the post, around a pandoc `Math` node, so later stages find
the formula's verdict, numbers and renders.  pandoc never parses the math itself: each formula
goes in as a placeholder word and comes back as a node.  CJK line breaks are kept without
inserted spaces (`east_asian_line_breaks`).
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterator

import pypandoc

from pipeline.cache import Cache, key
from pipeline.importer import markdown_body
from pipeline.model import Post

READER = ("markdown-tex_math_dollars-tex_math_single_backslash-tex_math_double_backslash"
          "-raw_tex-raw_html-smart-auto_identifiers-superscript-subscript"
          "-strikeout+east_asian_line_breaks")
PANDOC_ARGS = ["--wrap=none"]


def placeholder_prefix(text: str) -> str:
    n = 0
    while f"KXMATH{n}Z" in text:
        n += 1
    return f"KXMATH{n}Z"


def build(post: Post, cache: Cache | None = None) -> dict:
    prefix = placeholder_prefix(post.body.text)
    source = markdown_body(post, lambda f: f"{prefix}{f.index}Q")
    k = key("document", READER, pypandoc.get_pandoc_version(), source)
    ast = cache.get(k) if cache else None
    if ast is None:
        ast = json.loads(pypandoc.convert_text(source, "json", format=READER, extra_args=PANDOC_ARGS))
        if cache:
            cache.put(k, ast)
    pattern = re.compile(re.escape(prefix) + r"(\d+)Q")
    ast["blocks"] = _replace(ast["blocks"], pattern, post)
    return ast


def _math_node(post: Post, index: int) -> dict:
    f = post.formulas[index]
    kind = "DisplayMath" if f.display else "InlineMath"
    return {"t": "Span", "c": [["", ["math"], [["data-formula", str(index)]]],
                               [{"t": "Math", "c": [{"t": kind}, f.tex]}]]}


def _replace(node: Any, pattern: re.Pattern, post: Post) -> Any:
    if isinstance(node, list):
        out = []
        for item in node:
            if isinstance(item, dict) and item.get("t") == "Str" and pattern.search(item["c"]):
                out.extend(_split_str(item["c"], pattern, post))
            else:
                out.append(_replace(item, pattern, post))
        return out
    if isinstance(node, dict):
        return {k: _replace(v, pattern, post) for k, v in node.items()}
    return node


def _split_str(text: str, pattern: re.Pattern, post: Post) -> list[dict]:
    out, pos = [], 0
    for m in pattern.finditer(text):
        if m.start() > pos:
            out.append({"t": "Str", "c": text[pos:m.start()]})
        out.append(_math_node(post, int(m.group(1))))
        pos = m.end()
    if pos < len(text):
        out.append({"t": "Str", "c": text[pos:]})
    return out


def walk(node: Any) -> Iterator[dict]:
    """Every element of an AST (blocks and inlines), depth first."""
    if isinstance(node, list):
        for item in node:
            yield from walk(item)
    elif isinstance(node, dict):
        if "t" in node:
            yield node
        for v in node.values():
            if isinstance(v, (list, dict)):
                yield from walk(v)


def plain_text(ast: dict) -> str:
    """The words of a document: its Str, Code and Math text, link targets left out."""
    parts = []
    for node in walk(ast["blocks"]):
        t = node["t"]
        if t == "Str":
            parts.append(node["c"])
        elif t in ("Code", "CodeBlock"):
            parts.append(node["c"][1])
        elif t == "Math":
            parts.append(node["c"][1])
    return "".join(parts)
