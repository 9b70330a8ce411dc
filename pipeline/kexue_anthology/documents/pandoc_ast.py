"""pandoc's JSON AST by name: thin typed views over its dicts, one walk, one replace, one text.

pandoc writes a document as `{"pandoc-api-version", "meta", "blocks"}` and each element as
`{"t": tag, "c": content}`, its content positional as pandoc-types defines it (a `Header` is
`[level, attr, inlines]`, an `Attr` `[id, classes, [[key, value], …]]`).  This module names
those places, in the manner of markdown-it-py's `Token`, without making another representation:

    Header(node).level += 1               a view reads and writes the dict it is given
    Span.of(item)                         the view when `item` is a Span, else None
    Link.new(Attr.new(), inlines, url)    a new element: the JSON itself
    walk(tree)                            every element, depth first, in document order
    replace(tree, fn)                     elements swapped for others in the lists that hold them
    text(tree)                            the words of a tree
    block_lists(block)                    the lists of blocks directly inside a block

The dicts stay the JSON pandoc reads back; nothing is copied or converted.  `walk` and
`replace` keep a stack of their own: documents nest deeper than Python recurses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar, TypeVar, cast

# a document {"pandoc-api-version", "meta", "blocks"}; an element {"t": tag, "c": content}
Document = dict[str, Any]
Node = dict[str, Any]
V = TypeVar("V", bound="View")


def element(kind: str, content: Any = None) -> Node:
    """A new element of tag `kind`; one of no content (`Space`, `HorizontalRule` …) has no "c"."""
    return {"t": kind} if content is None else {"t": kind, "c": content}


def tag(item: Any) -> str:
    """The tag of an element (or of any dict of the AST with one: `DisplayMath`, `Decimal` …),
    "" for anything else."""
    return cast(str, item.get("t", "")) if isinstance(item, dict) else ""


class Attr:
    """`[id, classes, [[key, value], …]]`, the attributes of a Header, Span, Div, Link, Code …"""

    __slots__ = ("raw",)

    def __init__(self, raw: list[Any]) -> None:
        self.raw = raw

    @staticmethod
    def new(id: str = "", classes: Iterable[str] = (), attributes: Iterable[tuple[str, str]] = ()) -> list[Any]:
        return [id, list(classes), [[key, value] for key, value in attributes]]

    @property
    def id(self) -> str:
        return cast(str, self.raw[0])

    @id.setter
    def id(self, value: str) -> None:
        self.raw[0] = value

    @property
    def classes(self) -> list[str]:
        return cast("list[str]", self.raw[1])

    @property
    def attributes(self) -> list[list[str]]:
        """The key-value pairs, in order (the list itself: changes to it are the node's)."""
        return cast("list[list[str]]", self.raw[2])

    def __getitem__(self, key: str) -> str:
        """The value of attribute `key` (the last when it is given twice); KeyError without it."""
        return dict(self.attributes)[key]

    def get(self, key: str) -> str | None:
        return dict(self.attributes).get(key)


class View:
    """An element seen as one kind (`tag`): names for the places of its content.  Reads and
    writes go to the element's own dict, `node`."""

    __slots__ = ("node",)
    tag: ClassVar[str]

    def __init__(self, node: Node) -> None:
        self.node = node

    @classmethod
    def of(cls: type[V], item: Any) -> V | None:
        """The view of `item` when it is an element of this kind, else None."""
        return cls(item) if tag(item) == cls.tag else None

    @property
    def _c(self) -> list[Any]:
        return cast("list[Any]", self.node["c"])


class Header(View):
    """`Header level attr inlines`"""

    tag = "Header"

    @staticmethod
    def new(level: int, attr: list[Any], inlines: list[Node]) -> Node:
        return element("Header", [level, attr, inlines])

    @property
    def level(self) -> int:
        return cast(int, self._c[0])

    @level.setter
    def level(self, value: int) -> None:
        self._c[0] = value

    @property
    def attr(self) -> Attr:
        return Attr(self._c[1])

    @property
    def inlines(self) -> list[Node]:
        return cast("list[Node]", self._c[2])


class _WithTarget(View):
    """`attr inlines [url, title]`: a Link, or an Image (its inlines are its caption)."""

    @classmethod
    def new(cls, attr: list[Any], inlines: list[Node], url: str, title: str = "") -> Node:
        return element(cls.tag, [attr, inlines, [url, title]])

    @property
    def attr(self) -> Attr:
        return Attr(self._c[0])

    @property
    def inlines(self) -> list[Node]:
        return cast("list[Node]", self._c[1])

    @property
    def url(self) -> str:
        return cast(str, self._c[2][0])

    @url.setter
    def url(self, value: str) -> None:
        self._c[2][0] = value

    @property
    def title(self) -> str:
        return cast(str, self._c[2][1])


class Link(_WithTarget):
    tag = "Link"


class Image(_WithTarget):
    tag = "Image"


class _WithAttr(View):
    """`attr content`: a Span (inlines) or a Div (blocks)."""

    @classmethod
    def new(cls, attr: list[Any], content: list[Node]) -> Node:
        return element(cls.tag, [attr, content])

    @property
    def attr(self) -> Attr:
        return Attr(self._c[0])

    @property
    def content(self) -> list[Node]:
        return cast("list[Node]", self._c[1])


class Span(_WithAttr):
    tag = "Span"


class Div(_WithAttr):
    tag = "Div"


class _Raw(View):
    """`format text`: raw markup pandoc passes through to outputs of that format."""

    @classmethod
    def new(cls, format: str, text: str) -> Node:
        return element(cls.tag, [format, text])

    @property
    def format(self) -> str:
        return cast(str, self._c[0])

    @property
    def text(self) -> str:
        return cast(str, self._c[1])


class RawInline(_Raw):
    tag = "RawInline"


class RawBlock(_Raw):
    tag = "RawBlock"


class _Code(View):
    """`attr text`"""

    @property
    def attr(self) -> Attr:
        return Attr(self._c[0])

    @property
    def text(self) -> str:
        return cast(str, self._c[1])


class Code(_Code):
    tag = "Code"


class CodeBlock(_Code):
    tag = "CodeBlock"


class Str(View):
    """`Str text`: a word (pandoc splits text at spaces)."""

    tag = "Str"

    @staticmethod
    def new(text: str) -> Node:
        return element("Str", text)

    @property
    def text(self) -> str:
        return cast(str, self.node["c"])


class Math(View):
    """`Math kind tex`, kind `{"t": "InlineMath"}` or `{"t": "DisplayMath"}`."""

    tag = "Math"

    @staticmethod
    def new(display: bool, tex: str) -> Node:
        return element("Math", [element("DisplayMath" if display else "InlineMath"), tex])

    @property
    def display(self) -> bool:
        return tag(self._c[0]) == "DisplayMath"

    @property
    def tex(self) -> str:
        return cast(str, self._c[1])


class Note(View):
    """`Note blocks`: a footnote, standing where it is referred to."""

    tag = "Note"

    @property
    def blocks(self) -> list[Node]:
        return cast("list[Node]", self.node["c"])


class Inlines(View):
    """An element whose content is its inlines (Para, Plain, Superscript …): any of them can be
    read through this class; `of` and `new` are its subclasses'."""

    @classmethod
    def new(cls, inlines: list[Node]) -> Node:
        return element(cls.tag, inlines)

    @property
    def inlines(self) -> list[Node]:
        return cast("list[Node]", self.node["c"])


class Para(Inlines):
    tag = "Para"


class Plain(Inlines):
    tag = "Plain"


class Superscript(Inlines):
    tag = "Superscript"


class OrderedList(View):
    """`OrderedList [start, style, delimiter] items`, each item a list of blocks."""

    tag = "OrderedList"

    @staticmethod
    def new(items: list[list[Node]], start: int = 1) -> Node:
        return element("OrderedList", [[start, element("Decimal"), element("Period")], items])

    @property
    def items(self) -> list[list[Node]]:
        return cast("list[list[Node]]", self._c[1])


def block_lists(node: Node) -> list[list[Node]]:
    """The lists of blocks directly inside a block: a BlockQuote's, a Div's, a Figure's, each
    item's of a BulletList or OrderedList, each definition's of a DefinitionList; none of any
    other element (a paragraph's words are not looked at)."""
    kind, content = tag(node), node.get("c") or []
    if kind == "BlockQuote":
        return [content]
    if kind == "Figure":
        return [content[-1]]
    if kind == "Div":
        return [Div(node).content]
    if kind == "BulletList":
        return list(content)
    if kind == "OrderedList":
        return list(OrderedList(node).items)
    if kind == "DefinitionList":
        return [definition for item in content for definition in item[1]]
    return []


# --- walking -------------------------------------------------------------------------------------
def _parts(tree: Any) -> Iterator[list[Any] | dict[str, Any]]:
    """Every list and dict of `tree`, depth first in document order.  A part's children are
    taken before it is handed out, so the items of a list may be replaced then; what is put in
    is not walked, and the children of what is taken out still are."""
    stack: list[Any] = [tree]
    while stack:
        part = stack.pop()
        children = part if isinstance(part, list) else part.values() if isinstance(part, dict) else ()
        stack.extend(reversed([c for c in children if isinstance(c, (list, dict))]))
        yield part


def walk(tree: Any) -> Iterator[Node]:
    """Every element of `tree` (a document's blocks, an element, any part of one), depth first
    in document order, blocks and inlines alike; the dicts of the AST with a tag that are no
    elements (`DisplayMath`, `Decimal`, `MetaString` …) among them.  An element's content may
    be changed when it is handed out; its children as they were then are walked."""
    return (part for part in _parts(tree) if isinstance(part, dict) and "t" in part)


def replace(tree: Any, fn: Callable[[Node], Node | list[Node] | None]) -> None:
    """Each element standing in a list of `tree` offered to `fn`, in place: what `fn` returns —
    an element, or a list of elements spliced in its place — replaces it; None keeps it.  The
    lists are taken in document order, all items of a list before anything inside them.  What
    `fn` puts in is not walked; the content of what it took out still is (a replacement often
    keeps it: a link's text, a note's blocks)."""
    for part in _parts(tree):
        if not isinstance(part, list):
            continue
        changed = False
        items: list[Any] = []
        for item in part:
            new = fn(item) if isinstance(item, dict) and "t" in item else None
            if new is None:
                items.append(item)
                continue
            changed = True
            if isinstance(new, list):
                items.extend(new)
            else:
                items.append(new)
        if changed:
            part[:] = items


def text(tree: Any, space: str = " ", code: bool = True) -> str:
    """The words of `tree`: the text of its Str and Math (the TeX), of its Code and CodeBlock
    unless not `code`, each Space and SoftBreak as `space`; link targets, raw markup and
    attributes left out."""
    out: list[str] = []
    for node in walk(tree):
        kind = node["t"]
        if kind == "Str":
            out.append(Str(node).text)
        elif kind in ("Space", "SoftBreak"):
            out.append(space)
        elif kind == "Math":
            out.append(Math(node).tex)
        elif code and kind in ("Code", "CodeBlock"):
            out.append(_Code(node).text)
    return "".join(out)
