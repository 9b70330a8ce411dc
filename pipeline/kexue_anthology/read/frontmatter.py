"""Markdown files with YAML front matter: the clean authoring form of a content repository.

    ---
    title: 最小熵原理（五）：“层层递进”之社区发现与聚类
    date: 2019-10-19
    id: "7006"
    series: 最小熵原理      # optional, else taken from the title
    part: 5                # optional
    tags: [无监督, 聚类]     # optional
    readers: 161264        # optional
    ---
    Markdown, with the math written raw: $x$, $$…$$, \\(…\\), \\[…\\], \\begin{equation}…

In the body `\\$` is a literal dollar; code spans and blocks hold no math.

The front matter is untrusted input: it is composed to YAML nodes with anchors and aliases
refused (front matter needs none, and aliases are how a few lines expand to gigabytes),
nesting limited and size limited, before anything is constructed.  Each field is then
checked on its own: a bad field is an error at its value's line and column and is dropped;
a post whose title is missing or bad is reported and skipped.  A post without `id` or `date`
is read, with a warning at the front matter naming the field (`missing-id`, `missing-date`):
its id then comes from its title and changes with it, and it has no date in the book.  A field
other than `title` left empty (`date:`, `date: null`) counts as left out.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

from kexue_anthology.check.extract import (
    MAX_FRONT_MATTER_CHARS,
    MAX_FRONT_MATTER_DEPTH,
    MAX_ID_CHARS,
    MAX_PART,
    MAX_READERS,
    MAX_TITLE_CHARS,
)
from kexue_anthology.core.diagnostics import Diagnostics
from kexue_anthology.core.model import Post
from kexue_anthology.core.sourcetext import Position, SourceFile
from kexue_anthology.read.listing import title_id

FORM = "markdown"
FRONT_MATTER = re.compile(r"\A---[ \t]*\n(?P<yaml>.*?\n)?---[ \t]*(\n|\Z)", re.S)
ID = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_ID_CHARS}}}")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def detect(text: str) -> bool:
    return FRONT_MATTER.match(text) is not None


class FieldError(ValueError):
    """A front-matter value that cannot be used; the message says what is wanted."""


class _Loader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML is untyped here (no types-PyYAML)
    """Composes nodes only, refusing anchors, aliases and deep nesting as it goes."""

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(None, None, "anchors and aliases (`&`, `*`) are not allowed "
                                              "in front matter", event.start_mark)
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_FRONT_MATTER_DEPTH:
                raise yaml.composer.ComposerError(None, None, f"nested more than {MAX_FRONT_MATTER_DEPTH} "
                                                  "levels deep", event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def read(source: SourceFile, diagnostics: Diagnostics) -> list[Post]:
    m = FRONT_MATTER.match(source.text)
    assert m is not None                          # `detect` chose this reader for it
    base = m.start("yaml") if m.group("yaml") else m.end()
    text = m.group("yaml") or ""

    def at(offset: int) -> Position:
        return source.position(base + offset)

    if len(text) > MAX_FRONT_MATTER_CHARS:
        diagnostics.error("front-matter", f"front matter of {len(text):,} characters, more than "
                          f"{MAX_FRONT_MATTER_CHARS:,}: post skipped", source.position(0))
        return []
    try:
        loader = _Loader(text)
        root = loader.get_single_node()
    except yaml.YAMLError as e:
        offset, context = _offset(e, len(text))
        diagnostics.error("front-matter", f"front matter is not valid YAML: {_problem(e)}{context}", at(offset))
        return []
    except RecursionError:
        diagnostics.error("front-matter", "front matter nested too deeply", at(0))
        return []
    if root is not None and not isinstance(root, MappingNode):
        diagnostics.error("front-matter", "front matter must be a mapping of `field: value` lines",
                          at(root.start_mark.index))
        return []
    meta, bad = _fields(root, loader, at, diagnostics)
    if "title" not in meta:
        if "title" not in bad:
            diagnostics.error("front-matter", "front matter needs at least a `title`", source.position(0))
        return []
    post = _post(source, m.end(), meta)
    if "id" not in meta and "id" not in bad:
        diagnostics.warning("missing-id", f"front matter has no `id:`; the post's id is made from its title "
                            f"({post.id}) and changes when the title does: write e.g. `id: \"{_id_example(source)}\"`",
                            source.position(0))
    if "date" not in meta and "date" not in bad:
        diagnostics.warning("missing-date", "front matter has no `date:`; the post has no date in the book and "
                            "comes after the dated ones: write `date: YYYY-MM-DD`", source.position(0))
    return [post]


def _id_example(source: SourceFile) -> str:
    """An id to suggest: the file's name when it would do as one, else a placeholder."""
    stem = source.path.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return stem if ID.fullmatch(stem) else "1234"


def _problem(e: Exception) -> str:
    text = str(getattr(e, "problem", None) or getattr(e, "reason", None) or e)
    return text.split(";")[0][:200]


