"""The project file, `anthology.toml`: a content folder's book settings.

Found by walking up from the inputs (like pyproject.toml): the first `anthology.toml` in the
inputs' common folder or above it, stopping at a git repository's top (the folder holding
`.git`) or the file system's root.  Every command reads it, and the command line's flags
override it.  With no file the blog's own defaults hold (`Project()`).

    [book]                      title, subtitle, author, language, source_name, source_url,
                                licence, series, others, paper, math, cover
    [outputs]                   html, epub, pdf: where `build FORMAT` writes without --out
    [cache]                     limit: the cache folder's size limit ("500 MB"; default 2 GiB)
    [images]                    hosts, mirror: where `anthology fetch` may take remote images from

Every problem of a file is reported, each at its line (`anthology.toml:3:1: error: unknown
key "titel" in [book]; did you mean "title"? … [project-key]`), and none is acted on: a
command given a bad project file stops before any work (ProjectError).

This module checks the file's shape: its tables, keys, types and strings.  The values a format
owns — the [outputs] keys (the formats' names), `paper`, `math`, the `cover` image — are checked
by the formats themselves (`Owner`, which kexue_anthology.formats.base.Emitter is): the command,
which knows both, passes them to `load` and `template`, so that no format is imported here.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from kexue_anthology import PACKAGE
from kexue_anthology.core.diagnostics import Diagnostic
from kexue_anthology.core.locations import shown
from kexue_anthology.core.sourcetext import Position

DEFAULT_TITLE = "科学空间文集"
FILE_NAME = "anthology.toml"


@dataclass(frozen=True)
class Project:
    """What a book says about itself and how it is built.  The defaults are 科学空间's."""
    title: str | None = None               # None: the series' name with --series, else DEFAULT_TITLE
    subtitle: str | None = None
    author: str = "苏剑林"
    language: str = "zh-Hans"              # BCP 47, for the outputs' lang / dc:language / /Lang
    source_name: str = "科学空间"           # the site the posts come from
    source_url: str = "https://kexue.fm"
    licence: str = "文章版权归原作者所有（科学空间 kexue.fm）"
    series: tuple[str, ...] | None = None  # which series go in, in this order (None: all, by date)
    others: bool = True                    # whether posts of no series go in (「其他文章」)
    paper: str = "a4"                      # pdf: a4, a5, b5
    math: str | None = None                # None: each format's default
    cover: Path | None = None              # an image; None: the drawn cover
    outputs: dict[str, str] = field(default_factory=dict)    # format → file or folder name
    cache_limit: int | None = None         # bytes; None: kexue_anthology.core.cachelimit.DEFAULT_LIMIT
    image_hosts: tuple[str, ...] | None = None     # [images] hosts; None: the source's host (`images_allowed`)
    image_mirror: tuple[tuple[str, str], ...] = ()  # [images] mirror: URL prefix → http(s) prefix or file: URI
    path: Path | None = None               # the anthology.toml read, None for the defaults
    series_lines: tuple[tuple[int, int], ...] = ()    # line and column of each name in `series`

    @property
    def host(self) -> str:
        """The source's address without its scheme: kexue.fm."""
        return self.source_url.split("://", 1)[-1].rstrip("/")

    @property
    def source(self) -> str:
        """The source as the books print it: 「科学空间 · kexue.fm」."""
        return " · ".join(x for x in (self.source_name, self.host) if x)

    @property
    def credit(self) -> str:
        """The source as a sentence names it: 「科学空间（kexue.fm）」."""
        if self.source_name and self.host:
            return f"{self.source_name}（{self.host}）"
        return self.source_name or self.host

    def description(self, posts: int) -> str:
        """What the book holds, for its metadata: 「39 篇文章，选自科学空间（kexue.fm）」."""
        return f"{posts} 篇文章" + (f"，选自{self.credit}" if self.credit else "")

    def output(self, fmt: str) -> Path | None:
        """Where `build fmt` writes without --out: the file's `[outputs]` entry, relative to its folder."""
        name = self.outputs.get(fmt)
        if name is None:
            return None
        base = self.path.parent if self.path else Path.cwd()
        return base / name

    @property
    def images_allowed(self) -> tuple[str, ...]:
        """The hosts remote images may come from: [images] hosts, else the source's host (kexue.fm)."""
        if self.image_hosts is not None:
            return self.image_hosts
        host = urlsplit(self.source_url).hostname if self.source_url else None
        return (host,) if host else ()

    def position(self, line: int, col: int = 1) -> Position:
        """A place in the project file, for a diagnostic."""
        return Position(here(self.path) if self.path else FILE_NAME, line, col)


