"""`anthology import`: every post read, written as clean Markdown with YAML front matter.

The body keeps each formula exactly as extracted; prose read from page text is escaped for
Markdown (and its line breaks become paragraph breaks), so reading the written files back
gives the same posts and the same formulas."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import yaml

from kexue_anthology.core.fileio import atomic_write_text
from kexue_anthology.core.model import Formula, Post

_SPECIAL = re.compile(r"([\\`*_<$])")
_LINE_START = re.compile(r"^([ \t]*)([#>+=-])", re.M)
_ORDERED = re.compile(r"^([ \t]*\d+)([.)])", re.M)


FrontMatter = dict[str, str | int | list[str] | None]


def front_matter(post: Post) -> FrontMatter:
    meta: FrontMatter = {"title": post.title, "id": post.id, "date": post.date}
    if post.readers is not None:
        meta["readers"] = post.readers
    if post.series:
        meta["series"] = post.series
        meta["part"] = post.part
    if post.tags:
        meta["tags"] = post.tags
    if post.url:
        meta["url"] = post.url
    return meta


def escape_prose(text: str) -> str:
    text = _SPECIAL.sub(r"\\\1", text)
    text = _LINE_START.sub(r"\1\\\2", text)
    return _ORDERED.sub(r"\1\\\2", text)


def markdown_body(post: Post, formula_text: Callable[[Formula], str] | None = None) -> str:
    """The body as Markdown; each formula written by `formula_text` (default: its source)."""
    text = post.body.text
    if post.body_format == "markdown" and formula_text is None:
        return text
    prose = (lambda s: s) if post.body_format == "markdown" else (
        lambda s: escape_prose(s).replace("\n", "\n\n"))
    parts, pos = [], 0
    for f in post.formulas:
        parts.append(prose(text[pos:f.start]))
        parts.append(formula_text(f) if formula_text else text[f.start:f.end])
        pos = f.end
    parts.append(prose(text[pos:]))
    return "".join(parts)


def to_markdown(post: Post) -> str:
    meta = yaml.safe_dump(front_matter(post), allow_unicode=True, sort_keys=False, width=1000)
    return f"---\n{meta}---\n{markdown_body(post).rstrip()}\n"


def file_name(post: Post) -> str:
    return f"{post.date or 'undated'}-{post.id}.md"


def planned_markdown(posts: list[Post], directory: Path) -> list[tuple[Path, str]]:
    """Each post's file in `directory` and the text it gets."""
    return [(Path(directory) / file_name(post), to_markdown(post)) for post in posts]


def write_markdown(posts: list[Post], directory: Path) -> list[Path]:
    written = []
    for path, text in planned_markdown(posts, directory):
        atomic_write_text(path, text)
        written.append(path)
    return written
