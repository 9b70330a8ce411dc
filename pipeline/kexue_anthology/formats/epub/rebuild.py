"""A rebuild of the EPUB after edits that leave the book around the edited chapters as it was:
the edited posts converted in a small book of their own, everything else copied from the last
book made around the same skeleton.

pandoc derives all but the chapter files of a book — the package document, the contents (nav,
toc.ncx), the title page, the cover, the media's names — from the run in which every chapter is
its placeholder (kexue_anthology.formats.epub.chapters.placeholder), and writes a chapter's
file from the chapter alone, its file's number and where the ids it links to are.  So:

- the skeleton is named by a key over that run's whole input (`Skeletons`: the placeholders,
  metadata, stylesheet, cover): the last book written around it, and the media's names there;
- an edited post's chapter is written in a small book (`small_book`): the edited posts in full,
  each after its part's heading, then a stand-in (heading and ids) for each chapter holding an
  id they link to; the files it writes are renamed to the files of the whole book (`renamed`).
  A post whose ids are found in another chapter too, that links to an id found in two, or whose
  text names a chapter file (`ch001.xhtml`), is not written so;
- the book is the last one with each chapter file that differs put in, and nothing else
  deflated again (kexue_anthology.formats.epub.rezip).

Whatever does not fit — a skeleton not seen, a last book gone or damaged, pandoc failing on
the small book — leaves the rebuild to the run over the whole book."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from kexue_anthology.core.cache import Cache
from kexue_anthology.core.model import Post
from kexue_anthology.documents.pandoc_ast import Node, RawBlock, tag, walk
from kexue_anthology.formats.epub.batches import element_ids
from kexue_anthology.formats.epub.chapters import chapter_file

_FILE = re.compile(r"ch\d+\.xhtml")
_HREF = re.compile(r"""\shref=["']#([^"']+)["']""")
_HTML = ("html", "html5", "html4")


class Skeletons:
    """The skeleton of each book (by the key of its all-placeholder run): the book key of the
    last book written around it (in kexue_anthology.formats.epub.chapters.ChapterStore.books)
    and the media's names there (source → pandoc's `fileN.ext`)."""

    def __init__(self, cache_dir: Path | None) -> None:
        self.cache = Cache(cache_dir, "epub-skeletons")

    def get(self, k: str) -> tuple[str, dict[str, str]] | None:
        value: Any = self.cache.get(k)
        if not (isinstance(value, dict) and isinstance(value.get("book"), str)
                and isinstance(value.get("names"), dict)
                and all(isinstance(a, str) and isinstance(b, str) for a, b in value["names"].items())):
            return None
        return value["book"], value["names"]

    def put(self, k: str, book: str, names: dict[str, str]) -> None:
        self.cache.put(k, {"book": book, "names": names})


def link_targets(blocks: list[Node]) -> set[str]:
    """Every id `blocks` may link to: a Link's `#…` (as written and unquoted), a raw tag's `href="#…"`."""
    targets: set[str] = set()
    for node in walk(blocks):
        kind = tag(node)
        if kind == "Link" and node["c"][2][0].startswith("#"):
            targets.update((node["c"][2][0][1:], unquote(node["c"][2][0][1:])))
        elif kind in ("RawBlock", "RawInline") and node["c"][0] in _HTML:
            targets.update(_HREF.findall(node["c"][1]))
    return targets


def small_book(groups: list[tuple[str | None, list[Post]]], files: dict[str, str], edited: dict[str, list[Node]],
               heads: dict[str, list[Node]], parts: dict[str, Node],
               ids: dict[str, list[str]]) -> tuple[list[Node], dict[str, str]] | None:
    """The blocks of a book whose files for the `edited` posts (post id → its chapter in full)
    come out as the whole book's, and the whole book's file of each of its files
    (`EPUB/text/ch001.xhtml` → `EPUB/text/ch137.xhtml`).  `files` is the whole book's file of
    each post and part (`chapter_files`), `heads` each post's heading, `parts` each part's
    (by `#part-N`), `ids` the ids pandoc finds in each post and part of the whole book.
    None when an edited post's file might come out otherwise."""
    needed = _needed(edited, ids)
    if needed is None:
        return None
    blocks: list[Node] = []
    chunks: list[str] = []
    for n, (name, posts) in enumerate(groups, 1):
        mine = [post for post in posts if post.id in edited]
        if mine and name is not None:
            blocks.append(parts[f"#part-{n}"])
            chunks.append(f"#part-{n}")
        for post in mine:
            blocks.extend(edited[post.id])
            chunks.append(post.id)
    for holder in files:                      # in book order
        if holder in needed and holder not in chunks:
            blocks.extend(_stand_in(holder, needed[holder], heads, parts, ids))
            chunks.append(holder)
    return blocks, {chapter_file(n): files[holder] for n, holder in enumerate(chunks, 1)}


def _needed(edited: dict[str, list[Node]], ids: dict[str, list[str]]) -> dict[str, list[str]] | None:
    """The ids the `edited` posts link to, by the post or part holding them (not an edited one);
    None when an edited post's ids are found elsewhere too, it links to an id found in two
    places, or its text names a chapter file."""
    owners: dict[str, set[str]] = {}
    for where, found in ids.items():
        for ident in found:
            owners.setdefault(ident, set()).add(where)
    needed: dict[str, list[str]] = {}
    for post_id, blocks in edited.items():
        if _FILE.search(json.dumps(blocks, ensure_ascii=False)):
            return None
        if any(owners.get(ident, set()) != {post_id} for ident in ids[post_id]):
            return None
        for target in sorted(link_targets(blocks)):
            holders = owners.get(target, set())
            if len(holders) > 1:
                return None
            if holders and (holder := next(iter(holders))) not in edited:
                needed.setdefault(holder, []).append(target)
    return needed


def _stand_in(holder: str, targets: list[str], heads: dict[str, list[Node]], parts: dict[str, Node],
              ids: dict[str, list[str]]) -> list[Node]:
    """A post's heading with an empty span for each id linked to, or a part's heading."""
    if holder in parts:
        return [parts[holder]]
    spans = "".join(f'<span id="{ident}"></span>' for ident in targets if ident != ids[holder][0])
    return [*heads[holder], *([RawBlock.new("html", f"<div>{spans}</div>")] if spans else [])]


def renamed(text: str, files: dict[str, str]) -> str | None:
    """A chapter file of the small book with each chapter file it names named as in the whole
    book (`files`, as `small_book` gives them); None when it names one that is not there."""
    short = {a.rsplit("/", 1)[-1]: b.rsplit("/", 1)[-1] for a, b in files.items()}
    try:
        return _FILE.sub(lambda m: short[m.group(0)], text)
    except KeyError:
        return None


def own_ids(head: list[Node], blocks: list[Node]) -> list[str]:
    """The ids pandoc finds in a post given in full: its anchor (the heading's) first."""
    found = element_ids(head)
    return [*found, *(ident for ident in element_ids(blocks) if ident not in found)]