class Owner(Protocol):
    """A format as the project file knows it: its [outputs] key and the [book] values it owns."""

    @property
    def name(self) -> str: ...                 # its [outputs] key

    @property
    def default_out(self) -> str: ...          # below ./out/; `{name}` is the book's file name

    def choices(self) -> Mapping[str, tuple[str, ...]]:
        """The [book] keys it owns that take one of a few values, with those values."""
        ...

    def file_problem(self, key: str, path: Path) -> str | None:
        """Why it cannot take the file a [book] key it owns names (the cover), or None."""
        ...


class ProjectError(Exception):
    """A project file that cannot be used: every problem found, as diagnostics."""

    def __init__(self, problems: list[Diagnostic]) -> None:
        super().__init__("\n".join(p.format() for p in problems))
        self.problems = problems


# The keys of each table, with what a value must be (checked in `_check`).
BOOK_KEYS = ("title", "subtitle", "author", "language", "source_name", "source_url", "licence",
             "series", "others", "paper", "math", "cover")
TABLES = ("book", "outputs", "cache", "images")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
_BARE_KEY = r'(?:[A-Za-z0-9_-]+|"[^"\n]*"|\'[^\'\n]*\')'
_HEADER = re.compile(r"^[ \t]*\[[ \t]*(" + _BARE_KEY + r"(?:[ \t]*\.[ \t]*" + _BARE_KEY + r")*)[ \t]*\]")
_KEY = re.compile(r"^[ \t]*(" + _BARE_KEY + r")[ \t]*[=.]")


def here(path: Path) -> str:
    """The project file as its diagnostics name it, printed before the posts' root is known:
    relative to the working folder when inside it (core.locations); a link is named, not followed."""
    return shown(str(path), Path.cwd())


def find(paths: Iterable[str | Path], warnings: list[Diagnostic] | None = None) -> Path | None:
    """The project file that governs `paths`: the first `anthology.toml` in their common folder
    or above it, up to the top of the git repository that holds them or the home folder, or None.

    A file (or its folder) another user owns is never used, as git's safe.directory: the lookup
    stops there with a warning added to `warnings`.  An `anthology.toml` that is not a regular
    file (a FIFO, a dangling link, a folder) is a ProjectError: never skipped, never opened."""
    folders = []
    for p in paths:
        full = Path(os.path.abspath(p))
        folders.append(str(full if full.is_dir() else full.parent))
    if not folders:
        return None
    try:
        start = Path(os.path.commonpath(folders))
    except ValueError:                    # paths on different drives share no folder
        return None
    home = _identity(os.path.expanduser("~"))
    for folder in (start, *start.parents):
        candidate = folder / FILE_NAME
        entry = _entry(candidate)
        if entry is not None:
            foreign = _foreign(candidate, entry)
            if foreign:
                if warnings is not None:
                    warnings.append(Diagnostic("warning", code="project-owner", message=foreign, path=here(candidate)))
                return None
            _regular(candidate, entry)
            return candidate
        if (folder / ".git").exists() or (home is not None and _identity(folder) == home):
            return None
    return None


