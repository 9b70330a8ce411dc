"""The read stage: every form a post comes in, to one list of `Post`s.

Readers are tried in the order of `READERS`; the first whose `detect` accepts a file reads
it; a Markdown file none accepts is read as plain Markdown (read/plainmarkdown.py).  The same
post met in several sources (a listing excerpt and the full scrape, or two listing pages)
becomes one post: the fuller text wins, and missing facts are filled in from the others.
Series and part come from the front matter, else from the title.
"""

from __future__ import annotations

import os
import re
import stat
import unicodedata
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path

from kexue_anthology.check.extract import MAX_FILE_BYTES
from kexue_anthology.config.project import FILE_NAME as PROJECT_FILE
from kexue_anthology.core.diagnostics import Diagnostics
from kexue_anthology.core.model import Post
from kexue_anthology.core.outputs import STAMP
from kexue_anthology.core.sourcetext import SourceFile
from kexue_anthology.read import frontmatter, listing, plainmarkdown, plaintext, scraped
from kexue_anthology.read.decode import decode
from kexue_anthology.read.series import normalize_title, parse_series

Reader = Callable[[SourceFile, Diagnostics], list[Post]]
READERS: dict[str, tuple[Callable[[str], bool], Reader]] = {
    frontmatter.FORM: (frontmatter.detect, frontmatter.read),
    scraped.FORM: (scraped.detect, scraped.read),
    plaintext.FORM: (plaintext.detect, plaintext.read),
    listing.FORM: (listing.detect, listing.read),
}
SKIPPED_NAMES = ("README", "LICENSE", "LICENCE")
# A content folder's project file (config/project.py), images (its cover) and the books built
# there (its [outputs]) hold no posts.
SKIPPED_FILES = (PROJECT_FILE,)
SKIPPED_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".pdf", ".epub")


def holds_posts(name: str) -> bool:
    """Whether a file of this name is read when the folder it lies in is (not hidden, no README,
    no project file, image or built book)."""
    return not (name.startswith(".") or name.upper().startswith(SKIPPED_NAMES)
                or name in SKIPPED_FILES or name.lower().endswith(SKIPPED_SUFFIXES))


def input_files(paths: Iterable[str], diagnostics: Diagnostics) -> list[Path]:
    """Regular files named, and the regular files below folders named (hidden files and
    READMEs left out).  Anything else — a FIFO, a socket, a device, a link to one — is named
    and skipped without being opened: opening a FIFO would wait for a writer forever."""
    files: list[Path | None] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            for root, dirs, names in os.walk(path, onerror=partial(_unreadable_folder, diagnostics)):
                # Hidden folders, and sites a build wrote here (./out/site), hold no posts.
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not built_here(Path(root) / d))
                files.extend(_regular(Path(root) / name, diagnostics) for name in sorted(names) if holds_posts(name))
        elif path.exists() or path.is_symlink():
            files.append(_regular(path, diagnostics))
        else:
            diagnostics.input_error(str(path), "no such file or folder", code="missing")
    return [f for f in files if f is not None]


def built_here(folder: Path) -> bool:
    """Whether `folder` holds a site a build wrote (False when it cannot be looked into)."""
    try:
        return (folder / STAMP).exists()
    except OSError:
        return False


def _unreadable_folder(diagnostics: Diagnostics, e: OSError) -> None:
    diagnostics.input_error(str(e.filename), f"cannot read the folder: {e.strerror or e}")


_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def _regular(path: Path, diagnostics: Diagnostics) -> Path | None:
    """`path` when it is (or links to) a regular file of at most MAX_FILE_BYTES, else None, reported."""
    try:
        info = path.stat()
    except OSError as e:
        broken = path.is_symlink() and isinstance(e, FileNotFoundError)
        diagnostics.input_error(str(path),
                                "a symbolic link to nothing" if broken else f"cannot read: {e.strerror or e}",
                                code="missing" if broken else "unreadable")
        return None
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a regular file")
        via = " (through a symbolic link)" if path.is_symlink() else ""
        diagnostics.error("not-a-file", f"{kind}{via}, not a file: skipped", path=str(path))
        return None
    if info.st_size > MAX_FILE_BYTES:
        _too_large(path, info.st_size, diagnostics)
        return None
    return path


def _too_large(path: Path, size: int | None, diagnostics: Diagnostics) -> None:
    have = f"{size:,} bytes" if size is not None else "more than that"
    diagnostics.error("too-large", f"file too large: {have}, the limit is {MAX_FILE_BYTES:,} "
                                   "(real posts are under 100 KB): skipped", path=str(path))


