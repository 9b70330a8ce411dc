"""An on-disk cache of JSON values named by a hash of their input.

Entries are written to a temporary file and renamed into place, so two runs at once never
see half an entry; an entry that does not parse (truncated, damaged) counts as missing and
is redone.  A hit marks its entry as used (its modification time): the cache is pruned least
recently used first (core/cachelimit.py)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from kexue_anthology.core import cachelimit
from kexue_anthology.core.fileio import atomic_write_bytes


def default_cache_dir() -> Path:
    if os.environ.get("ANTHOLOGY_CACHE"):
        return Path(os.environ["ANTHOLOGY_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kexue-anthology"


def key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def used(path: Path) -> None:
    """Mark a cache entry as just used (read-only caches and vanished entries aside)."""
    try:
        os.utime(path)
    except OSError:
        pass


class Cache:
    """JSON values named by the hash of their input (`key`), one file each under `root/kind`."""
    suffix = ".json"

    def __init__(self, root: Path | None, kind: str) -> None:
        self.root = Path(root) / kind if root else None

    def get(self, k: str) -> Any | None:
        data = self.get_bytes(k)
        try:
            return json.loads(data)["value"] if data is not None else None
        except (ValueError, KeyError, TypeError):
            return None

    def put(self, k: str, value: Any) -> None:
        try:
            data = json.dumps({"key": k, "value": value}, ensure_ascii=False).encode("utf-8")
        except UnicodeError:          # a lone surrogate: not stored, like a disk that is full
            return
        self.put_bytes(k, data)

    def has(self, k: str) -> bool:
        """Whether an entry is there (marked as used, as a hit is), without reading it."""
        if self.root is None:
            return False
        path = self.root / k[:2] / f"{k}{self.suffix}"
        if not path.is_file():
            return False
        used(path)
        return True

    def get_bytes(self, k: str) -> bytes | None:
        if self.root is None:
            return None
        path = self.root / k[:2] / f"{k}{self.suffix}"
        try:
            data = path.read_bytes()
        except OSError:
            return None
        used(path)
        return data

    def put_bytes(self, k: str, data: bytes) -> None:
        """Store `data`, whole or not at all (atomic rename); a cache that cannot be written (full
        disk, no permission) only costs time, so the failure is never raised."""
        if self.root is None:
            return
        try:
            atomic_write_bytes(self.root / k[:2] / f"{k}{self.suffix}", data, clean=False)
        except OSError:
            return
        cachelimit.note_written(len(data))


class BlobCache(Cache):
    """Entries that are files of their own (a whole EPUB): bytes, not JSON (`get_bytes`, `put_bytes`)."""
    suffix = ".bin"
