"""`anthology serve`: the author's loop — write, save, look.

The site is built (the html emitter, through the same stages as `anthology build html`) into a
private temporary folder, served on 127.0.0.1 only, and built again whenever a source changes;
rebuilds are incremental (each post's converted text is cached and only changed files are
written), so one edited post costs about a second with a warm cache.  The build runs in the main
thread, the server in threads of its own, so Ctrl-C always reaches the build.

Only what is served is changed, never the built files: each HTML response gets a banner listing
the last build's problems (escaped, as `check` prints them) and a small script that listens on
`EVENTS` and reloads the page when a newer build is done.  The page says which build it shows
(`?since=N`), so a build that finishes between loading the page and connecting still reloads it.
A failure of the tool itself while rebuilding is one line in the terminal and on the page; the
last good site stays served.  Ctrl-C (or SIGTERM) stops it: the temporary folder is removed and
the exit status is 0.
"""

from __future__ import annotations

import html
import os
import queue
import re
import signal
import sys
import threading
import time
import webbrowser
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any, TextIO
from urllib.parse import parse_qs, urlsplit

from pipeline import progress
from pipeline.diagnostics import Diagnostic
from pipeline.emit import EMITTERS, BuildOptions
from pipeline.emit.common import SetupError
from pipeline.fileio import scratch_dir
from pipeline.mathjax.client import EngineUnavailable
from pipeline.mathjax.options import EngineOptions
from pipeline.project import DEFAULT_TITLE, Project
from pipeline.stages import BuildRequest, NoSuchSeries, Run, run_stages

EVENTS = "/__anthology/events"
KEEPALIVE = 15.0           # seconds between two comments on an idle event stream (finds closed pages)
POLL_INTERVAL = 0.5        # seconds between two looks at the sources when watchfiles is missing
MAX_SHOWN = 200            # problems listed on the page; the terminal gets them all


class PortTaken(Exception):
    """The port asked for cannot be had: a usage error."""


@dataclass
class Settings:
    """What `serve` builds, and how."""
    paths: list[str]
    series: str | None
    engine: EngineOptions
    math: str = "mathml"
    title: str | None = None
    project: Project = field(default_factory=Project)     # the book's settings, flags laid over them


@dataclass
class Outcome:
    """What the last build left to show on the pages."""
    generation: int = 0
    problems: tuple[Diagnostic, ...] = ()
    failure: str | None = None        # the tool itself failed (the last good site is served)
    building: bool = True


class Live:
    """The state the builder (main thread) shares with the server's threads."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.outcome = Outcome()
        self.closing = False
        self._changed = threading.Condition()

    def publish(self, problems: Iterable[Diagnostic], failure: str | None) -> int:
        with self._changed:
            self.outcome = Outcome(self.outcome.generation + 1, tuple(problems), failure, building=False)
            self._changed.notify_all()
            return self.outcome.generation

    def close(self) -> None:
        with self._changed:
            self.closing = True
            self._changed.notify_all()

    def newer(self, since: int, timeout: float) -> int | None:
        """The generation once it is past `since` (None: `timeout` passed, or closing)."""
        with self._changed:
            self._changed.wait_for(lambda: self.closing or self.outcome.generation > since, timeout)
            return None if self.closing or self.outcome.generation <= since else self.outcome.generation


SCRIPT = ('<script>(function(){{var s=new EventSource("{events}?since={generation}");'
          's.addEventListener("reload",function(){{s.close();location.reload();}});}})();</script>')
BANNER_STYLE = ("position:sticky;top:0;z-index:9;margin:0;padding:.5em 1em;font:13px/1.4 monospace;"
                "background:#fff3f0;color:#7a1000;border-bottom:2px solid #c0392b;max-height:40vh;overflow:auto")


def banner(outcome: Outcome) -> str:
    """The last build's problems as a block of escaped text ('' when there are none)."""
    if outcome.building and not outcome.generation:
        return (f'<div id="anthology-serve" style="{BANNER_STYLE}">anthology serve: building the site… '
                'this page reloads when it is done</div>')
    lines = [f"anthology serve: {outcome.failure}"] if outcome.failure else []
    lines += [d.format() for d in outcome.problems[:MAX_SHOWN]]
    if not lines:
        return ""
    errors = sum(1 for d in outcome.problems if d.severity == "error")
    warnings = len(outcome.problems) - errors
    head = ("the build failed; this is the last good site" if outcome.failure
            else f"{_many(errors, 'error')}, {_many(warnings, 'warning')}")
    more = len(outcome.problems) - MAX_SHOWN
    if more > 0:
        lines.append(f"… and {more} more (see the terminal)")
    return (f'<details id="anthology-serve" open style="{BANNER_STYLE}"><summary>anthology serve: '
            f'{html.escape(head)}</summary><pre style="margin:.3em 0;white-space:pre-wrap">'
            f'{html.escape(chr(10).join(lines))}</pre></details>')


