"""`anthology serve` never stops watching without a word, and no request makes it fail: its
content folder replaced (rm -rf and a copy back) or moved away and back, a link to `/`, a link
loop, a FIFO and a folder it cannot read inside it, its watching thread killed; and a list of
hostile request paths, each answered 400, 404, 405 or 414 while the server goes on."""

from __future__ import annotations

import ctypes
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_serve import Process, _ctrl_c_as_in_a_terminal, fetch, poll

pytestmark = pytest.mark.watch          # real-time waits on file system events: not the fast tier

# No formula: nothing to draw, so the builds take a fraction of a second (a warm cache at once).
POST = """---
title: 看守的测试
id: '801'
date: 2024-05-01
---
第一段是原来的文字。
"""


def another(number: str) -> str:
    """A post of another id and title (posts of the same title are taken for one)."""
    return POST.replace("801", number).replace("看守的测试", f"第{number}篇")


def builds(test):
    """The tests that build a site: MathJax and pandoc run."""
    return pytest.mark.engine(pytest.mark.pandoc(test))


class Serve(Process):
    """`anthology serve` in a process of its own, optionally started through `prefix` (setpriv)."""

    def __init__(self, *argv: str, prefix: tuple[str, ...] = ()) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT / "pipeline"))
        env.pop("CI", None)
        self.popen = subprocess.Popen([*prefix, sys.executable, "-m", "kexue_anthology", "serve", *argv], cwd=ROOT,
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                      start_new_session=True, preexec_fn=_ctrl_c_as_in_a_terminal)
        self.out: list[str] = []
        self.err: list[str] = []
        for stream, lines in ((self.popen.stdout, self.out), (self.popen.stderr, self.err)):
            threading.Thread(target=self._read, args=(stream, lines), daemon=True).start()


@pytest.fixture
def posts(tmp_path) -> Path:
    folder = tmp_path / "posts"
    folder.mkdir()
    (folder / "801.md").write_text(POST, encoding="utf-8")
    return folder


def started(server: Serve) -> str:
    url = server.wait_for(r"serving (http://127\.0\.0\.1:\d+/)", server.out, 30).group(1)
    server.wait_for(r"^built 1 post", server.out, 120)
    return url


def edit(posts: Path, text: str) -> None:
    (posts / "801.md").write_text(POST.replace("原来的文字", text), encoding="utf-8")


def stopped(server: Serve) -> None:
    if server.popen.poll() is None:
        server.interrupt()
    assert server.popen.returncode == 0, server.err[-10:]
    assert not any("Traceback" in line for line in server.err + server.out), server.err


@builds
def test_serve_rebuilds_after_its_folder_is_replaced_and_after_it_was_moved_away_and_back(posts, tmp_path):
    backup = tmp_path / "backup"
    server = Serve(str(posts), "--port", "0", "--cache-dir", str(tmp_path / "cache"))
    try:
        url = started(server) + "posts/801.html"
        assert "原来的文字" in fetch(url)

        shutil.copytree(posts, backup)
        edit(backup, "恢复的文字")
        subprocess.run(["sh", "-c", f"rm -rf '{posts}' && cp -a '{backup}' '{posts}'"], check=True)
        poll(url, "恢复的文字", 20)
        server.wait_for(rf"^watch: {posts} (was replaced|is back)", server.err, 10)
        edit(posts, "替换以后改的文字")                 # the new folder is watched
        poll(url, "替换以后改的文字", 20)

        away = tmp_path / "away"
        posts.rename(away)
        server.wait_for(rf"^watch: {posts} is gone", server.err, 10)
        time.sleep(0.5)
        assert "替换以后改的文字" in fetch(url)          # the last good site stays served
        edit(away, "不在的时候改的文字")
        away.rename(posts)
        server.wait_for(rf"^watch: {posts} is back", server.err, 10)
        poll(url, "不在的时候改的文字", 20)
        edit(posts, "回来以后改的文字")
        poll(url, "回来以后改的文字", 20)
    finally:
        stopped(server)


