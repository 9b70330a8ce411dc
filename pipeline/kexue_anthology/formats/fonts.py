"""The fonts the outputs are set in, found through fontconfig: the CJK serif of every output
(`cjk_serif_font`) and a font with an OpenType MATH table (`math_font`)."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kexue_anthology.core.errors import SetupError

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
