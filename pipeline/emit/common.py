"""What the emitters share: build options, the build date, the book id, templates, fonts."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import jinja2

from pipeline.assemble import Collection
from pipeline.render import plain_title

ROOT = Path(__file__).resolve().parent.parent.parent
TEMPLATES = ROOT / "templates"
AUTHOR = "苏剑林"


class SetupError(RuntimeError):
    """A program or font the build needs is missing: a setup problem, not bad input."""


@dataclass
class BuildOptions:
    math: str = "mathml"          # html, epub: "mathml" or "svg"; pdf always draws SVG images
    paper: str = "a4"             # pdf: a4, a5, b5
    title: Optional[str] = None
    keep_build: Optional[Path] = None   # pdf: also copy the book's HTML and drawings here


CJK_SERIFS = ("Noto Serif CJK SC", "Source Han Serif SC", "Noto Serif SC", "AR PL UMing CN")


def cjk_serif() -> str:
    """The installed CJK serif the books are set in.  Without one WeasyPrint would silently
    drop every Chinese character, so its absence stops the build."""
    found = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True) \
        if shutil.which("fc-list") else None
    families = {f.strip() for line in (found.stdout if found else "").splitlines() for f in line.split(",")}
    for name in CJK_SERIFS:
        if name in families:
            return name
    raise SetupError("no CJK serif font is installed, and without one the Chinese text would be lost: "
                     "install fonts-noto-cjk (Debian: apt-get install fonts-noto-cjk)")


def build_date(collection: Collection) -> dt.datetime:
    """SOURCE_DATE_EPOCH when set, else the newest post's date: never the clock, so that two
    builds of the same collection are byte for byte the same."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.strip().isdigit():
        return dt.datetime.fromtimestamp(int(epoch), tz=dt.timezone.utc)
    dates = [p.date for p in collection.posts if p.date]
    day = max(dates) if dates else "2000-01-01"
    return dt.datetime.fromisoformat(day).replace(tzinfo=dt.timezone.utc)


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


def slug(name: str) -> str:
    """A file name for a series or book: the name itself, minus what file systems and URLs
    cannot carry."""
    return re.sub(r'[\s/\\:*?"<>|#%&{}$!\'@+`=]+', "-", name).strip("-.") or "untitled"


MATH_FONT_NAMES = ("Latin Modern Math", "STIX Two Math", "STIXMath", "TeX Gyre Termes Math",
                   "Libertinus Math", "Noto Sans Math")


def math_font() -> Optional[Path]:
    """An installed font with an OpenType MATH table (Debian: fonts-lmodern), or None."""
    from fontTools.ttLib import TTFont
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
