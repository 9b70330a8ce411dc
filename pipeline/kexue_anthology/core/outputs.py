"""Where a build writes, and what it refuses to overwrite.

The tool never deletes or overwrites what it did not write.  A site is a folder that carries
a stamp file (`STAMP`); a PDF carries `kexue-anthology` as its creator, an EPUB as its zip
comment (`MARK`).  An existing target without its mark, unless empty, is refused with exit
status 2 and a hint at `--force`; a target that is the working directory (or holds it), or
that is or holds an input (a PATH, or any file read from a folder PATH, the project file, the
cover), is refused even with `--force`.  With no `--out` a build writes
into `./out/` under the working directory.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable
from pathlib import Path

STAMP = ".anthology-build"
MARK = "kexue-anthology"


class OutputRefused(Exception):
    """The target may not be written: a usage error (exit status 2)."""


def default_target(pattern: str, name: str) -> Path:
    """`pattern` (an emitter's `default_out`, `{name}` the book's file name) below ./out/."""
    return Path.cwd() / "out" / pattern.format(name=name)


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_target(target: Path, folder: bool, inputs: Iterable[str | Path], force: bool) -> None:
    """Raise OutputRefused when writing `target` (a folder when `folder`) could destroy
    something the tool did not write.  `inputs`: the PATHs named and every file the build read
    (each post file, the project file, the cover), however they were named (relative, through
    a symbolic link: both the name and what it resolves to are compared)."""
    where = Path(os.path.abspath(target))
    if _inside(Path.cwd().resolve(), where.resolve()):
        raise OutputRefused(f"--out {target}: that is the working directory or holds it; "
                            "name a folder of its own (default: ./out/…)")
    for name in inputs:
        named = Path(os.path.abspath(name))
        if _inside(named, where) or _inside(named.resolve(), where.resolve()):
            what = "it is" if named == where or named.resolve() == where.resolve() else "it holds"
            raise OutputRefused(f"--out {target}: {what} the input {name}, which the build would replace; "
                                "a build never replaces what it reads, not even with --force")
    if not os.path.lexists(where):
        return
    if folder and not where.is_dir():
        raise OutputRefused(f"--out {target}: a site is a folder, and {target} is a file")
    if not folder and where.is_dir():
        raise OutputRefused(f"--out {target}: that is a folder; name the file to write")
    if force or (ours_folder(where) if folder else ours_file(where)):
        return
    what = "folder is not empty and was not written by anthology" if folder else \
        "file exists and was not written by anthology"
    raise OutputRefused(f"--out {target}: the {what}; it would be replaced. "
                        "Name another place, or add --force to replace it")


def ours_folder(path: Path) -> bool:
    try:
        return (path / STAMP).is_file() or not any(path.iterdir())
    except OSError:
        return False


def ours_file(path: Path) -> bool:
    """A PDF or EPUB an earlier build wrote (or an empty file)."""
    try:
        if path.stat().st_size == 0:
            return True
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                return z.comment == MARK.encode()
        from pypdf import PdfReader
        metadata = PdfReader(str(path)).metadata
        return metadata is not None and bool(metadata) and metadata.get("/Creator") == MARK
    except Exception:          # unreadable, damaged, not a PDF: not known to be ours
        return False
