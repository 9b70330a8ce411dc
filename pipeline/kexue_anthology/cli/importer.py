"""`anthology import`: every post read, written as clean Markdown with YAML front matter.

The body keeps each formula exactly as extracted; prose read from page text is escaped for
Markdown (and its line breaks become paragraph breaks), so reading the written files back
gives the same posts and the same formulas."""

from __future__ import annotations

from pathlib import Path

import yaml

from kexue_anthology.core.fileio import atomic_write_text
from kexue_anthology.core.model import Post
from kexue_anthology.documents.markdown import markdown_body

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
