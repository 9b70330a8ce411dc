"""File names for series and books (`slug`), no two alike (`slugs`)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

# A name's stem is at most this many UTF-8 bytes: far below the 255 of NAME_MAX, so that a suffix
# (`-2.pdf`) and a temporary's `.NAME.PID.xxxxxxxx.tmp` still fit.
NAME_BYTES = 120
_DIGEST = 8                  # hex digits of the name's hash in a cut or told-apart name


def slug(name: str) -> str:
    """A file name for a series or book: the name itself, minus what file systems and URLs
    cannot carry; one longer than NAME_BYTES is cut (on a character) and ends in its hash."""
    plain = _plain(name)
    return plain if len(plain.encode("utf-8")) <= NAME_BYTES else _hashed(plain, name)


def slugs(names: Iterable[str]) -> dict[str, str]:
    """Each of `names`' file name (slug), no two alike even where a file system folds case or
    normalises Unicode: names that would share one ("A/B", "A B") each end in their own hash.
    Decided from the whole set at once, so the same names always get the same files."""
    chosen = {name: slug(name) for name in sorted(set(names))}
    for width in (_DIGEST, 2 * _DIGEST, 64):
        counts = Counter(_folded(s) for s in chosen.values())
        clashing = [name for name, s in chosen.items() if counts[_folded(s)] > 1]
        if not clashing:
            break
        chosen.update({name: _hashed(_plain(name), name, width) for name in clashing})
    return chosen


def _plain(name: str) -> str:
    return re.sub(r'[\s/\\:*?"<>|#%&{}$!\'@+`=]+', "-", name).strip("-.") or "untitled"


def _hashed(plain: str, name: str, width: int = _DIGEST) -> str:
    """`plain` cut to fit with `-HASH` (of the whole `name`) after it, never inside a character."""
    room = NAME_BYTES - width - 1
    head = plain.encode("utf-8")[:room].decode("utf-8", "ignore").rstrip("-.")
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:width]
    return f"{head}-{digest}" if head else digest


def _folded(name: str) -> str:
    return unicodedata.normalize("NFC", name).casefold()