def _many(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


_BODY = re.compile(rb"<body\b[^>]*>", re.I)


def inject(page: bytes, outcome: Outcome) -> bytes:
    """A built page as served: the banner first in its body, the reloading script last."""
    script = SCRIPT.format(events=EVENTS, generation=outcome.generation).encode()
    top = banner(outcome).encode("utf-8")
    m = _BODY.search(page)
    if m:
        page = page[:m.end()] + top + page[m.end():]
    else:
        page = top + page
    end = page.lower().rfind(b"</body>")
    return page[:end] + script + page[end:] if end >= 0 else page + script


PLACEHOLDER = (b'<!DOCTYPE html><html lang="zh"><head><meta charset="utf-8"><title>anthology serve</title></head>'
               b'<body><p>No site yet.</p></body></html>')


class Handler(SimpleHTTPRequestHandler):
    """The site folder as files, each HTML page with the banner and the script added."""

    live: Live

    def __init__(self, *args: Any, live: Live, **kwargs: Any) -> None:
        self.live = live
        super().__init__(*args, directory=str(live.root), **kwargs)

    def do_GET(self) -> None:
        if not self._local():
            self.send_error(403, "only for 127.0.0.1 and localhost")
            return
        path = urlsplit(self.path).path
        if path == EVENTS:
            self._events()
            return
        page = self._page()
        if page is None:
            super().do_GET()
            return
        body = inject(page, self.live.outcome)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self) -> None:
        if not self._local():
            self.send_error(403, "only for 127.0.0.1 and localhost")
            return
        super().do_HEAD()

    def _local(self) -> bool:
        """Whether the request names this machine: a page of another site that got its name to
        point here (DNS rebinding) must not read the drafts."""
        host = urlsplit("//" + (self.headers.get("Host") or "")).hostname
        return host in ("127.0.0.1", "localhost")

    def _page(self) -> bytes | None:
        """The HTML page asked for, or None for anything else (left to the file server)."""
        path = urlsplit(self.path).path
        file = Path(self.translate_path(self.path))
        if path.endswith("/"):
            file = file / "index.html"
        if file.suffix != ".html":
            return None
        try:
            return file.read_bytes()
        except OSError:
            return PLACEHOLDER if path in ("/", "/index.html") else None

    def _events(self) -> None:
        """Server-sent events: `reload` whenever a build newer than the page's is done."""
        try:
            since = int(parse_qs(urlsplit(self.path).query).get("since", [""])[0])
        except ValueError:
            since = self.live.outcome.generation
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        try:
            self.wfile.write(b"retry: 1000\n\n")
            self.wfile.flush()
            while not self.live.closing:
                generation = self.live.newer(since, KEEPALIVE)
                if generation is not None:
                    self.wfile.write(f"event: reload\ndata: {generation}\n\n".encode())
                    since = generation
                elif not self.live.closing:
                    self.wfile.write(b": idle\n\n")
                self.wfile.flush()
        except OSError:           # the page went away
            pass

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")      # a reload must show the new build
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass                  # the terminal is for the build's problems, not for every request


