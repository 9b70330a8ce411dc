"""Atomic writes: build in a temporary file or directory beside the target, then rename it
into place; on failure the temporary is removed and the target left as it was.

Temporaries carry the writing process's id (`.NAME.PID.xxxx.tmp`, `anthology-PID-…` in the
system's temporary folder), so that what a killed run left behind is recognised as ours and
removed by the next run, while those of a run still going are left alone.

A folder is replaced whole: the new one is made beside it and the two are exchanged in one
step (Linux's renameat2 with RENAME_EXCHANGE), so that whenever the process dies the path holds
the whole old folder or the whole new one.  Ctrl-C is held back while a replacement is made,
and `committed` names what was replaced, so that an interrupted command can tell the truth.
`output_lock` keeps two builds from writing one output at once; `write_if_changed` leaves a file that
holds the bytes already as it is."""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import re
import shutil
import signal
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

# What this process has put in place so far (atomic_file, atomic_dir): an interrupted command
# names it instead of saying that nothing was written.  The command clears it when it starts.
committed: list[Path] = []


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
        with held_interrupts():
            os.replace(tmp, path)
            committed.append(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_dir(path: Path) -> Iterator[Path]:
    """A fresh directory beside `path`; when the block succeeds it replaces `path` (whatever
    is there: a folder, or a symbolic link, which is replaced, not followed) in one step."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path.parent, _prefix(path))
    work = Path(tempfile.mkdtemp(dir=path.parent, prefix=_mine(path), suffix=".tmp"))
    try:
        yield work
        os.chmod(work, dir_mode())
    except BaseException:
        _remove(work)
        raise
    old = None
    try:
        with held_interrupts():
            try:
                old = _replace_dir(work, path)
            except BaseException:
                _remove(work)
                raise
            committed.append(path)
    finally:
        if old is not None:
            _remove(old)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _replace_dir(work: Path, path: Path) -> Path | None:
    """Put `work` at `path`; where the old one went (a temporary to remove), None if there was none."""
    if not os.path.lexists(path):
        os.rename(work, path)
        return None
    if exchange(work, path):
        return work                    # `work`'s name holds the old folder now, a temporary of ours
    # No exchange here: two renames, with a moment between them when `path` is missing.
    old = Path(tempfile.mkdtemp(dir=path.parent, prefix=_mine(path), suffix=".old"))
    os.replace(path, old / "x")
    os.replace(work, path)
    return old


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def exchange(a: Path, b: Path) -> bool:
    """Swap the paths `a` and `b` atomically (renameat2, Linux 3.15+, glibc 2.28+); False
    where that is not available (another system, an old C library, a file system without it)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


@contextmanager
def held_interrupts() -> Iterator[None]:
    """Ctrl-C (SIGINT) during the block takes effect when it ends: what the block puts in
    place is put there whole, and recorded, before the command is interrupted."""
    if threading.current_thread() is not threading.main_thread() or _holding:
        yield
        return
    caught: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    before = signal.signal(signal.SIGINT, hold)
    _holding.append(True)
    try:
        yield
    finally:
        _holding.pop()
        signal.signal(signal.SIGINT, before)
    if caught and callable(before):
        before(signal.SIGINT, None)
    elif caught and before == signal.SIG_DFL:
        os.kill(os.getpid(), signal.SIGINT)


_holding: list[bool] = []


class LockTimeout(Exception):
    """Another build held an output's lock for longer than we wait."""


@contextmanager
def output_lock(path: Path, waiting: Callable[[], None], timeout: float) -> Iterator[None]:
    """Hold `.NAME.lock` beside `path` (flock; the kernel lets go of it when the process
    dies).  When another process holds it, `waiting()` is called once and the lock is waited
    for up to `timeout` seconds (then LockTimeout).  Once held, the temporaries of killed runs
    beside `path` are removed.  Folders made for the lock and left empty are removed again."""
    path = Path(os.path.realpath(path))            # a link named as the output: what it names is written
    made = [folder for folder in (path.parent, *path.parent.parents) if not folder.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = path.parent / f".{path.name}.lock"
    fd = _take(lock, waiting, timeout)
    try:
        remove_stale(path.parent, _prefix(path))     # what a killed build of `path` left, even if none is written
        yield
    finally:
        lock.unlink(missing_ok=True)   # before letting go: one waiting on this file then takes a new one
        os.close(fd)
        for folder in made:
            try:
                folder.rmdir()
            except OSError:
                break


def _take(lock: Path, waiting: Callable[[], None], timeout: float) -> int:
    deadline = None
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, file_mode())
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if deadline is None:
                waiting()
                deadline = time.monotonic() + timeout
            elif time.monotonic() > deadline:
                raise LockTimeout(str(lock)) from None
            time.sleep(0.1)
            continue
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.stat(lock, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)                   # the holder removed this one as it let go: take the new one


def atomic_write_bytes(path: Path, data: bytes, clean: bool = True) -> None:
    with atomic_file(path, clean) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: Path, text: str, clean: bool = True) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), clean)


def holds(path: Path, data: bytes, follow_links: bool = True) -> bool:
    """Whether `path` is a regular file of exactly these bytes (a link is not followed unless
    `follow_links`); never blocks on a FIFO."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | (0 if follow_links else os.O_NOFOLLOW))
    except OSError:
        return False
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size != len(data):
            return False
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(len(data) + 1) == data
    except OSError:
        return False
    finally:
        os.close(fd)


def write_if_changed(path: Path, data: bytes) -> bool:
    """`data` written to `path` (atomically) unless the file holds these bytes already: an
    unchanged output keeps its inode and time.  Whether it was written."""
    if holds(path, data):
        return False
    atomic_write_bytes(path, data)
    return True
