"""Atomic writes: build in a temporary file or directory beside the target, then rename it
into place; on failure the temporary is removed and the target left as it was.

Temporaries carry the writing process's id (`.NAME.PID.xxxx.tmp`, `anthology-PID-…` in the
system's temporary folder), so that what a killed run left behind is recognised as ours and
removed by the next run, while those of a run still going are left alone."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _umask() -> int:
    """The process's umask, read where Linux shows it; elsewhere set and set back (the only
    way to read it there), at the moment a mode is needed, never at import."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# What open() and mkdir() would give; mkstemp's files and mkdtemp's directories are private.
def file_mode() -> int:
    return 0o666 & ~_umask()


def dir_mode() -> int:
    return 0o777 & ~_umask()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:            # someone else's process: alive
        return True
    return True


def remove_stale(directory: Path, prefix: str) -> None:
    """Remove temporaries named `PREFIX<pid>.….tmp|.old` whose process is gone (a killed run)."""
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.[^/]*\.(?:tmp|old)$")
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        m = pattern.match(name)
        if m and int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))):
            target = Path(directory) / name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target, ignore_errors=True)
            else:
                target.unlink(missing_ok=True)


def _prefix(path: Path) -> str:
    """What every temporary of `path` is named with; `_mine` adds this process's id."""
    return f".{path.name}."


def _mine(path: Path) -> str:
    return f"{_prefix(path)}{os.getpid()}."


@contextmanager
def scratch_dir(kind: str) -> Iterator[Path]:
    """A private working folder in the system's temporary folder, removed afterwards (and by
    the next run, when this one is killed)."""
    base = Path(tempfile.gettempdir())
    remove_stale(base, "anthology-")
    with tempfile.TemporaryDirectory(prefix=f"anthology-{os.getpid()}.{kind}-", suffix=".tmp") as tmp:
        yield Path(tmp)


@contextmanager
def atomic_file(path: Path, clean: bool = True) -> Iterator[Path]:
    """A temporary file beside `path` for the caller (or a program it runs) to write; renamed
    to `path` when the block succeeds.  `clean`: first remove what killed runs left beside it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if clean:
        remove_stale(path.parent, _prefix(path))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_mine(path), suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_dir(path: Path) -> Iterator[Path]:
    """A fresh directory beside `path`; when the block succeeds it replaces `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path.parent, _prefix(path))
    work = Path(tempfile.mkdtemp(dir=path.parent, prefix=_mine(path), suffix=".tmp"))
    try:
        yield work
        os.chmod(work, dir_mode())
        old = None
        if path.exists():
            old = Path(tempfile.mkdtemp(dir=path.parent, prefix=_mine(path), suffix=".old"))
            os.replace(path, old / "x")
        os.replace(work, path)
        if old:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def atomic_write_bytes(path: Path, data: bytes, clean: bool = True) -> None:
    with atomic_file(path, clean) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: Path, text: str, clean: bool = True) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), clean)
