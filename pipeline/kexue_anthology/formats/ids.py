"""A book's identifier."""

from __future__ import annotations

import uuid

from kexue_anthology.collection.collection import Collection


def book_id(collection: Collection) -> uuid.UUID:
    """A book's identifier, stable: the same title and posts give the same one."""
    return uuid.uuid5(uuid.NAMESPACE_URL, "kexue-anthology:" + collection.title + ":"
                      + ",".join(sorted(p.id for p in collection.posts)))
