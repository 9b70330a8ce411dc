"""What the last site build wrote, so that a rebuild renders only the pages whose inputs changed.

For each page the manifest keeps, in the cache folder (one entry per site folder), the key over
everything the page is made of (`page_key`: its post's text key, kexue_anthology.collection.bodies
`body_key`, what the page shows of the post and of its neighbours, the site's title and the
templates) and what its file was once written: size, modification time and inode.  A page whose
key is the one recorded and whose file is still that file (not deleted, not changed or replaced by
hand: any of the three would differ) is neither rendered nor compared: the rebuild keeps the file.
Any doubt (no cache, a damaged entry, another folder) means the page is rendered as before.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Any

import jinja2

from kexue_anthology import TEMPLATES, __version__
from kexue_anthology.core.cache import Cache, key

PAGES_VERSION = 1          # raised whenever the code that makes a page out of `page_key`'s inputs changes


def _identity(path: Path) -> list[int] | None:
    """A regular file's size, modification time and inode, without following a link; None otherwise."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    return [info.st_size, info.st_mtime_ns, info.st_ino]


def templates_digest() -> str:
    """A digest of every template a page may be made with (they may change between builds)."""
    digest = hashlib.sha256(f"{__version__} {jinja2.__version__} {PAGES_VERSION}".encode())
    for path in sorted(TEMPLATES.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(TEMPLATES).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def page_key(*parts: Any) -> str:
    return key("html-page", *parts)


class Manifest:
    """The pages of the site at `out` as its last build left them (empty without a cache)."""

    def __init__(self, cache_dir: Path | None, out: Path) -> None:
        self.cache = Cache(cache_dir, "site-pages") if cache_dir else None
        self.name = key("html-site", os.path.abspath(out))
        found = self.cache.get(self.name) if self.cache else None
        self.pages: dict[str, Any] = found if isinstance(found, dict) else {}

    def unchanged(self, out: Path, path: str, k: str) -> bool:
        """Whether the page `path` of key `k` is on disk as the last build wrote it."""
        entry = self.pages.get(path)
        return (isinstance(entry, list) and len(entry) == 2 and entry[0] == k
                and entry[1] is not None and _identity(out / path) == entry[1])

    def save(self, out: Path, keys: dict[str, str]) -> None:
        """Record each page of `keys` (path → page key) as it now stands in `out`."""
        if self.cache is None:
            return
        pages = {path: [k, identity] for path, k in sorted(keys.items())
                 if (identity := _identity(out / path)) is not None}
        if pages != self.pages:
            self.cache.put(self.name, pages)