_PACKAGE = PACKAGE      # the bundled sample's file: as trusted as this code
_KINDS = {stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFDIR: "a folder", stat.S_IFSOCK: "a socket",
          stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device"}


def _identity(path: str | Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _entry(candidate: Path) -> os.stat_result | None:
    """The candidate's own status (a link not followed), None when there is none."""
    try:
        return os.lstat(candidate)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        raise _unusable(candidate, f"cannot be looked at ({e.strerror})") from None


def _foreign(candidate: Path, entry: os.stat_result) -> str | None:
    """Why `candidate` must not be used (it or its folder is another user's), or None."""
    if not hasattr(os, "geteuid") or candidate.parent.resolve().is_relative_to(_PACKAGE):
        return None
    me = os.geteuid()
    owners = [("it", entry.st_uid), ("its folder", os.stat(candidate.parent).st_uid)]
    if stat.S_ISLNK(entry.st_mode):
        try:
            owners.append(("the file it links to", os.stat(candidate).st_uid))
        except OSError:                   # dangling: _regular names it
            pass
    whose = next((owner for owner in owners if owner[1] != me), None)
    if whose is None:
        return None
    return (f"not used: {whose[0]} belongs to another user (uid {whose[1]}, not {me}), and a project file "
            f"sets the book's words and where it is written; to use it anyway give --project {here(candidate)}")


def _regular(candidate: Path, entry: os.stat_result) -> None:
    """ProjectError unless `candidate` is a regular file (or a link to one): checked without opening it."""
    if stat.S_ISLNK(entry.st_mode):
        try:
            entry = os.stat(candidate)
        except OSError:
            raise _unusable(candidate, "is a link to nothing (dangling)") from None
    if not stat.S_ISREG(entry.st_mode):
        kind = _KINDS.get(stat.S_IFMT(entry.st_mode), "not a regular file")
        raise _unusable(candidate, f"is {kind}, not a regular file")


def _unusable(path: Path, why: str) -> ProjectError:
    return ProjectError([Diagnostic("error", "project-syntax", f"the project file {why}: make it a file, or "
                                    "give --project FILE or --no-project", path=here(path))])


def load(path: Path, formats: Iterable[Owner]) -> Project:
    """The project `path` describes, its values checked by this module and by the `formats` that
    own them; ProjectError with every problem when it has any."""
    name = here(path)
    try:
        text = _read(path).decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) else "not UTF-8"
        raise ProjectError([Diagnostic("error", "project-syntax", f"cannot read the project file: {reason}",
                                       path=name)]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        line, col, message = _syntax_position(str(e), text)
        raise ProjectError([Diagnostic("error", "project-syntax", f"not valid TOML: {message}",
                                       Position(name, line, col))]) from None
    problems: list[Diagnostic] = []
    where = _Locator(text, name)
    values = _check(data, where, path.parent, tuple(formats), problems)
    if problems:
        raise ProjectError(sorted(problems, key=lambda d: (d.position.line, d.position.col) if d.position else (0, 0)))
    return replace(Project(), path=path, **values)


MAX_FILE = 1 << 20          # bytes: a project file is a few lines


def _read(path: Path) -> bytes:
    """The file's bytes; opened without blocking and checked to be a regular file of at most
    MAX_FILE bytes first (ProjectError otherwise), so that a FIFO put in its place cannot hang us."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(fd)
        _regular(path, info)
        if info.st_size > MAX_FILE:
            raise _unusable(path, f"is {info.st_size:,} bytes, over the limit of {MAX_FILE:,}")
        return f.read(MAX_FILE + 1)


def _syntax_position(message: str, text: str) -> tuple[int, int, str]:
    """tomllib puts the place in its message: `… (at line 3, column 7)` or `(at end of document)`."""
    found = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if found:
        return int(found.group(1)), int(found.group(2)), message[:found.start()]
    lines = text.splitlines() or [""]
    return len(lines), len(lines[-1]) + 1, re.sub(r"\s*\(at end of document\)$", " at the end of the file", message)


class _Locator:
    """Where a table or key stands in the file: tomllib gives no positions, so the text is
    scanned — a table's header, then `key =` below it."""

    def __init__(self, text: str, name: str) -> None:
        self.name = name
        self.lines = text.splitlines()
        self.places: dict[tuple[str, ...], tuple[int, int]] = {}
        table: tuple[str, ...] = ()
        for number, line in enumerate(self.lines, 1):
            header = _HEADER.match(line)
            if header:
                table = tuple(_unquote(k) for k in re.split(r"[ \t]*\.[ \t]*", header.group(1)))
                self.places.setdefault(table, (number, line.index("[") + 1))
                continue
            key = _KEY.match(line)
            if key:
                self.places.setdefault((*table, _unquote(key.group(1))), (number, line.index(key.group(1)) + 1))

    def items(self, keys: tuple[str, ...], names: list[str]) -> list[tuple[int, int]]:
        """Line and column of each string of the list at `keys`, which may span lines."""
        start = self(*keys)
        line, col = start.line, start.col
        found = []
        for name in names:
            for n in range(line, len(self.lines) + 1):
                at = max(self.lines[n - 1].find(q, col - 1 if n == line else 0) for q in (f'"{name}"', f"'{name}'"))
                if at >= 0:
                    line, col = n, at + 1
                    break
            found.append((line, col))
        return found

    def __call__(self, *keys: str) -> Position:
        for n in range(len(keys), 0, -1):
            if keys[:n] in self.places:
                return Position(self.name, *self.places[keys[:n]])
        return Position(self.name, 1, 1)


def _unquote(key: str) -> str:
    return key[1:-1] if key[:1] in "\"'" else key


def _suggest(key: str, valid: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.6)
    return f'; did you mean "{close[0]}"?' if close else ""


# The longest each string may be, in characters: room for any real title, name or address, and
# a bound on what the covers, title pages and metadata are asked to hold.
LIMITS = {"title": 200, "subtitle": 200, "author": 200, "source_name": 200, "series": 200,
          "language": 100, "paper": 100, "math": 100, "licence": 2000, "source_url": 2000,
          "cover": 1000, "outputs": 1000}
MAX_SERIES = 1000          # names in `series`
_ONE_EACH = " (a format that offers only one uses its own)"
# What XML 1.0 cannot hold (the EPUB would be refused) and the other control characters: every C0
# control but tab and newline, DEL, C1, lone surrogates and the noncharacters.
_FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef"
                        + "".join(chr(plane + 0xFFFE) + chr(plane + 0xFFFF) for plane in range(0, 0x110000, 0x10000))
                        + "]")


def text_problem(value: str, limit: int | None = None) -> str | None:
    """Why `value` cannot stand in the book (a control character, a noncharacter, over `limit`
    characters), or None."""
    bad = _FORBIDDEN.search(value)
    if bad:
        return (f"holds the control character or noncharacter U+{ord(bad.group()):04X} (character "
                f"{bad.start() + 1:,}), which a book cannot hold: remove it")
    if limit is not None and len(value) > limit:
        return f"is {len(value):,} characters long; the limit is {limit:,}"
    return None


def _clip(value: object, most: int = 60) -> object:
    """A value shortened for a message: its first `most` characters, or items."""
    if isinstance(value, str) and len(value) > most:
        return value[:most] + "…"
    if isinstance(value, list) and len(value) > 5:
        return [_clip(v) for v in value[:5]] + ["…"]
    if isinstance(value, list):
        return [_clip(v) for v in value]
    return value


def _check(data: dict[str, Any], where: _Locator, folder: Path, formats: tuple[Owner, ...],  # noqa: C901
           problems: list[Diagnostic]) -> dict[str, Any]:
    """The Project fields the file sets, each checked; a problem is added to `problems`."""

    def error(code: str, message: str, *keys: str) -> None:
        problems.append(Diagnostic("error", code, message, where(*keys)))

    def unknown(key: str, table: str | None, valid: Sequence[str]) -> None:
        if table is None:
            error("project-key", f'unknown table "{key}"{_suggest(key, valid)} valid tables: '
                  + ", ".join(f"[{t}]" for t in valid), key)
        else:
            error("project-key", f'unknown key "{key}" in [{table}]{_suggest(key, valid)} valid keys: '
                  + ", ".join(valid), table, key)

    values: dict[str, Any] = {}
    for key in data:
        if key not in TABLES and key in BOOK_KEYS and not isinstance(data[key], dict):
            error("project-key", f'"{key}" belongs in [book]: write it below a [book] line', key)
        elif key not in TABLES:
            unknown(key, None, TABLES)
        elif not isinstance(data[key], dict):
            error("project-value", f"{key} must be a table ([{key}] and its keys below it)", key)
    book = data.get("book") if isinstance(data.get("book"), dict) else {}
    assert isinstance(book, dict)
    owned = [f.choices() for f in formats]
    choices = {key: sorted({c for o in owned for c in o.get(key, ())}) for o in owned for key in o}
    # a key some format takes only one value of (the PDF's math): that format keeps it whatever is set
    notes = {key: _ONE_EACH if any(len(o.get(key, ())) == 1 for o in owned) and len(valid) > 1 else ""
             for key, valid in choices.items()}
    for key, value in book.items():
        if key not in BOOK_KEYS:
            unknown(key, "book", BOOK_KEYS)
            continue
        at = ("book", key)

        def bad(message: str) -> None:
            error("project-value", f"{key} = {_toml(_clip(value))}: {message}", *at)  # noqa: B023 - used at once
        if key == "others":
            if isinstance(value, bool):
                values[key] = value
            else:
                bad("must be true or false")
        elif key == "series":
            if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
                bad('must be a list of series names, e.g. ["最小熵原理", "低秩近似之路"]')
            elif len(value) > MAX_SERIES:
                bad(f"names {len(value):,} series; the limit is {MAX_SERIES:,}")
            elif problem := next(filter(None, (text_problem(v, LIMITS["series"]) for v in value)), None):
                bad(f"a series name {problem}")
            elif len(set(value)) < len(value):
                bad("names a series twice")
            else:
                values[key] = tuple(v.strip() for v in value)
                values["series_lines"] = tuple(where.items(("book", "series"), value))
        elif not isinstance(value, str):
            bad(f"must be a string, not {_kind(value)}")
        elif problem := text_problem(value, LIMITS[key]):
            bad(problem)
        elif key in choices and value not in choices[key]:
            bad(f"valid choices: {', '.join(choices[key])}{notes[key]}")
        elif key == "language" and not _LANGUAGE.match(value):
            bad("must be a BCP 47 language tag, e.g. zh-Hans, zh-Hant, en")
        elif key == "source_url" and value and not re.match(r"^https?://[^\s/]+", value):
            bad("must be a web address (http:// or https://), or empty")
        elif key in ("title", "author") and not value.strip():
            bad("must not be empty")
        elif key == "cover":
            cover = folder / value
            if not value.strip() or not cover.exists():
                bad(f"no such image file ({cover}); remove the key for the drawn cover")
            elif problem := next(filter(None, (f.file_problem(key, cover) for f in formats)), None):
                bad(problem)
            else:
                values[key] = cover.resolve()
        else:
            values[key] = value.strip() if key != "licence" else value
    if "subtitle" in values and not values["subtitle"]:
        values["subtitle"] = None
    outputs = data.get("outputs") if isinstance(data.get("outputs"), dict) else {}
    assert isinstance(outputs, dict)
    names = [f.name for f in formats]
    for key, value in outputs.items():
        if key not in names:
            unknown(key, "outputs", names)
        elif not isinstance(value, str) or not value.strip():
            error("project-value", f"{key} = {_toml(_clip(value))}: must be a file or folder name, relative to "
                  f"{FILE_NAME}'s folder", "outputs", key)
        elif problem := text_problem(value, LIMITS["outputs"]):
            error("project-value", f"{key} = {_toml(_clip(value))}: {problem}", "outputs", key)
        else:
            values.setdefault("outputs", {})[key] = value
    values.update(_check_cache(data, where, problems))
    values.update(_check_images(data, where, folder, problems))
    return values


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"^(?:{_LABEL}\.)*{_LABEL}$|^\[?[0-9A-Fa-f:.]+\]?$")
MAX_IMAGE_HOSTS = 100


