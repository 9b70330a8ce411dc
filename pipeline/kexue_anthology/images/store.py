"""Images kept by content, with a record per address.

Each image is stored once, named by the SHA-256 of its bytes (`images/files/ab/abcd….png`), and every
address asked for has a record (`images/urls/…json`: its hash, status, media type, size in pixels and the
date of the attempt), so a second run fetches nothing new, an interrupted one resumes where it stopped,
and a build works offline from what is stored.  Records and files are written whole or not at all.
Both count toward the cache's size limit and are pruned least recently used first (core/cachelimit.py):
a record whose file was pruned is fetched again, a file whose record was pruned is fetched again and
found the same.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from kexue_anthology.core import cachelimit
from kexue_anthology.core.cache import key, used
from kexue_anthology.core.fileio import atomic_write_bytes

EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "image/webp": ".webp",
              "image/svg+xml": ".svg"}
FETCHED, REFUSED, FAILED = "fetched", "refused", "failed"


@dataclass(frozen=True)
class UrlRecord:
    """What became of one address: `FETCHED` (then `sha256` names the file), `REFUSED` (the image
    was unsafe or not an image: not asked again) or `FAILED` (the network: asked again next run)."""
    url: str
    status: str
    date: str                     # ISO 8601, UTC, of the attempt
    sha256: str = ""
    media_type: str = ""
    width: int = 0
    height: int = 0
    reason: str = ""              # why refused or failed, one line


@dataclass(frozen=True)
class StoredImage:
    """An image in the store: its bytes are at `path`."""
    url: str
    path: Path
    sha256: str
    media_type: str
    width: int
    height: int

    @property
    def file_name(self) -> str:
        """The name an output gives it: its hash and its type's extension (the same bytes, one file)."""
        return self.sha256[:16] + EXTENSIONS[self.media_type]


class ImageStore:
    """The store under `cache_dir/images`; with no cache (`None`) nothing is stored or found."""

    def __init__(self, cache_dir: Path | None) -> None:
        self.root = Path(cache_dir) / "images" if cache_dir else None

    def record(self, url: str) -> UrlRecord | None:
        """The record of `url`, or None when it was never asked for (or its record is damaged)."""
        if self.root is None:
            return None
        try:
            data = json.loads(self._record_path(url).read_bytes())
            found = UrlRecord(**data)
        except (OSError, ValueError, TypeError):
            return None
        return found if found.url == url else None

    def lookup(self, url: str) -> StoredImage | None:
        """The stored image of `url`, when it was fetched and its file is still whole."""
        found = self.record(url)
        if found is None or found.status != FETCHED or found.media_type not in EXTENSIONS:
            return None
        path = self._file_path(found.sha256, found.media_type)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        if hashlib.sha256(data).hexdigest() != found.sha256:
            return None
        used(path)
        used(self._record_path(url))        # the pair ages together (core/cachelimit.py prunes by age)
        return StoredImage(url, path, found.sha256, found.media_type, found.width, found.height)

    def put(self, url: str, data: bytes, media_type: str, width: int, height: int, date: str) -> StoredImage:
        """Store checked image bytes for `url` (the file first, then its record)."""
        if media_type not in EXTENSIONS:
            raise ValueError(f"not an image type the store keeps: {media_type}")
        sha = hashlib.sha256(data).hexdigest()
        path = self._file_path(sha, media_type) if self.root else Path()
        self._write(path, data)
        self._write_record(UrlRecord(url, FETCHED, date, sha, media_type, width, height))
        return StoredImage(url, path, sha, media_type, width, height)

    def mark(self, url: str, status: str, reason: str, date: str) -> None:
        """Record that `url` was refused or could not be fetched, and why."""
        if status not in (REFUSED, FAILED):
            raise ValueError(status)
        self._write_record(UrlRecord(url, status, date, reason=reason))

    def _record_path(self, url: str) -> Path:
        assert self.root is not None
        k = key("image-url", url)
        return self.root / "urls" / k[:2] / f"{k}.json"

    def _file_path(self, sha: str, media_type: str) -> Path:
        assert self.root is not None
        return self.root / "files" / sha[:2] / (sha + EXTENSIONS[media_type])

    def _write_record(self, found: UrlRecord) -> None:
        if self.root is not None:
            self._write(self._record_path(found.url), json.dumps(asdict(found), ensure_ascii=False).encode())

    def _write(self, path: Path, data: bytes) -> None:
        if self.root is not None:
            atomic_write_bytes(path, data, clean=False)
            cachelimit.note_written(len(data))
