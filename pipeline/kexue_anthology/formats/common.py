"""What the emitters share: the build date, the book id, templates, fonts."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import shutil
import subprocess
import unicodedata
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from kexue_anthology import TEMPLATES as TEMPLATES
from kexue_anthology.collection.assemble import Collection
from kexue_anthology.config.settings import source_date
from kexue_anthology.core.errors import SetupError
from kexue_anthology.core.model import Post
from kexue_anthology.formulas.formula_text import plain_title

CJK_SERIFS = ("Noto Serif CJK SC", "Source Han Serif SC", "Noto Serif SC", "AR PL UMing CN")


@dataclass(frozen=True)
class CJKFont:
    """An installed CJK serif face: its family, its file and the face's index in that file."""
    family: str
    file: Path
    index: int = 0


def _weight(text: str) -> float:
    """fontconfig's weight of a face (80 regular, 200 bold); a variable font's range gives its middle."""
    numbers = [float(n) for n in re.findall(r"\d+(?:\.\d+)?", text)]
    return sum(numbers) / len(numbers) if numbers else 80.0


def cjk_serif_font(bold: bool = False) -> CJKFont:
    """The installed CJK serif every output is set in (the first of CJK_SERIFS that fontconfig
    lists for Chinese), the face nearest the weight asked for.  The one font lookup: the PDF's
    stylesheet names its family, the cover draws with its file.  Without one WeasyPrint would
    silently drop every Chinese character and the cover would lose its title, so its absence
    stops the build."""
    found = subprocess.run(["fc-list", ":lang=zh", "-f", "%{family}\t%{weight}\t%{file}\t%{index}\n"],
                           capture_output=True, text=True) if shutil.which("fc-list") else None
    faces: list[tuple[set[str], float, str, int]] = []
    for line in (found.stdout if found and found.returncode == 0 else "").splitlines():
        family, weight, file, face = [*line.split("\t"), "", "", "", ""][:4]
        if file:
            faces.append(({f.strip() for f in family.split(",")}, _weight(weight), file,
                          int(face) if face.strip().isdigit() else 0))
    target = 200.0 if bold else 80.0
    for name in CJK_SERIFS:
        candidates = sorted((abs(weight - target), file, index) for families, weight, file, index in faces
                            if name in families)
        if candidates:
            _, file, index = candidates[0]
            return CJKFont(name, Path(file), index)
    raise SetupError("no CJK serif font is installed, and without one the Chinese text would be lost: "
                     "install fonts-noto-cjk (Debian: apt-get install fonts-noto-cjk)")


def cjk_serif() -> str:
    """The family of the installed CJK serif the books are set in (cjk_serif_font)."""
    return cjk_serif_font().family


def build_date(collection: Collection) -> dt.datetime:
    """SOURCE_DATE_EPOCH when set, else the newest post's date: never the clock, so that two
    builds of the same collection are byte for byte the same."""
    when = source_date()
    if when is not None:
        return when
    dates = [p.date for p in collection.posts if p.date]
    day = max(dates) if dates else "2000-01-01"
    return dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)


def book_id(collection: Collection) -> uuid.UUID:
    """A book's identifier, stable: the same title and posts give the same one."""
    return uuid.uuid5(uuid.NAMESPACE_URL, "kexue-anthology:" + collection.title + ":"
                      + ",".join(sorted(p.id for p in collection.posts)))


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                             autoescape=jinja2.select_autoescape(["html", "xhtml", "xml"]),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters["plain"] = plain_title        # titles with math, where no formula is drawn
    return env


@functools.lru_cache(maxsize=1)
def _post_meta_partial() -> Any:
    return environment().get_template("post_meta.html").module


def post_meta(post: Post) -> str:
    """A post's date and readers as the partial the templates show under each title
    (templates/post_meta.html), for an output written without a template (EPUB)."""
    return str(_post_meta_partial().post_meta(post))


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


MATH_FONT_NAMES = ("Latin Modern Math", "STIX Two Math", "STIXMath", "TeX Gyre Termes Math",
                   "Libertinus Math", "Noto Sans Math")


def math_font() -> Path | None:
    """An installed font with an OpenType MATH table (Debian: fonts-lmodern), or None."""
    from fontTools.ttLib import TTFont  # type: ignore[import-untyped]
    if not shutil.which("fc-match"):
        return None
    for name in MATH_FONT_NAMES:
        found = subprocess.run(["fc-match", "-f", "%{family}\t%{file}", name], capture_output=True, text=True)
        family, _, path = found.stdout.partition("\t")
        if found.returncode or name.lower() not in family.lower() or not path:
            continue
        try:
            if "MATH" in TTFont(path, lazy=True, fontNumber=0):
                return Path(path)
        except Exception:
            continue
    return None
