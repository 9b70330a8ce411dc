"""The assemble stage: the collection the emitters write (kexue_anthology.collection.collection),
gathered and checked before anything is: the posts in order, the series in theirs, each post's
anchors (kexue_anthology.collection.anchors), and its links that would land nowhere made text
(kexue_anthology.collection.dangling), and the images each post names found
(kexue_anthology.collection.figures)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from kexue_anthology.check.number import PostNumbers
from kexue_anthology.collection.anchors import formula_anchors, heading_ids
from kexue_anthology.collection.collection import Collection, Series, date_key
from kexue_anthology.collection.dangling import landing, unlink_dangling
from kexue_anthology.collection.figures import find_pictures
from kexue_anthology.collection.outline import outlines
from kexue_anthology.config.project import Project
from kexue_anthology.core.cache import Cache
from kexue_anthology.core.diagnostics import Diagnostics
from kexue_anthology.core.locations import content_folder
from kexue_anthology.core.model import Post
from kexue_anthology.documents.lazy import held
from kexue_anthology.documents.pandoc_ast import Document
from kexue_anthology.formulas.drawing import Render
from kexue_anthology.read.series import normalize_title


def assemble(posts: list[Post], numbers: dict[str, PostNumbers], renders: dict[tuple[str, int], Render],
             asts: Mapping[str, Document], title: str,
             diagnostics: Diagnostics | None = None, order: Sequence[str] | None = None,
             source_url: str = Project.source_url, cache_dir: Path | None = None,
             content: Path | None = None) -> Collection:
    """The collection of `posts` with their documents (`asts`, kexue_anthology.documents.document),
    titled `title` (the settings', kexue_anthology.config.settings); the series in the `order`
    named (the project file's `series`), else by their first part's date.  A link to a post of
    the blog not in the collection goes to `source_url` (the project file's).  Web images are
    looked up in the store of `cache_dir`, a writer's own beside its post inside the `content`
    folder (default: the posts' common folder)."""
    diagnostics = diagnostics if diagnostics is not None else Diagnostics()
    ordered = sorted(posts, key=date_key)
    groups: dict[str, list[Post]] = {}
    for post in ordered:
        if post.series:
            groups.setdefault(post.series, []).append(post)
    series = [Series(name, sorted(parts, key=lambda p: (p.part or 0, date_key(p))))
              for name, parts in groups.items()]
    series.sort(key=lambda s: date_key(s.parts[0]))
    if order:
        rank = {normalize_title(name): i for i, name in enumerate(order)}
        series.sort(key=lambda s: rank.get(normalize_title(s.name), len(rank)))
    documents = held(asts)
    walked: set[str] = set()
    found = outlines(ordered, documents, Cache(cache_dir, "documents") if cache_dir else None, walked)
    headings = {post.id: set(found[post.id].headings) for post in ordered}
    ids = {post.id: headings[post.id] | {t.anchor for t in numbers[post.id].tags}
           | formula_anchors(post, renders) for post in ordered}
    collection = Collection(title=title, posts=ordered, series=series, numbers=numbers, renders=renders,
                            asts=documents, ids=ids, headings=headings, outlines=found,
                            diagnostics=diagnostics, source_url=source_url)
    landings = {post.id: [landing(url, ids[post.id], own) for url, own in found[post.id].links] for post in ordered}
    by_id = {post.id: post for post in ordered}

    def prepare(post_id: str, ast: Document) -> None:
        """A document as the outputs show it: its headings' ids set, its links mended, and those
        that would land nowhere made text (reported)."""
        if post_id not in walked:
            heading_ids(ast)
        if any(problem or target != url for (url, _), (problem, target)
               in zip(found[post_id].links, landings[post_id], strict=True)):
            unlink_dangling(collection, by_id[post_id], ast)
    documents.prepare(prepare)
    for post in ordered:
        if any(problem for problem, _ in landings[post.id]):
            documents[post.id]             # read now: its links that land nowhere are reported every build
    root = content or content_folder([post.path for post in ordered], None)
    collection.pictures = find_pictures(ordered, cache_dir, root, diagnostics,
                                        {post.id: found[post.id].images for post in ordered})
    return collection
