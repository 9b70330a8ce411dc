"""Workers that end with the command (kill -9 included), and a cache kept within its limit."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "pipeline" / "sample"


# --- workers -------------------------------------------------------------------------------

def _children(pid: int) -> list[int]:
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    for task in tasks:
        try:
            found += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
        except OSError:
            continue
    return found


def _descendants(pid: int) -> dict[int, str]:
    """Every process below `pid`: its id and its start time (to tell it from a later one of the same id)."""
    found: dict[int, str] = {}
    todo = _children(pid)
    while todo:
        child = todo.pop()
        started = _started(child)
        if started is not None:
            found[child] = started
            todo += _children(child)
    return found


def _started(pid: int) -> str | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == b"Z" else fields[19].decode()     # a zombie has ended; field 22: start time


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _kill_when(argv: list[str], ready, tmp_path: Path, env: dict[str, str] | None = None) -> dict[int, str]:
    """Start the command, wait until `ready(descendants)`, kill -9 it; the processes it had
    below it then."""
    env = dict(env or os.environ, PYTHONPATH=str(ROOT), ANTHOLOGY_CACHE=str(tmp_path / "cache"))
    command = subprocess.Popen([sys.executable, "-m", "pipeline", *argv], cwd=tmp_path, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            below = _descendants(command.pid)
            if ready(below):
                break
            assert command.poll() is None, "the command ended before its workers were seen"
            assert time.monotonic() < deadline, "no workers seen"
            time.sleep(0.05)
        time.sleep(0.5)
        below = _descendants(command.pid)
        command.send_signal(signal.SIGKILL)
    finally:
        command.kill()
        command.wait()
    return below


def _assert_gone(processes: dict[int, str], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while (left := {p: _command_line(p) for p, t in processes.items() if _started(p) == t}) \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"left behind: {left}"


needs_proc = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads processes from Linux's /proc")


@needs_proc
@pytest.mark.engine
def test_kill_9_of_check_leaves_no_mathjax_worker(tmp_path):
    # the worker is busy on a formula that never returns: closing its input alone would not stop it
    post = tmp_path / "p.md"
    post.write_text("---\ntitle: t\nid: '1'\ndate: 2024-01-01\n---\n前$a$\n\n中$\\anthologyTestHang$\n", "utf-8")
    def spinning(below):       # past its start-up (about a second), busy on the formula
        return any("worker.js" in _command_line(p) and _cpu(p) > 3 for p in below)
    below = _kill_when(["check", str(post), "--timeout", "60"], spinning, tmp_path,
                       env=dict(os.environ, ANTHOLOGY_WORKER_FAULTS="1"))
    assert any("worker.js" in _command_line(p) for p in below)
    _assert_gone(below)


@needs_proc
@pytest.mark.engine
@pytest.mark.weasyprint
def test_kill_9_of_build_pdf_leaves_no_typesetting_worker(tmp_path):
    posts = tmp_path / "posts"
    posts.mkdir()
    for name in sorted(p.name for p in SAMPLE.glob("*.txt"))[:2]:
        shutil.copy(SAMPLE / name, posts / name)
    below = _kill_when(["build", "pdf", str(posts), "--out", str(tmp_path / "book.pdf"), "--jobs", "2", "-q"],
                       lambda below: sum("spawn_main" in _command_line(p) for p in below) >= 2, tmp_path)
    assert sum("multiprocessing" in _command_line(p) for p in below) >= 2
    _assert_gone(below)
