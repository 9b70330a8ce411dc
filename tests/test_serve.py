"""`anthology serve`, run as the author runs it: a process serving a folder of posts, edited
while it runs, stopped with Ctrl-C (SIGINT to its process group, as a terminal sends it); and
Ctrl-C while MathJax draws a cold cache, which must stop a run within seconds."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT


def builds(test):
    """The tests that build a site: MathJax and pandoc run."""
    return pytest.mark.engine(pytest.mark.pandoc(test))

POST = """---
title: 预览的测试
id: '801'
date: 2024-05-01
---
第一段说明了$E=mc^2$这件事。

$$\\int_0^1 x\\,dx = \\frac{1}{2}$$
"""


def _ctrl_c_as_in_a_terminal() -> None:
    """A command started from a terminal gets Ctrl-C; one under a shell's background job (a CI
    runner may start the suite so) inherits SIGINT ignored, and Python then never raises
    KeyboardInterrupt.  The tests send the signal a terminal would, so the child takes it as one."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Process:
    """The command in a process group of its own, its output read line by line as it comes."""

    def __init__(self, *argv: str) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.pop("CI", None)
        self.popen = subprocess.Popen([sys.executable, "-m", "kexue_anthology", *argv], cwd=ROOT, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                      start_new_session=True, preexec_fn=_ctrl_c_as_in_a_terminal)
        self.out: list[str] = []
        self.err: list[str] = []
        for stream, lines in ((self.popen.stdout, self.out), (self.popen.stderr, self.err)):
            threading.Thread(target=self._read, args=(stream, lines), daemon=True).start()

    @staticmethod
    def _read(stream, lines: list[str]) -> None:
        for line in stream:
            lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, lines: list[str], timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(lines):
                if m := re.search(pattern, line):
                    return m
            if self.popen.poll() is not None:
                time.sleep(0.2)          # what it wrote before it ended
                break
            time.sleep(0.05)
        found = [m for line in list(lines) if (m := re.search(pattern, line))]
        assert found, f"no {pattern!r} within {timeout} s; stdout: {self.out}; stderr: {self.err[-20:]}"
        return found[0]

    def interrupt(self) -> float:
        """Ctrl-C, as a terminal sends it (to the whole group: the Node workers too); the
        seconds until the command ended."""
        started = time.monotonic()
        os.killpg(self.popen.pid, signal.SIGINT)
        try:
            self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"still running 30 s after Ctrl-C; stderr: {self.err[-10:]}")
        time.sleep(0.2)          # the readers take the last lines
        return time.monotonic() - started

    def kill(self) -> None:
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait()

    def group_gone(self) -> bool:
        """No process of its group is left (no Node worker orphaned)."""
        for _ in range(20):
            try:
                os.killpg(self.popen.pid, 0)
            except ProcessLookupError:
                return True
            time.sleep(0.1)
        return False


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode("utf-8")


def poll(url: str, wanted: str, timeout: float) -> tuple[str, float]:
    """The page once it contains `wanted`, and the seconds that took."""
    started = time.monotonic()
    page = ""
    while time.monotonic() - started < timeout:
        try:
            page = fetch(url)
        except OSError:
            page = ""
        if wanted in page:
            return page, time.monotonic() - started
        time.sleep(0.1)
    pytest.fail(f"{url} did not show {wanted!r} within {timeout} s; last page: {page[:300]}")


def events(url: str, since: int, timeout: float) -> list[str]:
    """The event stream's lines up to its first reload (or `timeout`)."""
    lines: list[str] = []
    with urllib.request.urlopen(f"{url}__anthology/events?since={since}", timeout=timeout) as response:
        assert response.headers["Content-Type"] == "text/event-stream"
        for raw in response:
            lines.append(raw.decode().rstrip("\n"))
            if lines[-1].startswith("data:"):
                break
    return lines


@pytest.fixture
def posts(tmp_path) -> Path:
    folder = tmp_path / "posts"
    folder.mkdir()
    (folder / "801.md").write_text(POST, encoding="utf-8")
    (folder / "802.md").write_text(POST.replace("801", "802").replace("预览的", "另一篇"), encoding="utf-8")
    return folder


