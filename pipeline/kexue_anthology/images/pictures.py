"""The image an output shows for an address a post names: its own file beside the post, or one
fetched earlier into the store (kexue_anthology.images.store).  A build never fetches.

    local_picture()  a relative path beside a post, read and checked (images.check), or why not
    stored_picture() a web address the store holds, or None
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from kexue_anthology.images.addresses import web_url
from kexue_anthology.images.check import check_image
from kexue_anthology.images.store import EXTENSIONS, ImageStore

MAX_BYTES = 32 * 1024 * 1024          # a writer's own image larger than this is no figure
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


@dataclass(frozen=True)
class Picture:
    """An image an output shows: its bytes are `data`, or the file at `path`."""
    address: str                  # as the post wrote it
    sha256: str
    media_type: str
    width: int                    # pixels; 0 when unknown (an SVG without a size)
    height: int
    path: Path | None = None
    data: bytes | None = None

    @property
    def file_name(self) -> str:
        """Its name in an output: its hash and its type's extension (the same bytes, one file)."""
        return self.sha256[:16] + EXTENSIONS[self.media_type]

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path.read_bytes()


def local_picture(address: str, post_path: str, root: Path) -> Picture | str:
    """The image `address` (relative to the post's folder, inside `root`) as checked, or why it is not shown."""
    written = address.strip()
    target = unquote(urlsplit(written).path) if not written.startswith(("/", "\\")) else written
    if _SCHEME.match(written) or written.startswith(("/", "\\")) or os.path.isabs(target):
        return f"{written!r} is not a path relative to the post (only an image beside the post is taken)"
    if not target:
        return "the image names no file"
    folder = Path(os.path.abspath(post_path)).parent
    path = (folder / target).resolve()
    if not (path == root or root in path.parents):
        return f"{written!r} leaves the content folder (the folder of the posts or of anthology.toml): not read"
    try:
        if not path.is_file():
            return f"no such file: {written}" if not path.exists() else f"{written} is not a file"
        if path.stat().st_size > MAX_BYTES:
            return f"{written} is larger than {MAX_BYTES // (1024 * 1024)} MiB"
        data = path.read_bytes()
    except OSError as e:
        return f"cannot read {written}: {e.strerror or e}"
    checked = check_image(data)
    if not checked.ok:
        return f"{written} is refused: {checked.refused}"
    return Picture(written, hashlib.sha256(checked.data).hexdigest(), checked.media_type, checked.width,
                   checked.height, data=checked.data)


def stored_picture(address: str, store: ImageStore) -> Picture | None:
    """The image of a web `address` as the store holds it (`anthology fetch` put it there), or None."""
    found = store.lookup(web_url(address))
    if found is None:
        return None
    return Picture(address, found.sha256, found.media_type, found.width, found.height, path=found.path)
