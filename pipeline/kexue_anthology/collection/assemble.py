"""The assemble stage: the collection the emitters write (kexue_anthology.collection.collection),
gathered and checked before anything is: the posts in order, the series in theirs, each post's
anchors (kexue_anthology.collection.anchors), and its links that would land nowhere made text
(kexue_anthology.collection.dangling), and the images each post names found
(kexue_anthology.collection.figures)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kexue_anthology.check.number import PostNumbers
from kexue_anthology.collection.anchors import formula_anchors, heading_ids
from kexue_anthology.collection.collection import Collection, Series, date_key
from kexue_anthology.collection.dangling import dangling, unlink_dangling
from kexue_anthology.collection.figures import find_pictures
from kexue_anthology.config.project import Project
from kexue_anthology.core.diagnostics import Diagnostics
from kexue_anthology.core.locations import content_folder
from kexue_anthology.core.model import Post
from kexue_anthology.documents.pandoc_ast import Document, Link, Node
from kexue_anthology.formulas.drawing import Render
from kexue_anthology.read.series import normalize_title


def assemble(posts: list[Post], numbers: dict[str, PostNumbers], renders: dict[tuple[str, int], Render],
             asts: dict[str, Document], title: str,
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
    links: dict[str, list[Link]] = {}
    images: dict[str, list[Node]] = {}
    headings = {post.id: heading_ids(asts[post.id], links.setdefault(post.id, []), images.setdefault(post.id, []))
                for post in ordered}
    ids = {post.id: headings[post.id] | {t.anchor for t in numbers[post.id].tags}
           | formula_anchors(post, renders) for post in ordered}
    collection = Collection(title=title, posts=ordered, series=series, numbers=numbers, renders=renders,
                            asts={post.id: asts[post.id] for post in ordered}, ids=ids, headings=headings,
                            diagnostics=diagnostics, source_url=source_url)
    for post in ordered:
        if any(dangling(link.url, ids[post.id], link) for link in links[post.id]):
            unlink_dangling(collection, post)
    root = content or content_folder([post.path for post in ordered], None)
    collection.pictures = find_pictures(ordered, collection.asts, cache_dir, root, diagnostics, images)
    return collection