class Server(ThreadingHTTPServer):
    daemon_threads = True            # an open event stream must not hold up the end


def build_site(settings: Settings, target: Path) -> Run:
    """The site of `settings` at `target`, as `anthology build html` would write it."""
    run = Run(paths=settings.paths, series=settings.series, project=settings.project)
    run.engine = settings.engine
    options = BuildOptions(title=settings.title or settings.series or DEFAULT_TITLE, math=settings.math,
                           cache_dir=settings.engine.cache_dir, project=settings.project)
    run.build = BuildRequest(EMITTERS["html"], target, options)
    run_stages(run, "read")
    if run.posts:
        run_stages(run, "emit", start="extract")
    return run


def serve(settings: Settings, port: int, open_browser: bool, out: TextIO, err: TextIO,
          crash_log: Callable[[], str]) -> int:
    """Build, serve and rebuild until Ctrl-C; 0 then.  `crash_log()` writes the traceback of
    the exception being handled to a log file and returns its path."""
    with _interruptible(), scratch_dir("serve") as scratch:
        live = Live(scratch / "site")
        try:
            server = Server(("127.0.0.1", port), partial(Handler, live=live))
        except OSError as e:
            raise PortTaken(f"--port {port}: cannot serve there ({e.strerror or e}); choose another port, "
                            "or --port 0 for any free one") from None
        threading.Thread(target=server.serve_forever, name="anthology-serve", daemon=True).start()
        watcher = Watcher(settings.paths, ignore=[settings.engine.cache_dir, scratch])
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        try:
            print(f"serving {url} from {live.root} (Ctrl-C stops)", file=out, flush=True)
            watcher.start()                   # before the first build: an edit while it runs is seen
            _build(settings, live, out, err, crash_log, first=True)
            if open_browser:
                _open(url, out)
            quiet = progress.use(None)        # a rebuild is short: its summary line is enough
            try:
                while True:
                    changed = watcher.next()
                    names = sorted(n for n in changed if Path(n).exists()) or sorted(changed)
                    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
                    print(f"changed: {shown}", file=out, flush=True)
                    _build(settings, live, out, err, crash_log, first=False)
            finally:
                progress.use(quiet)
        except KeyboardInterrupt:
            pass
        finally:
            if threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGINT, signal.SIG_IGN)     # a second Ctrl-C must not cut the cleanup short
            live.close()
            watcher.close()
            server.shutdown()
            server.server_close()
    print("stopped; the temporary site is removed", file=out, flush=True)
    return 0