@builds
def test_serve_rebuilds_reloads_shows_problems_and_stops_cleanly(posts, tmp_path):
    server = Process("serve", str(posts), "--port", "0", "--cache-dir", str(tmp_path / "cache"))
    try:
        m = server.wait_for(r"serving (http://127\.0\.0\.1:\d+/) from (\S+)", server.out, 30)
        url, site = m.group(1), Path(m.group(2))
        server.wait_for(r"^built 2 posts", server.out, 180)
        page = fetch(url + "posts/801.html")
        assert "第一段说明了" in page and "__anthology/events?since=1" in page and "<script>" in page
        assert "anthology-serve" not in page               # no problems: no banner
        assert fetch(url).count("<script>") == 1
        with pytest.raises(urllib.error.HTTPError, match="403"):        # a page of another site (DNS rebinding)
            urllib.request.urlopen(urllib.request.Request(url, headers={"Host": "drafts.example:80"}), timeout=10)
        on_disk = (site / "posts" / "801.html").read_text(encoding="utf-8")
        assert "<script" not in on_disk and "第一段说明了" in on_disk

        # the stream of a page of build 1 stays quiet until a newer build is done
        reloads: list[list[str]] = []
        listener = threading.Thread(target=lambda: reloads.append(events(url, 1, 60)), daemon=True)
        listener.start()
        time.sleep(0.5)
        assert not reloads

        source = posts / "801.md"
        source.write_text(POST.replace("第一段说明了", "改过的第一段说明了"), encoding="utf-8")
        page, seconds = poll(url + "posts/801.html", "改过的第一段", 20)
        assert seconds < 10
        listener.join(10)
        assert reloads and "event: reload" in reloads[0] and "data: 2" in reloads[0]
        # a page of an older build reloads at once
        assert "event: reload" in events(url, 0, 10)

        # a formula error: in the terminal as `check` prints it, and on every page in a banner, escaped
        source.write_text(POST.replace("$E=mc^2$", "$\\frac{<b>E$"), encoding="utf-8")
        page, _ = poll(url + "posts/801.html", "anthology-serve", 30)
        line = server.wait_for(r"801\.md:6:\d+: error: .* \[braces\]", server.err, 10).group(0)
        assert "1 error" in page and "801.md:6:" in page and "\\frac{&lt;b&gt;E" in page
        assert "<b>E" not in page
        assert "anthology-serve" in fetch(url + "index.html")
        assert "anthology-serve" not in (site / "posts" / "801.html").read_text(encoding="utf-8")
        assert line

        # fixed again: the banner goes
        source.write_text(POST, encoding="utf-8")
        poll(url + "posts/801.html", "第一段说明了", 30)
        deadline = time.monotonic() + 20
        while "anthology-serve" in fetch(url + "posts/801.html") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "anthology-serve" not in fetch(url + "posts/801.html")

        assert site.is_dir()
        seconds = server.interrupt()
    finally:
        if server.popen.poll() is None:
            server.kill()
    assert server.popen.returncode == 0, server.err[-10:]
    assert seconds < 5
    assert not site.exists() and not site.parent.exists()
    assert server.group_gone()
    assert not any("Traceback" in line for line in server.err + server.out), server.err
    assert server.out[-1].startswith("stopped")