def _mirror_target(target: str, folder: Path) -> str | None:
    """A mirror's target as the fetcher takes it (an http(s) prefix, or a file: folder made an
    absolute file:// URI, relative to the project file's folder), or None when it is neither."""
    if re.match(r"^https?://[^\s/]+", target, re.I):
        return target
    if target.lower().startswith("file:"):
        rest = target[5:]
        path = Path(rest[2:] if rest.startswith("//") else rest)
        return (folder / path).resolve().as_uri() + ("/" if target.endswith("/") else "")
    return None


def _check_images(data: dict[str, Any], where: _Locator, folder: Path,  # noqa: C901
                  problems: list[Diagnostic]) -> dict[str, Any]:
    """[images] hosts: host names or addresses; mirror: { "URL prefix" = "http(s) prefix or file: folder" }."""
    table = data.get("images") if isinstance(data.get("images"), dict) else {}
    assert isinstance(table, dict)
    values: dict[str, Any] = {}

    def bad(key: str, message: str) -> None:
        problems.append(Diagnostic("error", "project-value", f"{key} = {_toml(_clip(table[key]))}: {message}",
                                   where("images", key)))
    for key, value in table.items():
        if key not in ("hosts", "mirror"):
            problems.append(Diagnostic("error", "project-key", f'unknown key "{key}" in [images]'
                                       f'{_suggest(key, ["hosts", "mirror"])} valid keys: hosts, mirror',
                                       where("images", key)))
        elif key == "hosts":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                bad(key, 'must be a list of host names or addresses, e.g. ["kexue.fm", "127.0.0.1"]')
            elif len(value) > MAX_IMAGE_HOSTS:
                bad(key, f"names {len(value):,} hosts; the limit is {MAX_IMAGE_HOSTS}")
            elif wrong := next((v for v in value if not _HOST.match(v.strip()) or len(v) > 253), None):
                bad(key, f"{_toml(_clip(wrong))} is no host name or address (no scheme, port or path: kexue.fm)")
            else:
                values["image_hosts"] = tuple(v.strip().strip("[]").lower() for v in value)
        elif not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            bad(key, 'must be a table of URL prefixes and where to fetch them, e.g. '
                '{ "https://kexue.fm/usr/uploads/" = "file:uploads/" }')
        elif len(value) > MAX_IMAGE_HOSTS:
            bad(key, f"maps {len(value):,} prefixes; the limit is {MAX_IMAGE_HOSTS}")
        else:
            mirror = []
            for prefix, target in value.items():
                made = _mirror_target(target, folder)
                if not re.match(r"^https?://[^\s/]+", prefix, re.I):
                    bad(key, f"{_toml(_clip(prefix))} is no http(s) address to send elsewhere")
                elif made is None or text_problem(target, LIMITS["source_url"]):
                    bad(key, f"{_toml(_clip(target))} must be an http(s) address or a file: folder")
                else:
                    mirror.append((prefix, made))
            values["image_mirror"] = tuple(sorted(mirror, key=lambda m: -len(m[0])))   # the longest prefix wins
    return values


