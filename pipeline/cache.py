"""An on-disk cache of JSON values named by a hash of their input.

Entries are written to a temporary file and renamed into place, so two runs at once never
see half an entry; an entry that does not parse (truncated, damaged) counts as missing and
is redone."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from pipeline.fileio import atomic_write_bytes, atomic_write_text


def default_cache_dir() -> Path:
    if os.environ.get("ANTHOLOGY_CACHE"):
        return Path(os.environ["ANTHOLOGY_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kexue-anthology"


def key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


class Cache:
    def __init__(self, root: Path | None, kind: str) -> None:
        self.root = Path(root) / kind if root else None

    @staticmethod
    def _path(root: Path, k: str) -> Path:
        return root / k[:2] / f"{k}.json"

    def get(self, k: str) -> Any | None:
        if self.root is None:
            return None
        try:
            return json.loads(self._path(self.root, k).read_text(encoding="utf-8"))["value"]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, k: str, value: Any) -> None:
        """Store `value`; a cache that cannot be written (full disk, no permission) only costs
        time, so the failure is never raised."""
        if self.root is None:
            return
        try:
            atomic_write_text(self._path(self.root, k), json.dumps({"key": k, "value": value}, ensure_ascii=False),
                              clean=False)
        except (OSError, UnicodeError):
            pass


class BlobCache(Cache):
    """Entries that are files of their own (a whole EPUB): bytes, not JSON, named by the hash
    of their input like Cache's.  An entry is written whole or not at all (atomic rename)."""

    @staticmethod
    def _path(root: Path, k: str) -> Path:
        return root / k[:2] / f"{k}.bin"

    def get_bytes(self, k: str) -> bytes | None:
        if self.root is None:
            return None
        try:
            return self._path(self.root, k).read_bytes()
        except OSError:
            return None

    def put_bytes(self, k: str, data: bytes) -> None:
        """Store `data`; like Cache.put, a failure only costs time and is never raised."""
        if self.root is None:
            return
        try:
            atomic_write_bytes(self._path(self.root, k), data, clean=False)
        except OSError:
            pass