@builds
def test_serve_refuses_a_port_in_use(posts, tmp_path):
    import socket
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run([sys.executable, "-m", "kexue_anthology", "serve", str(posts), "--port", str(port)],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert f"--port {port}" in run.stderr and "Traceback" not in run.stderr


def many_formulas(folder: Path, count: int = 3000) -> None:
    """A post with `count` distinct formulas: half a minute of drawing or more on a cold cache."""
    folder.mkdir()
    rows = "\n\n".join(f"第{i}式$$\\sum_{{k=1}}^{{{i}}} \\frac{{x_k^{{{i}}}}}{{k+{i}}} = y_{{{i}}}$$" for i in range(count))
    (folder / "700.md").write_text(f"---\ntitle: 很多公式\nid: '700'\ndate: 2024-01-01\n---\n{rows}\n",
                                   encoding="utf-8")


@builds
@pytest.mark.parametrize("command", ["build", "serve"])
def test_ctrl_c_while_drawing_stops_within_seconds(command, tmp_path):
    many_formulas(tmp_path / "posts")
    argv = (["build", "html", "--out", str(tmp_path / "site")] if command == "build"
            else ["serve", "--port", "0"])
    run = Process(*argv, str(tmp_path / "posts"), "--cache-dir", str(tmp_path / "cache"))
    try:
        run.wait_for(r"^number:", run.err, 240)           # the render stage is next
        time.sleep(2.0)                                     # the workers have started and are drawing
        seconds = run.interrupt()
    finally:
        if run.popen.poll() is None:
            run.kill()
    assert any(line.startswith("render: stopped") for line in run.err), run.err
    assert seconds < 10, f"{seconds:.1f} s from Ctrl-C to exit"           # 0.2 s on an idle machine
    assert run.popen.returncode == (130 if command == "build" else 0)
    assert run.group_gone()
    assert not any("Traceback" in line for line in run.err), run.err
    assert not (tmp_path / "site").exists()


@builds
def test_a_failing_rebuild_is_one_line_and_keeps_the_last_good_site(posts, tmp_path):
    """A fault of the tool while serving (here the engine's factory raises) is one line in the
    terminal and a banner on the pages; the site of the last good build stays as it was."""
    import io

    from kexue_anthology.cli.serve import Live, Site, _build, inject
    from kexue_anthology.engine.client import Worker
    from kexue_anthology.engine.options import EngineOptions

    engine = EngineOptions(cache_dir=tmp_path / "cache")
    live = Live(tmp_path / "site")
    out, err = io.StringIO(), io.StringIO()
    _build(Site(paths=[str(posts)], engine=engine), live, out, err, lambda: "LOG", first=True)
    good = (live.root / "posts" / "801.html").read_bytes()
    assert live.outcome.failure is None and out.getvalue().startswith("built 2 posts")

    def broken() -> Worker:
        raise RuntimeError("the engine broke")

    (posts / "801.md").write_text(POST.replace("E=mc^2", "E=mc^3"), encoding="utf-8")
    engine.worker_factory = broken                     # a new formula must go to the engine
    err = io.StringIO()
    _build(Site(paths=[str(posts)], engine=engine), live, out, err, lambda: "LOG", first=False)
    lines = err.getvalue().splitlines()
    assert len(lines) == 1 and "internal error while building: RuntimeError: the engine broke" in lines[0]
    assert "LOG" in lines[0] and "last good site" in lines[0]
    assert (live.root / "posts" / "801.html").read_bytes() == good
    assert live.outcome.generation == 2 and live.outcome.failure
    assert "the build failed; this is the last good site" in inject(good, live.outcome).decode()


@pytest.mark.watch
@pytest.mark.parametrize("how", ["watchfiles", "polling"])
def test_the_watcher_sees_saves_in_place_and_by_rename_and_skips_the_cache(how, tmp_path):
    from kexue_anthology.cli import serve

    folder = tmp_path / "posts"
    cache = folder / "cache"
    cache.mkdir(parents=True)
    post = folder / "801.md"
    post.write_text(POST, encoding="utf-8")
    stop = threading.Event()
    batches = serve.watch([str(folder)], ignore=[cache], stop=stop, polling=how == "polling")
    seen: list[set[str]] = []
    reader = threading.Thread(target=lambda: seen.extend(batches), daemon=True)
    reader.start()
    try:
        time.sleep(0.8)
        (cache / "entry.json").write_text("{}", encoding="utf-8")        # not a source
        time.sleep(1.2)
        post.write_text(POST + "\n改\n", encoding="utf-8")              # saved in place
        deadline = time.monotonic() + 10
        while not seen and time.monotonic() < deadline:
            time.sleep(0.05)
        assert seen and all(Path(n).name == "801.md" for n in set().union(*seen)), seen
        seen.clear()
        (folder / ".801.md.swp").write_text(POST + "\n再改\n", encoding="utf-8")
        os.replace(folder / ".801.md.swp", post)                           # saved by rename, as editors do
        deadline = time.monotonic() + 10
        while not any(str(post) in batch for batch in seen) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any(str(post) in batch for batch in seen), seen
    finally:
        stop.set()
        reader.join(5)
    assert not reader.is_alive()


class DevTools:
    """Headless Chromium driven over its DevTools protocol: a minimal WebSocket client (text
    frames only), enough to open a page and evaluate expressions in it."""

    def __init__(self, binary: str, profile: Path) -> None:
        self.proc = subprocess.Popen([binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                      "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)
        port = next(int(m.group(1)) for line in self.proc.stderr
                    if (m := re.search(r"ws://127\.0\.0\.1:(\d+)/", line)))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=10) as response:
            page = next(p for p in json.load(response) if p["type"] == "page")
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        path = page["webSocketDebuggerUrl"].split(f":{port}", 1)[1]
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                          f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        assert b" 101 " in head.split(b"\r\n")[0], head
        self.calls = 0

    def _exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            assert chunk, "the browser closed the connection"
            data += chunk
        return data

    def call(self, method: str, **params: object) -> dict:
        self.calls += 1
        data = json.dumps({"id": self.calls, "method": method, "params": params}).encode()
        mask = os.urandom(4)
        size = bytes([0x80 | len(data)]) if len(data) < 126 else bytes([0xFE]) + struct.pack(">H", len(data))
        self.sock.sendall(b"\x81" + size + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))
        while True:
            n = self._exact(2)[1] & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._exact(8))[0]
            message = json.loads(self._exact(n))
            if message.get("id") == self.calls:
                return message.get("result", {})

    def evaluate(self, expression: str) -> object:
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def close(self) -> None:
        self.sock.close()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()