def _check_cache(data: dict[str, Any], where: _Locator, problems: list[Diagnostic]) -> dict[str, Any]:
    """[cache] limit: a size ("500 MB", "2 GiB") or a number of bytes."""
    from kexue_anthology.core.cachelimit import parse_size
    table = data.get("cache") if isinstance(data.get("cache"), dict) else {}
    assert isinstance(table, dict)
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key != "limit":
            problems.append(Diagnostic("error", "project-key", f'unknown key "{key}" in [cache]'
                                       f'{_suggest(key, ["limit"])} valid keys: limit', where("cache", key)))
            continue
        try:
            if isinstance(value, bool) or not isinstance(value, (str, int)) or (isinstance(value, int) and value < 0):
                raise ValueError('must be a size, e.g. "500 MB" or "2 GiB"')
            values["cache_limit"] = parse_size(value) if isinstance(value, str) else value
        except ValueError as e:          # SizeError too
            problems.append(Diagnostic("error", "project-value", f"limit = {_toml(value)}: {e}",
                                       where("cache", key)))
    return values


def _kind(value: object) -> str:
    names = {bool: "true/false", int: "a number", float: "a number", list: "a list", dict: "a table"}
    return next((n for t, n in names.items() if isinstance(value, t)), type(value).__name__)


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        quoted = value.replace("\\", "\\\\").replace('"', '\\"')
        return '"' + _FORBIDDEN.sub(lambda m: f"\\u{ord(m.group()):04X}" if ord(m.group()) < 0x10000
                                    else f"\\U{ord(m.group()):08X}", quoted) + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{…}"
    return str(value)


