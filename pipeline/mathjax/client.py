"""The Python side of the MathJax worker: start it, stream formulas through it, restart it.

Requests are written by one thread and answers read by another, so the worker never waits
for Python.  Every answer must come within `timeout` seconds of the previous one; a formula
that hangs the worker or kills it is answered with an error, the worker is restarted, the
formulas of its post that came before are replayed (quietly, to rebuild the page's state),
and the rest go on.
"""

from __future__ import annotations

import hashlib
import json
import queue
import shutil
import subprocess
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

HERE = Path(__file__).resolve().parent
WORKER = HERE / "worker.js"
ENGINE_FILES = ("worker.js", "blog-ext.js", "package-lock.json")


class EngineUnavailable(RuntimeError):
    """Node.js or the worker's npm packages are missing: a setup problem, not bad input."""


@dataclass
class Request:
    post: Optional[str]
    tex: str
    display: bool
    render: bool = False      # answer with the formula drawn (SVG, MathML, tag rows)
    quiet: bool = False       # only for its effect on the post's state: no answer


def node_program() -> str:
    node = shutil.which("node") or shutil.which("nodejs")
    if not node:
        raise EngineUnavailable("Node.js is not installed: install it (Debian: apt-get install nodejs npm), "
                                "then run `make setup`")
    if not (HERE / "node_modules" / "mathjax-node").is_dir():
        raise EngineUnavailable(f"MathJax is not installed in {HERE / 'node_modules'}: run `make setup` "
                                f"(or `npm ci --prefix {HERE}`)")
    return node


def fingerprint() -> str:
    """What decides a verdict besides the formulas: engine versions, worker code, configuration.
    Known without starting Node, so that a fully cached run never starts it."""
    h = hashlib.sha256()
    for name in ENGINE_FILES:
        path = HERE / name
        h.update(name.encode() + b"\0" + (path.read_bytes() if path.exists() else b"") + b"\0")
    for package in ("mathjax", "mathjax-node"):
        meta = HERE / "node_modules" / package / "package.json"
        version = json.loads(meta.read_text())["version"] if meta.exists() else "missing"
        h.update(f"{package}@{version}\0".encode())
    return h.hexdigest()


class Worker:
    """One Node process running worker.js."""

    def __init__(self, timeout: float = 10.0, startup_timeout: float = 60.0,
                 env: Optional[dict] = None) -> None:
        self.timeout = timeout
        self.startup_timeout = startup_timeout
        self.env = env
        self.process: Optional[subprocess.Popen] = None
        self.engine = ""
        self.restarts = 0

    # --- process ---------------------------------------------------------------------------
    def start(self) -> None:
        node = node_program()
        self.process = subprocess.Popen(
            [node, str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, encoding="utf-8", bufsize=1, env=self.env)
        self.answers: queue.Queue = queue.Queue()
        self.stderr: deque[str] = deque(maxlen=20)
        threading.Thread(target=self._read_stdout, args=(self.process, self.answers), daemon=True).start()
        threading.Thread(target=self._read_stderr, args=(self.process, self.stderr), daemon=True).start()
        ready = self._next(self.startup_timeout)
        if not isinstance(ready, dict) or not ready.get("ready"):
            detail = "; ".join(self.stderr) or str(ready)
            self.stop()
            raise EngineUnavailable(f"the MathJax worker did not start: {detail}")
        self.engine = ready.get("engine", "")

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            self.process.kill()
        except OSError:
            pass
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            try:
                stream.close()
            except OSError:
                pass
        self.process = None

    def __enter__(self) -> "Worker":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @staticmethod
    def _read_stdout(process: subprocess.Popen, answers: queue.Queue) -> None:
        for line in process.stdout:
            try:
                answers.put(json.loads(line))
            except ValueError:
                continue
        answers.put(None)                    # end of stream: the process is gone

    @staticmethod
    def _read_stderr(process: subprocess.Popen, lines: deque) -> None:
        for line in process.stderr:
            lines.append(line.rstrip())

    def _next(self, timeout: float):
        try:
            return self.answers.get(timeout=timeout)
        except queue.Empty:
            return TimeoutError

    def _send(self, lines: list[str]) -> None:
        def write(stdin, lines):
            try:
                for line in lines:
                    stdin.write(line)
                stdin.flush()
            except (OSError, ValueError):
                pass                         # the process died; the reader reports it
        threading.Thread(target=write, args=(self.process.stdin, lines), daemon=True).start()

    # --- checking ----------------------------------------------------------------------------
    def check(self, requests: list[Request],
              on_answer: Optional[Callable[[int, dict], None]] = None) -> list[Optional[dict]]:
        """One answer per request, in order: {"ok", "error", "tags", "refs", "render"?};
        None for quiet requests.  `on_answer(i, answer)` is called as each arrives, so the
        caller's work on it overlaps the engine's on the next ones."""
        results: list[Optional[dict]] = [None] * len(requests)
        todo = list(range(len(requests)))
        replay: list[int] = []
        while todo:
            if self.process is None:
                self.start()
            lines = [self._line(i, requests[i], quiet=True) for i in replay]
            lines += [self._line(i, requests[i], requests[i].quiet) for i in todo]
            self._send(lines)
            failed_at = None
            for n, i in enumerate(todo):
                if requests[i].quiet:
                    continue
                answer = self._next(self.timeout)
                if isinstance(answer, dict) and answer.get("id") == i:
                    results[i] = answer
                    if on_answer:
                        on_answer(i, answer)
                    continue
                failed_at = n
                if answer is TimeoutError:
                    message = f"MathJax took longer than {self.timeout:g} s on this formula (worker restarted)"
                else:
                    try:
                        status = self.process.wait(timeout=5)
                    except subprocess.TimeoutExpired:
                        status = "unknown"
                    detail = "; ".join(list(self.stderr)[-3:]) or "no message"
                    message = (f"the MathJax worker crashed on this formula (exit status {status}, "
                               f"restarted): {detail}")
                results[i] = {"ok": False, "error": message, "tags": [], "refs": [], "fault": True}
                if on_answer:
                    on_answer(i, results[i])
                break
            if failed_at is None:
                break
            self.stop()
            self.restarts += 1
            i = todo[failed_at]
            post = requests[i].post
            replay = [j for j in range(i) if post is not None and requests[j].post == post
                      and not (results[j] or {}).get("fault")]
            todo = todo[failed_at + 1:]
        return results

    @staticmethod
    def _line(i: int, request: Request, quiet: bool = False) -> str:
        item = {"id": i, "post": request.post, "tex": request.tex, "display": request.display}
        if quiet:
            item["quiet"] = True
        elif request.render:
            item["render"] = True
        return json.dumps(item, ensure_ascii=False) + "\n"