def dropping_root_powers() -> tuple[str, ...]:
    """How to start a process that a folder of mode 000 stops: root reads any folder (its
    CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH), so a root process is started without them."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if not setpriv:
        pytest.skip("running as root, and without setpriv (util-linux) a folder of mode 000 does not stop root")
    return (setpriv, "--bounding-set", "-dac_override,-dac_read_search")


@builds
def test_links_out_link_loops_fifos_and_unreadable_folders_are_named_once_and_the_watch_goes_on(posts, tmp_path):
    (posts / "root").symlink_to("/")
    (posts / "loop").symlink_to("loop")
    (posts / "up").symlink_to("..")                      # a link to the folder above, out of the content folder
    (posts / "self").symlink_to(".")                     # a link back in: its target is watched anyway
    (posts / "sub").mkdir()
    os.mkfifo(posts / "sub" / "pipe.txt")
    locked = posts / "locked"
    locked.mkdir()
    (locked / "900.md").write_text(another("900"), encoding="utf-8")
    locked.chmod(0)
    server = Serve(str(posts), "--port", "0", "--cache-dir", str(tmp_path / "cache"), prefix=dropping_root_powers())
    try:
        url = started(server) + "posts/801.html"
        for name, why in (("root", "a symbolic link out of the content folder"), ("loop", "a symbolic link that loops"),
                          ("up", "a symbolic link out of the content folder"), ("locked", "cannot be read")):
            server.wait_for(rf"^watch: {posts / name} (is )?{why}", server.err, 10)
        for round in range(3):
            edit(posts, f"第{round}次改的文字")
            poll(url, f"第{round}次改的文字", 20)
        (posts / "sub" / "802.md").write_text(another("802"), encoding="utf-8")   # a folder below
        poll(url.replace("801", "802"), "原来的文字", 20)
        subprocess.run(["sh", "-c", f"rm -rf '{posts / 'sub'}' && mkdir '{posts / 'sub'}'"], check=True)
        (posts / "sub" / "803.md").write_text(another("803"), encoding="utf-8")
        poll(url.replace("801", "803"), "原来的文字", 20)
    finally:
        locked.chmod(0o755)
        stopped(server)
    watch_lines = [line for line in server.err if line.startswith("watch:")]
    assert len(watch_lines) == 4, watch_lines                         # each named once, nothing else said
    assert not any(str(posts / "self") in line for line in watch_lines)


def next_within(watcher, seconds: float = 10) -> set[str]:
    """`watcher.next()`, which waits as long as it takes, given `seconds` (a test must not hang)."""
    got: list[set[str]] = []
    waiting = threading.Thread(target=lambda: got.append(watcher.next()), daemon=True)
    waiting.start()
    waiting.join(seconds)
    assert got, f"no change within {seconds} s"
    return got[0]


def kill_thread(thread: threading.Thread, exception: type[BaseException]) -> None:
    """Raise `exception` inside `thread` (at its next Python instruction), as a fault would."""
    done = ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(exception))
    assert done == 1


@pytest.mark.parametrize("fault", [RuntimeError, SystemExit])
def test_a_failed_or_ended_watch_is_said_and_watching_goes_on(fault, posts):
    """An exception inside the watching thread is said and the watch starts again; a thread that
    ended (SystemExit ends it) is noticed, said and started again.  Either way a build follows."""
    from kexue_anthology.cli.serve import Watcher

    said: list[str] = []
    watcher = Watcher([str(posts)], ignore=[], say=said.append)
    watcher.start()
    try:
        time.sleep(0.5)
        first = watcher.thread
        kill_thread(first, fault)
        assert next_within(watcher) == {str(posts)}                     # what changed meanwhile is not known
        assert len(said) == 1 and said[0].startswith("watch: the watch of the sources ")
        assert said[0].endswith("; watching again")
        assert ("failed (RuntimeError" in said[0]) if fault is RuntimeError else ("ended" in said[0])
        time.sleep(1.0)
        edit(posts, "之后改的文字")
        assert str(posts / "801.md") in next_within(watcher)
        assert watcher.thread.is_alive()
    finally:
        watcher.close()
    assert not watcher.thread.is_alive()


@pytest.mark.parametrize("polling", [False, True])
def test_the_watch_follows_its_folder_replaced_moved_away_and_back(polling, tmp_path, posts):
    """The watch alone, with the system's notifications and by looking: each change after the
    folder was replaced or came back is seen, and each event is said once."""
    from kexue_anthology.cli.serve import Watcher

    said: list[str] = []
    watcher = Watcher([str(posts)], ignore=[], say=said.append)
    watcher.polling = polling
    watcher.start()

    def seen(wanted: str) -> None:
        deadline = time.monotonic() + 10
        changed: set[str] = set()
        while wanted not in changed:
            assert time.monotonic() < deadline, f"{wanted} not seen; {changed}; {said}"
            changed |= next_within(watcher, deadline - time.monotonic())

    try:
        time.sleep(0.8)
        backup = tmp_path / "backup"
        shutil.copytree(posts, backup)
        edit(backup, "备份里的")
        subprocess.run(["sh", "-c", f"rm -rf '{posts}' && cp -a '{backup}' '{posts}'"], check=True)
        seen(str(posts / "801.md"))
        time.sleep(1.2)
        edit(posts, "改")
        seen(str(posts / "801.md"))
        posts.rename(tmp_path / "away")
        seen(str(posts))
        edit(tmp_path / "away", "不在的时候改")
        (tmp_path / "away").rename(posts)
        seen(str(posts / "801.md"))
        time.sleep(1.2)
        (posts / "new").mkdir()
        (posts / "new" / "802.md").write_text(POST, encoding="utf-8")
        seen(str(posts / "new" / "802.md"))
        time.sleep(1.2)
        (posts / "new" / "802.md").write_text(POST + "改\n", encoding="utf-8")
        seen(str(posts / "new" / "802.md"))
    finally:
        watcher.close()
    if not polling:          # looking, a folder made again with the number of the one removed is the same to it
        assert said[0] in (f"watch: {posts} was replaced; watching the new one",
                           f"watch: {posts} is gone (moved or deleted); the last good site stays served, "
                           "and it is built again when it is back")
    assert said[-2].startswith(f"watch: {posts} is gone") and said[-1] == f"watch: {posts} is back; building again"
    assert not any("failed" in line for line in said), said


# Each hostile request line (the Host header is added) and the answers it may get.
HOSTILE = [
    (b"GET /x%00.html HTTP/1.1", {400}),                       # NUL, escaped
    (b"GET /x\x00.html HTTP/1.1", {400}),                      # NUL, raw
    (b"GET /%ed%a0%80.html HTTP/1.1", {400}),                  # a UTF-16 surrogate: not UTF-8
    (b"GET /%ff%fe.html HTTP/1.1", {400}),                     # not UTF-8
    (b"GET /posts%00/ HTTP/1.1", {400}),                       # NUL in a folder's name
    (b"GET /%0d%0aSet-Cookie:%20x=1 HTTP/1.1", {400}),         # a header smuggled into the path
    (b"GET /" + b"a" * 5000 + b".html HTTP/1.1", {404}),        # a name longer than any file's
    (b"GET /" + b"a/" * 40_000 + b" HTTP/1.1", {414}),          # longer than any request line may be
    (b"GET /../../../../etc/passwd HTTP/1.1", {400}),
    (b"GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1", {400}),
    (b"GET /posts/..%2f..%2f..%2fetc/passwd HTTP/1.1", {400}),
    (b"GET /..\\..\\etc\\passwd HTTP/1.1", {400}),              # backslashes
    (b"GET /posts%5c801.html HTTP/1.1", {400}),
    (b"GET /etc/passwd HTTP/1.1", {404}),                      # absolute, but within the site
    (b"GET //etc/passwd HTTP/1.1", {400, 404}),
    (b"GET //[/x HTTP/1.1", {400, 404}),                       # no host name either
    (b"GET http://127.0.0.1/index.html HTTP/1.1", {400}),      # absolute-form
    (b"GET file:///etc/passwd HTTP/1.1", {400}),
    (b"GET * HTTP/1.1", {400}),
    (b"GET /\xff\xfe.html HTTP/1.1", {404}),                   # raw bytes that are no escape
    (b"HEAD /x%00.html HTTP/1.1", {400}),
    (b"POST /index.html HTTP/1.1", {405}),
    (b"DELETE /posts/801.html HTTP/1.1", {405}),
    (b"OPTIONS * HTTP/1.1", {405}),
    (b"BREW /pot HTTP/1.1", {405}),
    (b"G\x00T / HTTP/1.1", {400}),                             # not a method at all
    (b"GET / HTTP/1.1\r\nHost: [", {403}),                     # a Host that is no host
]


def ask(port: int, request: bytes) -> bytes:
    """The status line the server answers a raw request with ('' when it dropped the connection)."""
    host = b"" if b"\r\nHost:" in request else b"\r\nHost: 127.0.0.1"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request + host + b"\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer.split(b"\r\n", 1)[0]


def test_hostile_request_paths_are_answered_and_the_server_goes_on(tmp_path, capfd):
    from functools import partial

    from kexue_anthology.cli.serve import Handler, Live, Server

    site = tmp_path / "site"
    (site / "posts").mkdir(parents=True)
    (site / "index.html").write_text("<html><body>目录</body></html>", encoding="utf-8")
    (site / "posts" / "801.html").write_text("<html><body>第一篇</body></html>", encoding="utf-8")
    said: list[str] = []
    live = Live(site, said.append)
    live.publish((), None)
    server = Server(("127.0.0.1", 0), partial(Handler, live=live))
    server.say = said.append
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    answers = {}
    try:
        for request, expected in HOSTILE:
            status = ask(port, request)
            answers[request[:40]] = status
            assert status.startswith(b"HTTP/1.0 ") and int(status.split()[1]) in expected, (request[:80], status)
            assert "第一篇" in fetch(f"http://127.0.0.1:{port}/posts/801.html")    # and it goes on
        assert "目录" in fetch(f"http://127.0.0.1:{port}/")
    finally:
        live.close()
        server.shutdown()
        server.server_close()
    assert len(answers) == len(HOSTILE) >= 10
    assert not said, said
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err + captured.out and "Exception" not in captured.err