_COMMENT_COLUMN = 36


def _commented(setting: str, note: str) -> str:
    """`setting` and its `# note` at the template's comment column, as wide as a terminal shows the
    setting (a CJK character takes two columns)."""
    width = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in setting)
    return f"{setting}{' ' * max(1, _COMMENT_COLUMN - width)}# {note}"


def template(formats: Iterable[Owner], own: Mapping[str, str] | None = None) -> str:
    """The commented project file: every key with its default (those without one commented out),
    so that it loads back to `Project()`; [outputs] names the `formats`.  `own` (what `anthology
    init` writes) replaces the blog's title, author, source and licence, so that a new book
    carries no one else's name."""
    personal: dict[str, Any] = {k: v for k, v in (own or {}).items() if k != "title"}
    d = replace(Project(), **personal)
    title = (own or {}).get("title")
    title_line = f"title = {_toml(title)}" if title else f'# title = "{DEFAULT_TITLE}"'
    outputs = "\n".join(f'# {f.name} = "out/{f.default_out.format(name="book")}"' for f in formats)
    book = "\n".join(_commented(setting, note) for setting, note in (
        (title_line, "the book's title (with --series: the series' name)"),
        ('# subtitle = "…"', "under the title on the title page and the cover"),
        (f"author = {_toml(d.author)}", "on the title page, the cover, the metadata, the site's footer"),
        (f"language = {_toml(d.language)}", "BCP 47: zh-Hans, zh-Hant, en, …"),
        (f"source_name = {_toml(d.source_name)}", "the site the posts come from"),
        (f"source_url = {_toml(d.source_url)}", 'its address ("" for none)'),
        (f"licence = {_toml(d.licence)}", 'the rights line of the title page and the metadata ("" for none)')))
    return f'''# anthology.toml: the book this content folder makes (kexue-anthology; `anthology help project`).
# Every command run on the posts here (check, list, build, serve) reads it; their flags
# (--title, --subtitle, --author, --paper, --math, --out) override it, --no-project ignores it.
# A key left out, or commented out as below, keeps the default shown.

[book]
{book}
# series = ["最小熵原理", "低秩近似之路"]   # only these series, in this order (left out: all, by date)
{_commented(f"others = {_toml(d.others)}", "posts of no series go in too (「其他文章」)")}
{_commented(f"paper = {_toml(d.paper)}", "the PDF's paper: a4, a5 or b5")}
# math = "svg"                      # mathml or svg (left out: each format's own default; PDF is always svg)
# cover = "cover.png"               # an image, relative to this file (left out: the drawn cover)

[outputs]                           # where `build FORMAT` writes without --out, relative to this file
{outputs}

[cache]
# limit = "2 GiB"                   # the cache folder's size (least recently used entries go first)

[images]                            # where `anthology fetch` takes the posts' remote images from
# hosts = ["kexue.fm"]              # hosts they may come from (left out: source_url's); a loopback or
#                                   # private address only when listed, e.g. "127.0.0.1"
# mirror = {{ "https://kexue.fm/usr/uploads/" = "file:uploads/" }}   # URL prefix → http(s) prefix or file: folder
'''


def settings_of(project: Project) -> dict[str, object]:
    """The project's settings as a plain mapping (no path): for comparing and showing."""
    return {f.name: getattr(project, f.name) for f in fields(project) if f.name not in ("path", "series_lines")}
