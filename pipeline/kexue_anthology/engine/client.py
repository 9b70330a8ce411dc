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

A run that is stopped (Ctrl-C) sets the worker's `interrupt`: the worker gives up at its next
answer or poll and raises `Interrupted`, instead of restarting the engine its signal killed
and going on drawing (a thread of the render stage cannot be interrupted otherwise).
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from kexue_anthology.core import lifeline, progress

HERE = Path(__file__).resolve().parent
WORKER = HERE / "worker.js"
ENGINE_FILES = ("worker.js", "blog-ext.js", "package-lock.json")
RETRY_FACTOR = 3.0      # a formula that used up its limit gets this many times it on a fresh worker
ADAPT_FACTOR = 200.0    # the limit is at least this many times the mean cost per answer so far
IDLE_LIMIT = 60.0       # seconds of clock with no processor time used at all: the worker is stuck
POLL = 0.25
SAMPLE_EVERY = 64       # answers between two readings of the worker's processor time
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


Answer = dict[str, Any]     # a line of the worker's JSON (worker.js), typed by kexue_anthology.engine.results


class EngineUnavailable(RuntimeError):
    """Node.js or the worker's npm packages are missing: a setup problem, not bad input."""


class Interrupted(Exception):
    """The run was stopped (`Worker.interrupt` was set) while the worker had formulas to do."""


@dataclass
class Request:
    post: str | None
    tex: str
    display: bool
    render: bool = False      # answer with the formula drawn (SVG, MathML, tag rows)
    quiet: bool = False       # only for its effect on the post's state: no answer


NPM_PACKAGES = ("mathjax-node", "mathjax")     # what worker.js requires (package.json, pinned by the lockfile)


def _installed(modules: Path) -> bool:
    return all((modules / name / "package.json").is_file() for name in NPM_PACKAGES)


def node_modules() -> Path:
    """Where the worker's npm packages are, or are to be installed; nothing is installed here.
    A checkout's own `engine/node_modules` (`make setup`) when it holds them, else a
    per-user folder outside the package, one per lockfile: the cache folder's
    `mathjax/<hash of package-lock.json>/node_modules`."""
    local = HERE / "node_modules"
    if _installed(local):
        return local
    from kexue_anthology.core.cache import default_cache_dir
    digest = hashlib.sha256((HERE / "package-lock.json").read_bytes()).hexdigest()[:16]
    return default_cache_dir() / "mathjax" / digest / "node_modules"


def install_node_modules() -> Path:
    """The worker's npm packages, installed on first use with `npm ci` from the committed lockfile
    into node_modules() (a temporary folder beside it, renamed into place when whole, under a
    file lock: two builds at once install once)."""
    modules = node_modules()
    if _installed(modules):
        return modules
    npm = shutil.which("npm")
    if not npm:
        raise EngineUnavailable("npm is not installed, and MathJax's npm packages are needed on first use: "
                                "install Node.js and npm (Debian: apt-get install nodejs npm; in a checkout "
                                "`make setup` does it)")
    import fcntl
    prefix = modules.parent
    prefix.parent.mkdir(parents=True, exist_ok=True)
    with open(prefix.parent / f"{prefix.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)      # released when the file is closed, also by a killed process
        if _installed(modules):               # another build installed them while this one waited
            return modules
        work = prefix.parent / f".{prefix.name}.{os.getpid()}.tmp"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(HERE / name, work / name)
        progress.say(f"anthology: installing the MathJax engine (npm ci, once, ~10–20 s) into {prefix}…")
        try:
            subprocess.run([npm, "ci", "--prefix", str(work), "--no-audit", "--no-fund", "--loglevel=error"],
                           check=True, capture_output=True, text=True)
        except (OSError, subprocess.CalledProcessError) as e:
            shutil.rmtree(work, ignore_errors=True)
            detail = (getattr(e, "stderr", None) or str(e)).strip().splitlines()[-3:]
            raise EngineUnavailable(f"could not install MathJax's npm packages into {prefix} with `npm ci`: "
                                    + " ".join(detail)) from None
        shutil.rmtree(prefix, ignore_errors=True)     # an unfinished one (we hold the lock)
        os.replace(work, prefix)
    return modules


def node_program() -> str:
    """The Node.js program, with the worker's npm packages installed (install_node_modules)."""
    node = shutil.which("node") or shutil.which("nodejs")
    if not node:
        raise EngineUnavailable("Node.js is not installed: install it (Debian: apt-get install nodejs npm), "
                                "then run `make setup`")
    install_node_modules()
    return node


def node_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The worker's environment (`env`, else this process's) with NODE_PATH naming node_modules(),
    so that worker.js's `require()` finds its packages wherever they were installed."""
    env = dict(os.environ if env is None else env)
    env["NODE_PATH"] = os.pathsep.join(p for p in (str(node_modules()), env.get("NODE_PATH", "")) if p)
    return env