def _read_bytes(path: Path) -> bytes | str:
    """At most MAX_FILE_BYTES + 1 bytes of a regular file, or why it cannot be read.  Opened
    non-blocking and checked again, in case the file was replaced by a FIFO since `_regular`."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as e:
        return f"cannot read: {e.strerror or e}"
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return "not a regular file any more: skipped"
        try:
            return f.read(MAX_FILE_BYTES + 1)
        except OSError as e:
            return f"cannot read: {e.strerror or e}"


def read_file(path: Path, diagnostics: Diagnostics) -> list[Post]:
    """The posts of one file.  Whatever goes wrong inside is reported on that file
    (`read-failed`) and the other files are still read."""
    try:
        return _read_file(path, diagnostics)
    except Exception as e:  # one bad file must never stop the run
        diagnostics.error("read-failed", f"reading failed: {type(e).__name__}: {str(e)[:200]}", path=str(path))
        return []


def _read_file(path: Path, diagnostics: Diagnostics) -> list[Post]:
    name = str(path)
    data = _read_bytes(path)
    if isinstance(data, str):
        diagnostics.input_error(name, data)
        return []
    if len(data) > MAX_FILE_BYTES:
        _too_large(path, None, diagnostics)
        return []
    decoded = decode(data)
    if decoded.text is None:
        diagnostics.input_error(name, f"cannot read: {decoded.problem}", code="undecodable")
        return []
    for note in decoded.notes:
        diagnostics.warning("encoding", f"file {note}", path=name)
    source = SourceFile(name, _without_controls(unicodedata.normalize("NFC", decoded.text), name, diagnostics))
    for detect, read in READERS.values():
        if detect(source.text):
            return read(source, diagnostics)
    if plainmarkdown.accepts(name):               # any other Markdown file: a post with its facts assumed
        return plainmarkdown.read(source, diagnostics)
    diagnostics.input_error(name, "not a post in any known form (listing page, scraped post, plain-text post, "
                                  "Markdown); these lines at its top make it one: "
                                  + plainmarkdown.FRONT_MATTER_HINT, code="unknown-form")
    return []


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _without_controls(text: str, name: str, diagnostics: Diagnostics) -> str:
    """Control characters (a scrape's stray backspace) are no text and no XML: each becomes a
    space, so that every other character keeps its line and column, and is reported."""
    found = list(_CONTROL.finditer(text))
    if not found:
        return text
    where = SourceFile(name, text).position(found[0].start())
    diagnostics.warning("control-character", f"{len(found)} control character(s) (first U+{ord(found[0].group()):04X}) "
                        "read as spaces", where)
    return _CONTROL.sub(" ", text)


def merge_posts(posts: list[Post]) -> list[Post]:
    """One post per normalised title: the fuller body wins, facts missing from it are filled in."""
    groups: dict[str, list[Post]] = {}
    for post in posts:
        groups.setdefault(normalize_title(post.title), []).append(post)
    merged = []
    for group in groups.values():
        best = max(group, key=lambda p: (len("".join(p.body.text.split())), p.id.isdigit()))
        for other in group:
            if other is best:
                continue
            best.also_in.append(other.position)
            if other.id.isdigit() and not best.id.isdigit():
                best.id = other.id
            best.date = best.date or other.date
            if other.readers and (best.readers or 0) < other.readers:
                best.readers = other.readers
            best.url = best.url or other.url
            best.series = best.series or other.series
            best.part = best.part or other.part
            best.tags = best.tags or other.tags
        merged.append(best)
    return merged


def read(paths: Iterable[str], diagnostics: Diagnostics) -> list[Post]:
    return read_files(input_files(paths, diagnostics), diagnostics)


def read_files(files: Iterable[Path], diagnostics: Diagnostics) -> list[Post]:
    """The posts of `files` (those `input_files` found), merged, with their series."""
    posts: list[Post] = []
    for path in files:
        posts.extend(read_file(path, diagnostics))
    posts = merge_posts(posts)
    for post in posts:
        if not post.series:
            post.series, part = parse_series(post.title)
            post.part = post.part or part
        elif post.part is None:
            post.part = parse_series(post.title)[1]
    ids: dict[str, Post] = {}
    for post in posts:
        if post.id in ids:
            diagnostics.error("duplicate-id", f"post id {post.id} is also used by "
                              f"{ids[post.id].title!r} ({ids[post.id].position})", post.position)
        ids[post.id] = post
    posts.sort(key=lambda p: (p.date or "", p.id))
    return posts
