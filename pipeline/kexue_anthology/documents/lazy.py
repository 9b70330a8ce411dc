"""The posts' documents as the document stage leaves them: each converted in this run is held,
each the cache has is read from it only when first asked for, so that a rebuild that shows few
posts anew reads few of the whole blog's documents (15 MB of JSON for 636 posts).

`key(id)` is the cache key a document is stored under (kexue_anthology.documents.document): it
names the document exactly, so what is made from it can be keyed by it without reading it.
`prepare(fn)` has `fn` change each document once as it is first held (the assemble stage sets
the headings' ids and mends the links: kexue_anthology.collection.assemble), those held already
at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from kexue_anthology.core.cache import Cache
from kexue_anthology.documents.pandoc_ast import Document

Prepare = Callable[[str, Document], None]


class Documents(Mapping[str, Document]):
    """Post id → document, in the order added; a cached one read when first asked for."""

    def __init__(self, cache: Cache | None, remake: Callable[[str], Document]) -> None:
        """`remake(id)`: the document again when its cache entry went or is damaged since."""
        self._cache, self._remake = cache, remake
        self._held: dict[str, Document] = {}
        self._keys: dict[str, str | None] = {}
        self._prepare: Prepare | None = None

    def add(self, post_id: str, ast: Document | None, k: str | None) -> None:
        """A post's document (`ast`), or only its cache key (`ast` None: read when asked for)."""
        self._keys[post_id] = k
        if ast is not None:
            self._hold(post_id, ast)
        elif k is None:
            raise ValueError(f"post {post_id}: a document that is not held needs its cache key")

    def key(self, post_id: str) -> str | None:
        """The cache key the post's document is stored under; None for one made without one."""
        return self._keys[post_id]

    def is_held(self, post_id: str) -> bool:
        return post_id in self._held

    def prepare(self, fn: Prepare) -> None:
        """`fn(id, document)` on every document held, and on each as it is read later."""
        self._prepare = fn
        for post_id, ast in self._held.items():
            fn(post_id, ast)

    def __getitem__(self, post_id: str) -> Document:
        found = self._held.get(post_id)
        if found is not None:
            return found
        k = self._keys[post_id]                       # KeyError: not a post of the run
        read = self._cache.get(k) if self._cache is not None and k is not None else None
        if not (isinstance(read, dict) and isinstance(read.get("blocks"), list)):
            read = self._remake(post_id)
        return self._hold(post_id, read)

    def _hold(self, post_id: str, ast: Document) -> Document:
        self._held[post_id] = ast
        if self._prepare is not None:
            self._prepare(post_id, ast)
        return ast

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, post_id: object) -> bool:
        return post_id in self._keys


def held(asts: Mapping[str, Document]) -> Documents:
    """`asts` (post id → document, all in hand, none cached) as Documents."""
    if isinstance(asts, Documents):
        return asts

    def remake(post_id: str) -> Document:
        raise KeyError(post_id)
    documents = Documents(None, remake)
    for post_id, ast in asts.items():
        documents.add(post_id, ast, None)
    return documents