def _npm_version(package: str) -> str:
    """An npm package's version: as installed, else as the lockfile pins it (what `npm ci` installs)."""
    meta = node_modules() / package / "package.json"
    if meta.exists():
        return str(json.loads(meta.read_text())["version"])
    lock = json.loads((HERE / "package-lock.json").read_text())
    return str(lock.get("packages", {}).get(f"node_modules/{package}", {}).get("version", "missing"))


def fingerprint() -> str:
    """What decides a verdict besides the formulas: engine versions, worker code, configuration.
    Known without starting Node, so that a fully cached run never starts it."""
    h = hashlib.sha256()
    for name in ENGINE_FILES:
        path = HERE / name
        h.update(name.encode() + b"\0" + (path.read_bytes() if path.exists() else b"") + b"\0")
    for package in ("mathjax", "mathjax-node"):
        h.update(f"{package}@{_npm_version(package)}\0".encode())
    return h.hexdigest()


class Worker:
    """One Node process running worker.js.  `timeout` and `startup_timeout` are seconds of the
    worker's processor time (of the clock where the system does not tell processor time)."""

    def __init__(self, timeout: float = 10.0, startup_timeout: float = 60.0,
                 env: dict[str, str] | None = None, retry_factor: float = RETRY_FACTOR) -> None:
        self.timeout = timeout
        self.startup_timeout = startup_timeout
        self.retry_factor = retry_factor
        self.env = env
        self.process: subprocess.Popen[str] | None = None
        self.engine = ""
        self.restarts = 0
        self.retries = 0
        self._spent = 0.0            # processor seconds over the answers counted in _answered
        self._answered = 0
        self._mark: tuple[float | None, int] = (None, 0)   # (processor time, answers) last read
        self._seen = 0               # answers since the worker started
        self.interrupt = threading.Event()   # set (by another thread) to stop at the next answer

    # --- process ---------------------------------------------------------------------------
    def start(self) -> None:
        self._stop_if_interrupted()
        node = node_program()
        self.process = subprocess.Popen(      # tied: a killed command leaves no worker behind
            lifeline.tied([node, str(WORKER)]), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace", bufsize=1, env=node_env(self.env))
        self.answers: queue.Queue[object] = queue.Queue()
        self.stderr: deque[str] = deque(maxlen=20)
        threading.Thread(target=self._read_stdout, args=(self.process, self.answers), daemon=True).start()
        threading.Thread(target=self._read_stderr, args=(self.process, self.stderr), daemon=True).start()
        try:
            ready = self._next(self.startup_timeout)
        except Interrupted:
            self.stop()
            raise
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
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        self.process = None

    def _stop_if_interrupted(self) -> None:
        if self.interrupt.is_set():
            raise Interrupted("stopped while MathJax was working")

    def reset(self) -> None:
        """Forget the page state (macros, numbers, labels) the formulas sent so far left."""
        self._send([json.dumps({"reset": True}) + "\n"])

    def __enter__(self) -> Worker:
        if self.process is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @staticmethod
    def _read_stdout(process: subprocess.Popen[str], answers: queue.Queue[object]) -> None:
        for line in process.stdout or ():
            try:
                answers.put(_clean(json.loads(line)))
            except ValueError:
                continue
        answers.put(None)                    # end of stream: the process is gone

    @staticmethod
    def _read_stderr(process: subprocess.Popen[str], lines: deque[str]) -> None:
        for line in process.stderr or ():
            lines.append(line.rstrip())

    def processor_time(self) -> float | None:
        """Processor seconds the worker has used so far, or None where the system does not say."""
        return self._cpu()

    def _cpu(self) -> float | None:
        if self.process is None:
            return None
        try:
            with open(f"/proc/{self.process.pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / _TICKS      # utime + stime
        except (OSError, IndexError, ValueError):
            return None

    def _next(self, limit: float) -> object:
        """The next answer (None: the worker is gone); TimeoutError when the worker has spent `limit` processor seconds
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
            self._stop_if_interrupted()
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
            if last_cpu is None or cpu > last_cpu:
                last_cpu, last_progress = cpu, now
            elif now - last_progress > max(IDLE_LIMIT, limit):
                return TimeoutError

    def limit(self) -> float:
        """The time limit for the next formula: `timeout`, or more on a machine that has been
        slow on every formula of this run."""
        mean = self._spent / self._answered if self._answered >= 20 else 0.0
        return max(self.timeout, ADAPT_FACTOR * mean)

    def _send(self, lines: list[str]) -> None:
        def write(stdin: IO[str] | None, lines: list[str]) -> None:
            if stdin is None:
                return
            try:
                for line in lines:
                    stdin.write(line)
                stdin.flush()
            except (OSError, ValueError):
                pass                         # the process died; the reader reports it
        if self.process is not None:
            threading.Thread(target=write, args=(self.process.stdin, lines), daemon=True).start()

    # --- checking ----------------------------------------------------------------------------
    def check(self, requests: list[Request],
              on_answer: Callable[[int, Answer], None] | None = None) -> list[Answer | None]:
        """One answer per request, in order: {"ok", "error", "tags", "refs", "render"?};
        None for quiet requests.  `on_answer(i, answer)` is called as each arrives, so the
        caller's work on it overlaps the engine's on the next ones."""
        results: list[Answer | None] = [None] * len(requests)
        todo = list(range(len(requests)))
        replay: list[int] = []
        retried: set[int] = set()
        while todo:
            self._stop_if_interrupted()
            if self.process is None:
                self.start()
            lines = [self._line(i, requests[i], quiet=True) for i in replay]
            lines += [self._line(i, requests[i], requests[i].quiet) for i in todo]
            self._send(lines)
            failed_at, retry = None, False
            for n, i in enumerate(todo):
                if requests[i].quiet:
                    continue
                self._stop_if_interrupted()
                limit = self.limit() * (self.retry_factor if i in retried else 1)
                answer = self._next(limit)
                if answer is None:       # the worker is gone: killed by the signal that stops the run?
                    self._stop_if_interrupted()
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
                fault: Answer = {"ok": False, "error": self._fault(answer, limit, i in retried),
                                 "tags": [], "refs": [], "fault": True}
                results[i] = fault
                if on_answer:
                    on_answer(i, fault)
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

    def names(self) -> dict[str, list[str]]:
        """The control sequences (without their backslash) and environments a post starts with,
        from MathJax's own tables as the worker sets them up: {"macros": [...], "environments": [...]};
        empty lists when the worker cannot say.  Not to be called while `check` is running."""
        if self.process is None:
            self.start()
        self._send([json.dumps({"id": "names", "names": True}) + "\n"])
        answer = self._next(self.startup_timeout)
        names = answer.get("names") if isinstance(answer, dict) and answer.get("id") == "names" else None
        if not isinstance(names, dict):
            self.stop()              # an answer out of step, or none: a fresh worker for what follows
            names = {}
        return {kind: sorted(str(n) for n in names.get(kind) or [] if isinstance(n, str))
                for kind in ("macros", "environments")}

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

    def _fault(self, answer: object, limit: float, retried: bool) -> str:
        if answer is TimeoutError:
            again = f" (and again with {limit:g} s on a fresh worker)" if retried else ""
            first = limit / self.retry_factor if retried else limit
            return (f"MathJax took longer than {first:g} s of processor time on this formula{again}; "
                    "worker restarted")
        try:
            status: object = self.process.wait(timeout=5) if self.process else "unknown"
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


def _clean(value: Any) -> Any:
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