@builds
@pytest.mark.browser
def test_the_open_page_reloads_in_a_browser_and_shows_the_banner(posts, tmp_path):
    from tests.test_html import chromium
    binary = chromium()
    server = Process("serve", str(posts), "--port", "0", "--cache-dir", str(tmp_path / "cache"))
    browser = None
    try:
        url = server.wait_for(r"serving (http://\S+)", server.out, 30).group(1)
        server.wait_for(r"^built", server.out, 180)
        browser = DevTools(binary, tmp_path / "profile")
        browser.call("Page.navigate", url=url + "posts/801.html")
        deadline = time.monotonic() + 20
        while not browser.evaluate("document.body && document.body.innerText.includes('第一段说明了')"):
            assert time.monotonic() < deadline, "the page did not load"
            time.sleep(0.1)
        browser.evaluate("window.notReloaded = true")
        (posts / "801.md").write_text(POST.replace("第一段", "浏览器里改过的第一段"), encoding="utf-8")
        deadline = time.monotonic() + 15
        while not browser.evaluate("!!document.body && document.body.innerText.includes('浏览器里改过的')"):
            assert time.monotonic() < deadline, "the open page did not show the edit"
            time.sleep(0.1)
        assert browser.evaluate("window.notReloaded === undefined")       # reloaded by the script, as a whole
        (posts / "801.md").write_text(POST.replace("$E=mc^2$", "$\\frac{E$"), encoding="utf-8")
        deadline = time.monotonic() + 30
        while not browser.evaluate("!!document.getElementById('anthology-serve')"):
            assert time.monotonic() < deadline, "no banner"
            time.sleep(0.1)
        text = browser.evaluate("document.getElementById('anthology-serve').innerText")
        assert "1 error" in text and "801.md:6:" in text and "[braces]" in text
    finally:
        if browser:
            browser.close()
        if server.popen.poll() is None:
            server.interrupt()
    assert server.popen.returncode == 0