def _open(url: str, out: TextIO) -> None:
    """The site in the web browser.  Without a display a Linux `webbrowser` would run a text
    browser (lynx, w3m) in this terminal and hold up the server: then the URL is only named."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        print(f"--open: no graphical display here; open {url} in a browser", file=out, flush=True)
        return
    threading.Thread(target=webbrowser.open, args=(url,), name="anthology-open", daemon=True).start()


class _interruptible:
    """SIGTERM stops the server as Ctrl-C does (so the temporary folder is removed); the
    handlers are put back afterwards."""

    def __enter__(self) -> None:
        self.before: list[tuple[int, Any]] = []
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.before.append((sig, signal.getsignal(sig)))
            signal.signal(signal.SIGTERM, _raise_interrupt)

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.before:
            signal.signal(sig, handler)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _build(settings: Settings, live: Live, out: TextIO, err: TextIO, crash_log: Callable[[], str],
           first: bool) -> None:
    """One build, its problems printed and published; a failure keeps the last good site."""
    started = time.perf_counter()
    failure = None
    problems: list[Diagnostic] = []
    try:
        run = build_site(settings, live.root)
    except (EngineUnavailable, SetupError, NoSuchSeries) as e:
        failure = f"error: {e}"
    except Exception as e:
        failure = (f"internal error while building: {type(e).__name__}: {str(e)[:300]} — a fault of the tool, "
                   f"not of the input; the full report is in {crash_log()}")
    else:
        problems = run.diagnostics.sorted()
        if not run.posts:
            failure = "error: no posts were read, nothing to show"
    for d in problems:
        print(d.format(), file=err)
    if failure:
        print(f"anthology: {failure}" + ("" if first else "; still serving the last good site"), file=err)
    errors = sum(1 for d in problems if d.severity == "error")
    if not failure:
        print(f"{'built' if first else 'rebuilt'} {_many(len(run.posts), 'post')} in "
              f"{time.perf_counter() - started:.1f} s: {_many(errors, 'error')}, "
              f"{_many(len(problems) - errors, 'warning')}", file=out, flush=True)
    err.flush()
    live.publish(problems, failure)


class Watcher:
    """`watch` in a thread of its own, so that what changes while a build runs is kept for
    the next one (the changes of that time come as one batch)."""

    def __init__(self, paths: list[str], ignore: Iterable[Path | None]) -> None:
        self.changes: queue.Queue[set[str]] = queue.Queue()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(paths, list(ignore)), name="anthology-watch",
                                       daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self, paths: list[str], ignore: list[Path | None]) -> None:
        for batch in watch(paths, ignore, self.stop):
            self.changes.put(batch)

    def next(self) -> set[str]:
        """The files changed since the last call, once there are any."""
        while True:
            try:
                changed = self.changes.get(timeout=1.0)
                break
            except queue.Empty:
                continue
        while not self.changes.empty():
            changed |= self.changes.get_nowait()
        return changed

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=2.0)


def watch(paths: list[str], ignore: Iterable[Path | None] = (),
          stop: threading.Event | None = None) -> Iterator[set[str]]:
    """Each batch of changed source files under `paths` (files or folders), as they come:
    with watchfiles (the system's notifications), else by looking every POLL_INTERVAL seconds."""
    roots = [Path(p).resolve() for p in paths]
    skipped = [Path(p).resolve() for p in ignore if p is not None]

    def wanted(name: str) -> bool:
        path = Path(name)
        return (not any(path == s or s in path.parents for s in skipped)
                and any(path == r or r in path.parents for r in roots))

    try:
        import watchfiles
    except ImportError:
        yield from _poll(roots, wanted, stop or threading.Event())
        return
    # A file is watched through its folder: an editor that saves by writing a new file and
    # renaming it over the old one would otherwise end the watch.
    folders = sorted({str(r if r.is_dir() else r.parent) for r in roots if r.exists()})
    accept = watchfiles.DefaultFilter()
    for batch in watchfiles.watch(*folders, watch_filter=lambda change, name: accept(change, name) and wanted(name),
                                  debounce=800, step=50, stop_event=stop, raise_interrupt=False):
        yield {name for _, name in batch}


def _poll(roots: list[Path], wanted: Callable[[str], bool], stop: threading.Event) -> Iterator[set[str]]:
    def snapshot() -> dict[str, tuple[int, int]]:
        seen = {}
        for root in roots:
            files = [root] if not root.is_dir() else (
                Path(folder) / name for folder, dirs, names in os.walk(root)
                for name in names if not name.startswith(".") and "/." not in folder)
            for file in files:
                try:
                    stat = file.stat()
                except OSError:
                    continue
                if wanted(str(file)):
                    seen[str(file)] = (stat.st_mtime_ns, stat.st_size)
        return seen

    before = snapshot()
    while not stop.wait(POLL_INTERVAL):
        now = snapshot()
        changed = {name for name in before.keys() | now.keys() if before.get(name) != now.get(name)}
        before = now
        if changed:
            yield changed