def _offset(e: yaml.YAMLError, size: int) -> tuple[int, str]:
    """Where the error is in the YAML text, and what to add to its message.  An error PyYAML
    finds at the end of the text (a quote or bracket never closed) would stand on the closing
    `---` line: it is put where the unclosed thing began (PyYAML's context), else on the
    YAML's last character."""
    mark = getattr(e, "problem_mark", None)
    if mark is None:
        return getattr(e, "position", 0) or 0, ""       # a ReaderError: a character YAML refuses
    if int(mark.index) < size:
        return int(mark.index), ""
    context, begun = getattr(e, "context", None), getattr(e, "context_mark", None)
    if begun is not None and int(begun.index) < size:
        return int(begun.index), f" ({context}, begun here)" if context else ""
    return max(size - 2, 0), ""


# --- fields -------------------------------------------------------------------------------

def _text(limit: int) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise FieldError(f"must be text, not {_kind(value)}")
        text = str(value).strip()
        if not text:
            raise FieldError("is empty")
        if len(text) > limit:
            raise FieldError(f"is {len(text):,} characters long; at most {limit:,} are allowed")
        return text
    return check


def _count(low: int, high: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= len(str(high)):
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise FieldError(f"must be a whole number from {low} to {high:,}")
        return value
    return check


def _date(value: Any) -> str:
    if isinstance(value, datetime.date):         # datetime is a date too
        return value.strftime("%Y-%m-%d")
    if isinstance(value, str) and ISO_DATE.fullmatch(value.strip()):
        try:
            return datetime.date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    raise FieldError("must be a real date written YYYY-MM-DD")


def _id(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not ID.fullmatch(str(value)):
        raise FieldError(f"must be 1 to {MAX_ID_CHARS} letters, digits, `-` or `_` (it names output files)")
    return str(value)


def _tags(value: Any) -> list[str]:
    if isinstance(value, str):
        return [t.strip() for t in value.split(",") if t.strip()]
    if not isinstance(value, list) or not all(isinstance(t, (str, int, float)) and not isinstance(t, bool)
                                              for t in value):
        raise FieldError("must be a list of words or one comma-separated line")
    return [str(t) for t in value]


def _url(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise FieldError(f"must be an address, not {_kind(value)}")
    return value.strip()


def _kind(value: Any) -> str:
    kinds = {list: "a list", dict: "a mapping", bool: "true/false", type(None): "nothing"}
    return kinds.get(type(value), f"{type(value).__name__} {str(value)[:40]!r}")


# What each field is, for `anthology help front-matter` (a test keeps it to FIELDS' keys).
FIELD_HELP: dict[str, tuple[str, str]] = {
    "title": ("text, required", "the post's title; 「系列名（三）：…」 also gives the series and part"),
    "date": ("YYYY-MM-DD", "the date under the title; posts go by date (left out: a warning, no date)"),
    "id": ('"text"', "letters, digits, - and _: names the post's page; left out, made from the title "
                     "(a warning: it changes with the title)"),
    "series": ("text", "the series the post belongs to (else read from the title): a part of the book"),
    "part": ("number", "the post's place in its series (else read from the title)"),
    "tags": ("[a, b] or a, b", "words the site lists posts by (tags.html)"),
    "readers": ("number", "how many read it, shown under the title"),
    "url": ("address", "where the post stands on the web"),
}

FIELDS: dict[str, Callable[[Any], Any]] = {
    "title": _text(MAX_TITLE_CHARS), "date": _date, "id": _id, "series": _text(MAX_TITLE_CHARS),
    "part": _count(1, MAX_PART), "tags": _tags, "readers": _count(0, MAX_READERS), "url": _url,
}


def _fields(root: MappingNode | None, loader: _Loader, at: Callable[[int], Position],
            diagnostics: Diagnostics) -> tuple[dict[str, Any], set[str]]:
    """The known fields that are good, and the names of those that are bad, each reported at its value."""
    good: dict[str, Any] = {}
    bad: set[str] = set()
    for key, node in root.value if root is not None else []:
        name = key.value if isinstance(key, ScalarNode) else None
        if name not in FIELDS:
            continue
        try:
            value = loader.construct_object(node, deep=True)
            if value is None and name != "title":
                good.pop(name, None)        # `date:` left empty (as import writes an undated post) is no date
                continue
            good[name] = FIELDS[name](value)
            continue
        except FieldError as e:
            problem = str(e)
        except Exception as e:  # any value YAML cannot construct, e.g. a date 2022-13-45
            problem = f"cannot be read: {_problem(e)}"
        skipped = ": post skipped" if name == "title" else ""
        diagnostics.error("bad-field", f"front matter `{name}` {problem}{skipped}", at(node.start_mark.index))
        good.pop(name, None)
        bad.add(name)
    return good, bad


def _post(source: SourceFile, body_start: int, meta: dict[str, Any]) -> Post:
    return Post(
        id=meta.get("id") or title_id(meta["title"]), title=meta["title"], date=meta.get("date"),
        readers=meta.get("readers"), body=source.slice(body_start, len(source.text)), body_format="markdown",
        form=FORM, position=source.position(0), series=meta.get("series"), part=meta.get("part"),
        tags=meta.get("tags", []), url=meta.get("url"))
