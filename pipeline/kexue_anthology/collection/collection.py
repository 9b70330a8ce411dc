"""The collection the emitters write: its posts in order and its series.

    Collection.posts    by date, oldest first (undated last, by title)
    Collection.series   each series with its parts in order; posts of no series stand alone
    Collection.diagnostics  where a post pandoc fails on is reported (it is shown as plain text)

The collection is made by the assemble stage (kexue_anthology.collection.assemble).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from kexue_anthology.check.number import PostNumbers
from kexue_anthology.collection.outline import Outline
from kexue_anthology.config.project import Project
from kexue_anthology.core.diagnostics import Diagnostics
from kexue_anthology.core.model import Post
from kexue_anthology.documents.pandoc_ast import Document
from kexue_anthology.formulas.drawing import Render
from kexue_anthology.images.pictures import Picture

OTHERS = "其他文章"          # the part of a book that holds the posts of no series
PostLink = Callable[[Post, str], str]      # where a link to (post, "#fragment" or "") goes


@dataclass
class Series:
    name: str
    parts: list[Post]


@dataclass
class Collection:
    title: str
    posts: list[Post]
    series: list[Series]
    numbers: dict[str, PostNumbers]
    renders: dict[tuple[str, int], Render]
    asts: Mapping[str, Document] = field(default_factory=dict)    # a cached one read when asked for
                                            # (kexue_anthology.documents.lazy)
    ids: dict[str, set[str]] = field(default_factory=dict)     # heading, equation, formula ids per post
    headings: dict[str, set[str]] = field(default_factory=dict)    # heading ids per post
    outlines: dict[str, Outline] = field(default_factory=dict)     # what each document holds, without it
                                            # (kexue_anthology.collection.outline)
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    source_url: str = Project.source_url    # the blog: where a link to a post not in the collection goes
    pictures: dict[str, dict[str, Picture]] = field(default_factory=dict)   # post id → address → image found
                                            # (kexue_anthology.collection.figures)
    _made: tuple[object, dict[str, Post], dict[int, Series]] | None = field(default=None, repr=False,
                                                                            compare=False)

    def series_of(self, post: Post) -> Series | None:
        found = self._index()[1].get(id(post))
        if found is not None and any(p is post for p in found.parts):
            return found
        if not any(p.id == post.id for s in self.series for p in s.parts):
            return None                 # no part of any series is it (nor equal to it: the ids differ)
        return next((s for s in self.series if post in s.parts), None)

    def neighbours(self, post: Post) -> tuple[Post | None, Post | None]:
        series = self.series_of(post)
        if not series:
            return None, None
        i = next((n for n, part in enumerate(series.parts) if part is post), None)
        if i is None:
            i = series.parts.index(post)
        return (series.parts[i - 1] if i > 0 else None,
                series.parts[i + 1] if i + 1 < len(series.parts) else None)

    def by_id(self, post_id: str) -> Post | None:
        found = self._index()[0].get(post_id)
        return found if found is not None else next((p for p in self.posts if p.id == post_id), None)

    def _index(self) -> tuple[dict[str, Post], dict[int, Series]]:
        """Each post by id (the first of an id) and each post's series (by the post object),
        made again when the lists of posts or series were replaced or grew or shrank (a series
        found is confirmed to hold the post, else every series is searched as before): a lookup
        per post of a whole blog must not walk every series (a dataclass' `==` compares every field)."""
        shape = (id(self.posts), len(self.posts), id(self.series), len(self.series))
        if self._made is None or self._made[0] != shape:
            posts: dict[str, Post] = {}
            for p in self.posts:
                posts.setdefault(p.id, p)
            series: dict[int, Series] = {}
            for s in self.series:
                for p in s.parts:
                    series.setdefault(id(p), s)
            self._made = (shape, posts, series)
        return self._made[1], self._made[2]

    def standalone(self) -> list[Post]:
        return [p for p in self.posts if not self.series_of(p)]

    def groups(self) -> list[tuple[str | None, list[Post]]]:
        """The parts of a book: one per series, then 「其他文章」 by date; a book of one series
        (or of no series) is a single unnamed part."""
        if len(self.series) == 1 and not self.standalone():
            return [(None, self.series[0].parts)]
        if not self.series:
            return [(None, self.posts)]
        groups: list[tuple[str | None, list[Post]]] = [(s.name, s.parts) for s in self.series]
        if self.standalone():
            groups.append((OTHERS, self.standalone()))
        return groups


def date_key(post: Post) -> tuple[bool, str, str]:
    return (post.date is None, post.date or "", post.title)
