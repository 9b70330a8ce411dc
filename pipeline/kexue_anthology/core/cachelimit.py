"""The cache folder kept within a size limit: the least recently used entries go first.

An entry is used when it is written or read (core/cache.py sets its modification time on
every hit, so recency does not depend on the file system recording access times).  Only what
the tool writes is ever removed: files named as its entries are (`KIND/ab/ab…64 hex….json|bin|pdf`, the
images' `images/files|urls/ab/ab…64 hex….png|jpg|gif|webp|svg|json`,
`templates/__jinja2_…40 hex….cache`), and the temporaries of such entries whose process has
ended.  A temporary of a live process (an entry being written), MathJax's npm packages
(`mathjax/`), the crash reports (`logs/`) and anything else in the folder are left alone.

After every run that may have added entries (`after_run`) the folder's size is estimated
from the last measured size and what the run wrote; the folder is walked, and pruned to
PRUNE_TO of the limit, only when the estimate is over the limit or every CHECK_EVERY runs
(other processes write to the same folder), so that a run under the limit costs a small read
and write of `usage.json`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kexue_anthology.core.fileio import _alive, atomic_write_bytes

DEFAULT_LIMIT = 2 * 1024 ** 3
PRUNE_TO = 0.9              # an automatic prune leaves room, so that the next runs need none
CHECK_EVERY = 20            # runs between two walks of the folder while the estimate is under the limit
STATE = "usage.json"
KEPT = {"mathjax": "MathJax's npm packages", "logs": "crash reports"}     # never pruned

NESTED = {"images": ("files", "urls")}     # kinds whose entries lie one folder deeper (images/store.py)
_EXTENSIONS = r"(?:json|bin|pdf|png|jpg|gif|webp|svg)"
_ENTRY = re.compile(rf"^([0-9a-f]{{2}})[0-9a-f]{{62}}\.{_EXTENSIONS}$")
_TEMPLATE = re.compile(r"^__jinja2_[0-9a-f]{40}\.cache$")
_TEMPORARY = re.compile(rf"^\.([0-9a-f]{{64}}\.{_EXTENSIONS})\.(\d+)\.[^/]*\.tmp$")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(?:([kmgt])(i?)(b?)|b?)\s*$", re.IGNORECASE)

_written = 0                # bytes this process stored since its last `after_run`


class SizeError(ValueError):
    """A size that cannot be read (`parse_size`)."""


def parse_size(text: str) -> int:
    """Bytes from "500 MB", "2 GiB", "1.5G", "4096": kB, MB, GB, TB are powers of 1000; KiB,
    MiB, GiB, TiB and K, M, G, T powers of 1024; a bare number is bytes."""
    found = _SIZE.match(text)
    if not found:
        raise SizeError(f'"{text[:40]}" is not a size: write e.g. "500 MB", "2 GiB" or a number of bytes')
    number, unit, binary, decimal = found.group(1, 2, 3, 4)
    power = "kmgt".index(unit.lower()) + 1 if unit else 0
    base = 1000 if decimal and not binary else 1024
    try:
        return int(float(number) * base ** power)
    except OverflowError:
        raise SizeError(f'"{text[:40]}" is too large a size') from None


def format_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def note_written(size: int) -> None:
    """Count an entry stored by this process (for the estimate of `after_run`)."""
    global _written
    _written += size


@dataclass
class Entry:
    path: Path
    size: int
    used: float                 # modification time: when last written or read


@dataclass
class Usage:
    """What the cache folder holds."""
    entries: dict[str, list[Entry]] = field(default_factory=dict)     # kind → its entries
    kept: dict[str, tuple[int, int]] = field(default_factory=dict)    # never pruned: name → (files, bytes)
    stale: list[Path] = field(default_factory=list)                   # temporaries of ended processes
    other: int = 0                                                    # files the tool did not write

    @property
    def size(self) -> int:
        return sum(e.size for entries in self.entries.values() for e in entries)


def _regular(path: Path) -> os.stat_result | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st if stat.S_ISREG(st.st_mode) else None


def _files(folder: Path) -> Iterator[tuple[str, Path]]:
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        yield name, folder / name


def _tally(folder: Path) -> tuple[int, int]:
    files = size = 0
    for top, _dirs, names in os.walk(folder):
        for name in names:
            st = _regular(Path(top) / name)
            files, size = files + 1, size + (st.st_size if st else 0)
    return files, size


def measure(root: Path) -> Usage:
    """Every entry of the cache folder `root`, by kind, and what else is there."""
    usage = Usage()
    for kind, folder in _files(root):
        if kind in KEPT:
            usage.kept[kind] = _tally(folder)
        elif kind == STATE or kind.startswith(f".{STATE}."):     # the estimate, and its temporaries
            continue
        elif not folder.is_dir() or folder.is_symlink():
            usage.other += 1
        elif kind in NESTED:
            for sub in NESTED[kind]:
                if (folder / sub).is_dir() and not (folder / sub).is_symlink():
                    usage.entries[f"{kind}/{sub}"] = _kind_entries(sub, folder / sub, usage)
        else:
            usage.entries[kind] = _kind_entries(kind, folder, usage)
    return usage


def _kind_entries(kind: str, folder: Path, usage: Usage) -> list[Entry]:
    entries = []
    for name, path in _files(folder):
        if kind == "templates" and _TEMPLATE.match(name):
            if st := _regular(path):
                entries.append(Entry(path, st.st_size, st.st_mtime))
            continue
        if len(name) != 2 or not path.is_dir() or path.is_symlink():
            usage.other += 1
            continue
        for entry_name, entry in _files(path):
            st = _regular(entry)
            found = _ENTRY.match(entry_name)
            temporary = _TEMPORARY.match(entry_name)
            if st and found and found.group(1) == name:
                entries.append(Entry(entry, st.st_size, st.st_mtime))
            elif st and temporary and int(temporary.group(2)) != os.getpid() and not _alive(int(temporary.group(2))):
                usage.stale.append(entry)
            elif not temporary:
                usage.other += 1
    return entries


def prune(root: Path, target: int) -> tuple[int, int]:
    """Remove the least recently used entries until what is left is at most `target` bytes,
    and the temporaries of ended processes: (entries removed, bytes freed)."""
    usage = measure(root)
    for path in usage.stale:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)
    entries = sorted((e for kind in usage.entries.values() for e in kind), key=lambda e: e.used)
    size, removed, freed = usage.size, 0, 0
    for entry in entries:
        if size <= target:
            break
        try:
            entry.path.unlink()
        except FileNotFoundError:       # another run pruned it
            pass
        except OSError:                 # not ours to remove after all (a read-only folder): kept
            continue
        size -= entry.size
        removed, freed = removed + 1, freed + entry.size
    return removed, freed


def after_run(root: Path, limit: int) -> None:
    """At the end of a run: prune `root` to PRUNE_TO of `limit` when it is over it (see the
    module's doc for when the folder is measured).  A cache that cannot be read or written
    only costs time, so nothing is raised."""
    global _written
    written, _written = _written, 0
    state = root / STATE
    try:
        known = json.loads(state.read_bytes())
        size, runs = int(known["size"]) + written, int(known["runs"]) + 1
    except (OSError, ValueError, KeyError, TypeError):
        size, runs = None, CHECK_EVERY
    try:
        if size is None or size > limit or runs >= CHECK_EVERY:
            size = measure(root).size
            if size > limit:
                _removed, freed = prune(root, int(limit * PRUNE_TO))
                size -= freed
            runs = 0
        if root.is_dir():
            atomic_write_bytes(state, json.dumps({"size": size, "runs": runs}).encode())
    except OSError:
        pass


def describe(root: Path, limit: int, project: Path | None) -> str:
    """`anthology cache info`: where the cache is, its limit, its size and entries by kind."""
    usage = measure(root) if root.is_dir() else Usage()
    source = f"from {project}" if project else "the default"
    entries = sum(len(e) for e in usage.entries.values())
    lines = [f"cache: {root}" + ("" if root.is_dir() else " (not made yet)"),
             f"limit: {format_size(limit)} ({source}; least recently used entries are removed first)",
             f"total: {format_size(usage.size)} in {entries} entries"]
    for kind in sorted((k for k in usage.entries if usage.entries[k]),
                       key=lambda k: -sum(e.size for e in usage.entries[k])):
        found = usage.entries[kind]
        lines.append(f"  {kind:<16}{format_size(sum(e.size for e in found)):>12}  {len(found)} "
                     + ("entry" if len(found) == 1 else "entries"))
    for name, (files, size) in sorted(usage.kept.items()):
        lines.append(f"  {name:<16}{format_size(size):>12}  {files} files: {KEPT[name]}, not pruned")
    if usage.other:
        lines.append(f"  {usage.other} other files the tool did not write: never removed")
    if usage.stale:
        lines.append(f"  {len(usage.stale)} unfinished entries of ended runs: removed by `anthology cache prune`")
    return "\n".join(lines) + "\n"
