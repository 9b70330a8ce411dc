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
SAMPLE = ROOT / "pipeline" / "kexue_anthology" / "sample"


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


def _kill_when(argv: list[str], ready, tmp_path: Path,
               env: dict[str, str] | None = None) -> tuple[dict[int, str], list[str]]:
    """Start the command, wait until `ready(descendants)`, kill -9 it; the processes it had
    below it then, and their command lines."""
    env = dict(env or os.environ, PYTHONPATH=str(ROOT / "pipeline"), ANTHOLOGY_CACHE=str(tmp_path / "cache"))
    command = subprocess.Popen([sys.executable, "-m", "kexue_anthology", *argv], cwd=tmp_path, env=env,
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
        below.update(_descendants(command.pid))     # /proc's lists of children may miss one now and then
        lines = [_command_line(p) for p in below]
        command.send_signal(signal.SIGKILL)
    finally:
        command.kill()
        command.wait()
    return below, lines


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
    below, lines = _kill_when(["check", str(post), "--timeout", "60"], spinning, tmp_path,
                              env=dict(os.environ, ANTHOLOGY_WORKER_FAULTS="1"))
    assert any("worker.js" in line for line in lines)
    _assert_gone(below)


@needs_proc
@pytest.mark.engine
@pytest.mark.weasyprint
def test_kill_9_of_build_pdf_leaves_no_typesetting_worker(tmp_path):
    posts = tmp_path / "posts"
    posts.mkdir()
    for name in sorted(p.name for p in SAMPLE.glob("*.txt"))[:2]:
        shutil.copy(SAMPLE / name, posts / name)
    below, lines = _kill_when(["build", "pdf", str(posts), "--out", str(tmp_path / "book.pdf"), "--jobs", "2", "-q"],
                              lambda below: sum("spawn_main" in _command_line(p) for p in below) >= 2, tmp_path)
    assert sum("spawn_main" in line for line in lines) >= 2
    _assert_gone(below)


@needs_proc
@pytest.mark.pandoc
def test_kill_9_while_pandoc_runs_leaves_no_pandoc(tmp_path):
    # pandoc running a filter that never ends (until its processor-time limit): only its tie to
    # the command ends it at once
    spin = tmp_path / "never.lua"
    spin.write_text("while true do end\n")
    code = f"from kexue_anthology.documents import pandoc; pandoc.run(['--lua-filter', {str(spin)!r}, '--from=markdown'], 'x')"
    command = subprocess.Popen([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(ROOT / "pipeline")),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            below = _descendants(command.pid)
            if any("never.lua" in _command_line(p) for p in below):
                break
            assert command.poll() is None and time.monotonic() < deadline, "pandoc was not seen running"
            time.sleep(0.05)
        command.send_signal(signal.SIGKILL)
    finally:
        command.kill()
        command.wait()
    _assert_gone(below)



def test_a_brief_program_is_tied_through_setpriv_where_it_is_installed():
    # the pandoc of the test above is started this way: its death with the command is checked there
    from kexue_anthology.core import lifeline
    argv = lifeline.tied(["true", "x"], brief=True)
    if shutil.which("setpriv") is None:
        pytest.skip("no setpriv here (util-linux): the Python launcher is used, tested above")
    assert Path(argv[0]).name == "setpriv" and argv[-2:] == [shutil.which("true"), "x"]
    assert subprocess.run(argv, check=False).returncode == 0
    assert lifeline.tied(["true"])[0] == sys.executable       # long-lived workers keep the checking launcher

# --- the cache's limit ---------------------------------------------------------------------

from kexue_anthology.core.cache import BlobCache, Cache, key  # noqa: E402
from kexue_anthology.core.cachelimit import parse_size  # noqa: E402

from tests.helpers import run_cli  # noqa: E402

DAY = 86400.0


def _fill(root: Path, count: int, size: int = 1000, kind: str = "renders") -> list[Path]:
    """`count` entries of about `size` bytes, the first the least recently used."""
    cache = Cache(root, kind)
    paths = []
    for n in range(count):
        k = key(kind, n)
        cache.put(k, "x" * size)
        path = root / kind / k[:2] / f"{k}.json"
        os.utime(path, (time.time() - (count - n) * DAY,) * 2)
        paths.append(path)
    return paths


def _size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*.json") if p.parent.parent.parent == root)


def test_prune_removes_the_least_recently_used_first_down_to_the_limit(cache_dir):
    paths = _fill(cache_dir, 10)
    first = paths[0]
    assert Cache(cache_dir, "renders").get(first.stem) == "x" * 1000     # a hit: now the most recently used
    each = first.stat().st_size
    status, out, err = run_cli("cache", "prune", "--cache-dir", cache_dir, "--limit", str(4 * each))
    assert status == 0, err
    assert "removed 6 entries" in out
    assert [p.exists() for p in paths] == [True] + [False] * 6 + [True] * 3
    assert _size(cache_dir) <= 4 * each


def test_a_file_the_tool_did_not_write_is_kept(cache_dir):
    entries = _fill(cache_dir, 3)
    BlobCache(cache_dir, "search").put_bytes(key("s"), b"blob")
    h = key("foreign")
    foreign = [cache_dir / "notes.txt", cache_dir / "renders" / "readme.txt",
               cache_dir / "renders" / "ab" / "notes.json",
               cache_dir / "renders" / "ab" / f"cd{h[2:]}.json",               # not in its own folder
               cache_dir / "mine" / h[:2] / f"{h}.txt",
               cache_dir / "templates" / "layout.html",
               cache_dir / "mathjax" / "0123" / "node_modules" / "mathjax" / "package.json",
               cache_dir / "logs" / "anthology-crash-1.log",
               cache_dir / "renders" / h[:2] / f".{h}.json.{os.getpid()}.abc.tmp"]   # being written
    for path in foreign:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("not the cache's", "utf-8")
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = cache_dir / "renders" / h[:2] / f".{h}.json.{int(ended.stdout)}.abc.tmp"
    stale.write_text("half an entry", "utf-8")
    (cache_dir / "elsewhere").mkdir()
    (cache_dir / "renders" / "ef").symlink_to(cache_dir / "elsewhere")
    (cache_dir / "elsewhere" / f"ef{h[2:]}.json").write_text("{}", "utf-8")
    status, out, err = run_cli("cache", "prune", "--all", "--cache-dir", cache_dir)
    assert status == 0, err
    assert "removed 4 entries" in out
    assert all(p.read_text("utf-8") == "not the cache's" for p in foreign)
    assert (cache_dir / "elsewhere" / f"ef{h[2:]}.json").exists()           # not followed through a link
    assert not stale.exists()                                                # its process has ended
    assert not list(cache_dir.rglob("*.bin")) and not any(p.exists() for p in entries)


def test_info_says_where_the_cache_is_and_what_it_holds(cache_dir, tmp_path, monkeypatch):
    _fill(cache_dir, 3)
    _fill(cache_dir, 2, kind="verdicts")
    (cache_dir / "logs").mkdir()
    (cache_dir / "logs" / "a.log").write_text("x" * 10, "utf-8")
    (cache_dir / "notes.txt").write_text("mine", "utf-8")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "anthology.toml").write_text('[cache]\nlimit = "500 MB"\n', "utf-8")
    status, out, err = run_cli("cache", "info", "--cache-dir", cache_dir)
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == f"cache: {cache_dir}"
    assert lines[1].startswith("limit: 476.8 MiB (from ") and "anthology.toml" in lines[1]
    assert lines[2].startswith("total: ") and lines[2].endswith(" in 5 entries")
    assert [line.split()[0] for line in lines[3:5]] == ["renders", "verdicts"]
    assert lines[3].endswith("3 entries") and lines[4].endswith("2 entries")
    assert "logs" in lines[5] and "1 files" in lines[5] and "not pruned" in lines[5]
    assert "1 other files the tool did not write" in lines[6]
    status, out, _ = run_cli("cache", "info", "--cache-dir", tmp_path / "none")
    assert status == 0 and "(not made yet)" in out and "total: 0 B in 0 entries" in out


def _post_folder(tmp_path: Path, project: str | None) -> Path:
    folder = tmp_path / "posts"
    folder.mkdir()
    (folder / "p.md").write_text("---\ntitle: t\nid: '1'\ndate: 2024-01-01\n---\n没有公式的文章。\n", "utf-8")
    if project is not None:
        (folder / "anthology.toml").write_text(project, "utf-8")
    return folder


def test_a_run_prunes_to_the_project_files_limit_and_the_flag_overrides_it(cache_dir, tmp_path):
    paths = _fill(cache_dir, 30)
    each = paths[0].stat().st_size
    folder = _post_folder(tmp_path, f"[cache]\nlimit = {20 * each}\n")
    status, _, err = run_cli("check", folder, "-q", "--cache-dir", cache_dir)
    assert status == 0, err
    assert _size(cache_dir) <= 20 * each
    assert [p.exists() for p in paths][-18:] == [True] * 18 and not paths[0].exists()   # the newest kept
    status, _, err = run_cli("check", folder, "-q", "--cache-dir", cache_dir, "--cache-limit", str(5 * each))
    assert status == 0, err
    assert _size(cache_dir) <= 5 * each and paths[-1].exists()
    before = sorted(cache_dir.rglob("*.json"))
    status, _, err = run_cli("check", folder, "-q", "--cache-dir", cache_dir)      # under the limit: nothing goes
    assert status == 0, err
    assert sorted(cache_dir.rglob("*.json")) == before


def test_a_size_that_cannot_be_read_is_a_clean_usage_error(cache_dir, tmp_path):
    folder = _post_folder(tmp_path, '[cache]\nlimit = "lots"\nsize = 3\n')
    status, _, err = run_cli("check", folder, "-q", "--cache-dir", cache_dir)
    assert status == 2
    assert 'anthology.toml:2:1: error: limit = "lots": "lots" is not a size' in err and "[project-value]" in err
    assert 'unknown key "size" in [cache]' in err and "Traceback" not in err
    for argv in (("check", folder, "--no-project", "--cache-limit", "5 XB"), ("cache", "prune", "--limit", "-1"),
                 ("build", "pdf", folder, "--no-project", "--cache-limit", "9" * 400)):
        status, _, err = run_cli(*argv, "--cache-dir", cache_dir)
        assert (status == 2 and "is not a size" in err) or "too large" in err, err
        assert "Traceback" not in err


def test_sizes():
    assert parse_size("500 MB") == 500_000_000
    assert parse_size("2 GiB") == parse_size("2G") == 2 * 1024 ** 3
    assert parse_size("1.5k") == 1536 and parse_size("4096") == 4096 and parse_size("10kB") == 10_000


def test_the_cache_command_completes():
    status, out, _ = run_cli("completion", "bash")
    assert status == 0 and "cache" in out and "prune" in out and "--cache-limit" in out
