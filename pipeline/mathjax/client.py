"""The Python side of the MathJax worker: start it, stream formulas through it, restart it.

Requests are written by one thread and answers read by another, so the worker never waits
for Python.  Time limits catch hangs, not slowness: they count the processor time the worker
spends on a formula, not the clock, so a machine busy with other work gives the same verdicts
as a quiet one.  A formula that uses up its limit is tried once more on a fresh worker with
`RETRY_FACTOR` times the limit before it is reported; the limit also grows with what the
worker has been spending per formula in this run (a slow machine).  A formula that hangs the
worker for good or kills it is answered with an error, the worker is restarted, the formulas
of its post that came before are replayed (quietly, to rebuild the page's state), and the
rest go on.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import re
import shutil
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

HERE = Path(__file__).resolve().parent
WORKER = HERE / "worker.js"
ENGINE_FILES = ("worker.js", "blog-ext.js", "package-lock.json")
RETRY_FACTOR = 3.0      # a formula that used up its limit gets this many times it on a fresh worker
ADAPT_FACTOR = 200.0    # the limit is at least this many times the mean cost per answer so far
IDLE_LIMIT = 60.0       # seconds of clock with no processor time used at all: the worker is stuck
POLL = 0.25
SAMPLE_EVERY = 64       # answers between two readings of the worker's processor time
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


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
    """One Node process running worker.js.  `timeout` and `startup_timeout` are seconds of the
    worker's processor time (of the clock where the system does not tell processor time)."""

    def __init__(self, timeout: float = 10.0, startup_timeout: float = 60.0,
                 env: Optional[dict] = None, retry_factor: float = RETRY_FACTOR) -> None:
        self.timeout = timeout
        self.startup_timeout = startup_timeout
        self.retry_factor = retry_factor
        self.env = env
        self.process: Optional[subprocess.Popen] = None
        self.engine = ""
        self.restarts = 0
        self.retries = 0
        self._spent = 0.0            # processor seconds over the answers counted in _answered
        self._answered = 0
        self._mark: tuple[Optional[float], int] = (None, 0)   # (processor time, answers) last read
        self._seen = 0               # answers since the worker started

    # --- process ---------------------------------------------------------------------------
    def start(self) -> None:
        node = node_program()
        self.process = subprocess.Popen(
            [node, str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace", bufsize=1, env=self.env)
        self.answers: queue.Queue = queue.Queue()
        self.stderr: deque[str] = deque(maxlen=20)
        threading.Thread(target=self._read_stdout, args=(self.process, self.answers), daemon=True).start()
        threading.Thread(target=self._read_stderr, args=(self.process, self.stderr), daemon=True).start()
        ready = self._next(self.startup_timeout)
        if not isinstance(ready, dict) or not ready.get("ready"):
            detail = "; ".join(self.stderr) or (
                f"no answer within {self.startup_timeout:g} s of processor time" if ready is TimeoutError
                else "it exited before it was ready")
            self.stop()
            raise EngineUnavailable(f"the MathJax worker did not start: {detail}")
        self.engine = ready.get("engine", "")
        self._seen = 0
        self._mark = (self._cpu(), 0)

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
                answers.put(_clean(json.loads(line)))
            except ValueError:
                continue
        answers.put(None)                    # end of stream: the process is gone

    @staticmethod
    def _read_stderr(process: subprocess.Popen, lines: deque) -> None:
        for line in process.stderr:
            lines.append(line.rstrip())

    def _cpu(self) -> Optional[float]:
        """Processor seconds the worker has used so far, or None where the system does not say."""
        try:
            with open(f"/proc/{self.process.pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / _TICKS      # utime + stime
        except (OSError, IndexError, ValueError, AttributeError):
            return None

    def _next(self, limit: float):
        """The next answer; TimeoutError when the worker has spent `limit` processor seconds
        waiting for it, or used no processor time at all for IDLE_LIMIT seconds (stuck).
        Processor time is read only once an answer is slower than POLL: most come sooner, and
        the reading would cost every one of them."""
        try:
            return self.answers.get(timeout=POLL)
        except queue.Empty:
            pass
        started, cpu_start = time.monotonic(), self._cpu()
        last_cpu, last_progress = cpu_start, started
        while True:
            try:
                return self.answers.get(timeout=POLL)
            except queue.Empty:
                pass
            now, cpu = time.monotonic(), self._cpu()
            if cpu is None or cpu_start is None:
                if now - started > limit:
                    return TimeoutError
                continue
            if cpu - cpu_start > limit:
                return TimeoutError
            if cpu > last_cpu:
                last_cpu, last_progress = cpu, now
            elif now - last_progress > max(IDLE_LIMIT, limit):
                return TimeoutError

    def limit(self) -> float:
        """The time limit for the next formula: `timeout`, or more on a machine that has been
        slow on every formula of this run."""
        mean = self._spent / self._answered if self._answered >= 20 else 0.0
        return max(self.timeout, ADAPT_FACTOR * mean)

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
        retried: set[int] = set()
        while todo:
            if self.process is None:
                self.start()
            lines = [self._line(i, requests[i], quiet=True) for i in replay]
            lines += [self._line(i, requests[i], requests[i].quiet) for i in todo]
            self._send(lines)
            failed_at, retry = None, False
            for n, i in enumerate(todo):
                if requests[i].quiet:
                    continue
                limit = self.limit() * (self.retry_factor if i in retried else 1)
                answer = self._next(limit)
                if isinstance(answer, dict) and answer.get("id") == i:
                    self._count()
                    results[i] = answer
                    if on_answer:
                        on_answer(i, answer)
                    continue
                failed_at = n
                if answer is TimeoutError and i not in retried:
                    retried.add(i)
                    self.retries += 1
                    retry = True
                    break
                results[i] = {"ok": False, "error": self._fault(answer, limit, i in retried),
                              "tags": [], "refs": [], "fault": True}
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
            todo = todo[failed_at if retry else failed_at + 1:]
        return results

    def _count(self) -> None:
        """One more answer; every SAMPLE_EVERY answers, what they cost goes into the mean."""
        self._seen += 1
        if self._seen - self._mark[1] < SAMPLE_EVERY:
            return
        cpu, (before, seen) = self._cpu(), self._mark
        if cpu is not None and before is not None:
            self._spent += cpu - before
            self._answered += self._seen - seen
        self._mark = (cpu, self._seen)

    def _fault(self, answer, limit: float, retried: bool) -> str:
        if answer is TimeoutError:
            again = f" (and again with {limit:g} s on a fresh worker)" if retried else ""
            first = limit / self.retry_factor if retried else limit
            return (f"MathJax took longer than {first:g} s of processor time on this formula{again}; "
                    "worker restarted")
        try:
            status = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            status = "unknown"
        detail = "; ".join(list(self.stderr)[-3:]) or "no message"
        return f"the MathJax worker crashed on this formula (exit status {status}, restarted): {detail}"

    @staticmethod
    def _line(i: int, request: Request, quiet: bool = False) -> str:
        item = {"id": i, "post": request.post, "tex": request.tex, "display": request.display}
        if quiet:
            item["quiet"] = True
        elif request.render:
            item["render"] = True
        return json.dumps(item, ensure_ascii=False) + "\n"


def _clean(value):
    """The worker's answer with lone surrogates (`\\unicode{xD800}`, JSON-escaped by Node)
    replaced by U+FFFD: they are no text, and could be neither cached nor written."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


_SURROGATE = re.compile("[\ud800-\udfff]")
