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
import importlib.util
import os
import queue
import re
import signal
import stat
import sys
import threading
import time
import webbrowser
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any, TextIO
from urllib.parse import parse_qs, unquote, urlsplit

from kexue_anthology.config.settings import Settings
from kexue_anthology.core import progress
from kexue_anthology.core.diagnostics import Diagnostic
from kexue_anthology.core.errors import SetupError
from kexue_anthology.core.fileio import scratch_dir
from kexue_anthology.core.locations import root_of
from kexue_anthology.core.model import rejected
from kexue_anthology.engine.client import EngineUnavailable
from kexue_anthology.engine.options import EngineOptions
from kexue_anthology.formats import EMITTERS
from kexue_anthology.read import built_here
from kexue_anthology.read.selection import NoSuchSeries
from kexue_anthology.stages import BuildRequest, Run, run_stages

EVENTS = "/__anthology/events"
KEEPALIVE = 15.0           # seconds between two comments on an idle event stream (finds closed pages)
POLL_INTERVAL = 0.5        # seconds between two looks at the sources when watchfiles is missing
MAX_SHOWN = 200            # problems listed on the page; the terminal gets them all


class PortTaken(Exception):
    """The port asked for cannot be had: a usage error."""


@dataclass
class Site:
    """What `serve` builds: the posts of `paths`, with the settings `build html` would have."""
    paths: list[str]
    settings: Settings = field(default_factory=Settings)      # resolved once (kexue_anthology.config.settings)
    engine: EngineOptions = field(default_factory=EngineOptions)    # EngineOptions.of(settings)


@dataclass
class Outcome:
    """What the last build left to show on the pages."""
    generation: int = 0
    problems: tuple[Diagnostic, ...] = ()
    failure: str | None = None        # the tool itself failed (the last good site is served)
    building: bool = True
    root: Path | None = None          # where the problems' paths are shown from (core/locations.py)
    broken: int = 0                   # formulas shown as source (MathJax rejects them): errors.html


class Live:
    """The state the builder (main thread) shares with the server's threads."""

    def __init__(self, root: Path, say: Callable[[str], None] = lambda line: None) -> None:
        self.root = root
        self.say = say                # one line in the terminal, from any thread
        self.outcome = Outcome()
        self.closing = False
        self._changed = threading.Condition()

    def publish(self, problems: Iterable[Diagnostic], failure: str | None, root: Path | None = None,
                broken: int = 0) -> int:
        with self._changed:
            self.outcome = Outcome(self.outcome.generation + 1, tuple(problems), failure, building=False,
                                   root=root, broken=broken)
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
    lines += [d.format(outcome.root) for d in outcome.problems[:MAX_SHOWN]]
    if not lines:
        return ""
    errors = sum(1 for d in outcome.problems if d.severity == "error")
    warnings = sum(1 for d in outcome.problems if d.severity == "warning")
    head = ("the build failed; this is the last good site" if outcome.failure
            else f"{_many(errors, 'error')}, {_many(warnings, 'warning')}")
    more = len(outcome.problems) - MAX_SHOWN
    if more > 0:
        lines.append(f"… and {more} more (see the terminal)")
    # the author's to-do, here and in errors.html only: a published page's header does not carry it
    todo = (f'; <a href="/errors.html">{outcome.broken} 个公式未能排版</a>'
            if outcome.broken and not outcome.failure else "")
    return (f'<details id="anthology-serve" open style="{BANNER_STYLE}"><summary>anthology serve: '
            f'{html.escape(head)}{todo}</summary><pre style="margin:.3em 0;white-space:pre-wrap">'
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


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")       # what a method may be (RFC 9110)
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\\]")
PLACEHOLDER = (b'<!DOCTYPE html><html lang="zh"><head><meta charset="utf-8"><title>anthology serve</title></head>'
               b'<body><p>No site yet.</p></body></html>')


class Handler(SimpleHTTPRequestHandler):
    """The site folder as files, each HTML page with the banner and the script added.  Any page
    on the web can make the browser ask anything of it, so a request that is not for a file a
    site could hold is answered (400, 404, 405), never left to fail in the file server."""

    live: Live
    answered = False

    def __init__(self, *args: Any, live: Live, **kwargs: Any) -> None:
        self.live = live
        super().__init__(*args, directory=str(live.root), **kwargs)

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def parse_request(self) -> bool:
        """The request line and headers read; any method but GET and HEAD is refused here."""
        if not super().parse_request():
            return False
        if self.command in ("GET", "HEAD"):
            return True
        if _TOKEN.fullmatch(self.command):
            self.send_response(405)
            self.send_header("Allow", "GET, HEAD")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self.send_error(400, "not a request method")
        return False

    def _answer(self, body: bool) -> None:
        if not self._local():
            self.send_error(403, "only for 127.0.0.1 and localhost")
            return
        path = self._path()
        if path is None:
            self.send_error(400, "not a path of this site")
            return
        if path == EVENTS and body:
            self._events()
            return
        page = self._page(path)
        if page is None:
            super().do_GET() if body else super().do_HEAD()
            return
        page = inject(page, self.live.outcome)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        if body:
            self.wfile.write(page)

    def _local(self) -> bool:
        """Whether the request names this machine: a page of another site that got its name to
        point here (DNS rebinding) must not read the drafts."""
        try:
            host = urlsplit("//" + (self.headers.get("Host") or "")).hostname
        except ValueError:            # not a host name at all ("[")
            return False
        return host in ("127.0.0.1", "localhost")

    def _path(self) -> str | None:
        """The path asked for, decoded; None when no site could have it: not a path from the
        root (`*`, `http://…`, `//host`), percent escapes that are not UTF-8, a control
        character (NUL), a backslash or a `..`."""
        target = self.path.split("#", 1)[0].split("?", 1)[0]
        if not target.startswith("/") or target.startswith("//"):
            return None
        try:
            path = unquote(target, errors="strict")
        except UnicodeDecodeError:
            return None
        if _UNSAFE.search(path) or ".." in path.split("/"):
            return None
        return path

    def _page(self, path: str) -> bytes | None:
        """The HTML page asked for, or None for anything else (left to the file server)."""
        file = Path(self.translate_path(self.path))
        if path.endswith("/"):
            file = file / "index.html"
        if file.suffix != ".html":
            return None
        try:
            return file.read_bytes()
        except OSError:
            return PLACEHOLDER if path in ("/", "/index.html") else None

    def send_response(self, code: int, message: str | None = None) -> None:
        self.answered = True
        super().send_response(code, message)

    def handle_one_request(self) -> None:
        """One request; whatever goes wrong in it is one line in the terminal and a 500 (while
        nothing else is sent), and the server goes on."""
        self.answered = False
        try:
            super().handle_one_request()
        except OSError:                       # the browser went away
            self.close_connection = True
        except Exception as e:                # one request must never stop the server
            self.close_connection = True
            self.live.say(f"anthology serve: internal error answering {getattr(self, 'requestline', '')[:200]!r}: "
                          f"{type(e).__name__}: {str(e)[:200]}")
            if not self.answered:
                try:
                    self.send_error(500, "internal error of anthology serve")
                except OSError:
                    pass

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
    say: Callable[[str], None] = staticmethod(lambda line: None)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """What escaped a request (the Handler catches all but a connection's end): one line,
        not the traceback socketserver prints."""
        error = sys.exc_info()[1]
        if not isinstance(error, OSError):
            self.say(f"anthology serve: internal error with a request: {type(error).__name__}: {str(error)[:200]}")


def build_site(site: Site, target: Path) -> Run:
    """The site at `target`, as `anthology build html` would write it."""
    run = Run(paths=site.paths, settings=site.settings, engine=site.engine)
    run.build = BuildRequest(EMITTERS["html"], target)
    run_stages(run, "read")
    if run.posts:
        run_stages(run, "emit", start="extract")
    return run


def serve(site: Site, port: int, open_browser: bool, out: TextIO, err: TextIO,
          crash_log: Callable[[], str]) -> int:
    """Build, serve and rebuild until Ctrl-C; 0 then.  `crash_log()` writes the traceback of
    the exception being handled to a log file and returns its path."""
    with _interruptible(), scratch_dir("serve") as scratch:
        def say(line: str) -> None:
            err.write(line + "\n")           # in one piece: the server's threads say things too
            err.flush()

        live = Live(scratch / "site", say)
        try:
            server = Server(("127.0.0.1", port), partial(Handler, live=live))
            server.say = say
        except OSError as e:
            raise PortTaken(f"--port {port}: cannot serve there ({e.strerror or e}); choose another port, "
                            "or --port 0 for any free one") from None
        threading.Thread(target=server.serve_forever, name="anthology-serve", daemon=True).start()
        watcher = Watcher(site.paths, ignore=[site.engine.cache_dir, scratch], say=say)
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        try:
            print(f"serving {url} from {live.root} (Ctrl-C stops)", file=out, flush=True)
            watcher.start()                   # before the first build: an edit while it runs is seen
            _build(site, live, out, err, crash_log, first=True)
            if open_browser:
                _open(url, out)
            quiet = progress.use(None)        # a rebuild is short: its summary line is enough
            try:
                while True:
                    changed = watcher.next()
                    names = sorted(n for n in changed if Path(n).exists()) or sorted(changed)
                    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
                    print(f"changed: {shown}", file=out, flush=True)
                    _build(site, live, out, err, crash_log, first=False)
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


def _build(site: Site, live: Live, out: TextIO, err: TextIO, crash_log: Callable[[], str],
           first: bool) -> None:
    """One build, its problems printed and published; a failure keeps the last good site."""
    started = time.perf_counter()
    failure = None
    problems: list[Diagnostic] = []
    root = root_of(site.paths, site.settings.project.path)
    broken = 0
    try:
        run = build_site(site, live.root)
    except (EngineUnavailable, SetupError, NoSuchSeries) as e:
        failure = f"error: {e}"
    except Exception as e:
        failure = (f"internal error while building: {type(e).__name__}: {str(e)[:300]} — a fault of the tool, "
                   f"not of the input; the full report is in {crash_log()}")
    else:
        problems = run.diagnostics.sorted()
        broken = sum(1 for p in run.posts for f in p.formulas if rejected(f))
        if not run.posts:
            failure = "error: no posts were read, nothing to show"
    for d in problems:
        print(d.format(root), file=err)
    if failure:
        print(f"anthology: {failure}" + ("" if first else "; still serving the last good site"), file=err)
    errors = sum(1 for d in problems if d.severity == "error")
    todo = f", {_many(broken, 'formula')} shown as source (errors.html)" if broken else ""
    if not failure:
        print(f"{'built' if first else 'rebuilt'} {_many(len(run.posts), 'post')} in "
              f"{time.perf_counter() - started:.1f} s: {_many(errors, 'error')}, "
              f"{_many(sum(1 for d in problems if d.severity == 'warning'), 'warning')}{todo}", file=out, flush=True)
    err.flush()
    live.publish(problems, failure, root, broken)


class Watcher:
    """`watch` in a thread of its own, so that what changes while a build runs is kept for
    the next one (the changes of that time come as one batch).  The watch never ends
    silently: a failure is one line (`say`) and the watch starts again — looking every
    POLL_INTERVAL seconds after three failures in a row — and a build follows, since what
    changed meanwhile is not known.  What it has to say is said by `next`, in the thread that
    builds, so that it never lands inside a line of the build's."""

    def __init__(self, paths: list[str], ignore: Iterable[Path | None],
                 say: Callable[[str], None] = lambda line: None) -> None:
        self.notes: queue.Queue[str] = queue.Queue()
        self.sources = Sources(paths, ignore, self.notes.put)
        self.say = say
        self.changes: queue.Queue[set[str]] = queue.Queue()
        self.stop = threading.Event()
        self.polling = False
        self.thread = self._thread()

    def _thread(self) -> threading.Thread:
        return threading.Thread(target=self._run, name="anthology-watch", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        try:
            self._watch()
        except BaseException:      # the thread ends, without a traceback: `next` says so and starts another
            pass

    def _watch(self) -> None:
        failures, said = 0, ""
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                for batch in watch_sources(self.sources, self.stop, self.polling):
                    self.changes.put(batch)
                return
            except Exception as e:     # whatever it was, the watch must go on
                if time.monotonic() - started >= 10:
                    failures, said = 0, ""
                failures += 1
                what = f"failed ({type(e).__name__}: {str(e)[:200]})"
                if what != said or failures == 3:         # a failure that stays is said once, not built for again
                    self._again(what, fall_back=failures >= 3)
                said = what
                self.stop.wait(min(POLL_INTERVAL * 2 ** (failures - 1), 5.0))

    def _again(self, what: str, fall_back: bool) -> None:
        """Said once; the watch goes on (by looking if `fall_back`); a build follows."""
        self.polling = self.polling or fall_back
        how = f"looking every {POLL_INTERVAL} s instead" if self.polling else "watching again"
        self.notes.put(f"watch: the watch of the sources {what}; {how}")
        self.changes.put({str(r) for r in self.sources.roots})

    def next(self) -> set[str]:
        """The files changed since the last call, once there are any."""
        while True:
            self._tell()
            try:
                changed = self.changes.get(timeout=POLL_INTERVAL)
                break
            except queue.Empty:
                if not self.thread.is_alive() and not self.stop.is_set():
                    self._again("ended", fall_back=False)
                    self.thread = self._thread()
                    self.thread.start()
        while not self.changes.empty():
            changed |= self.changes.get_nowait()
        self._tell()
        return changed

    def _tell(self) -> None:
        while not self.notes.empty():
            self.say(self.notes.get_nowait())

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=2.0)


Stamp = tuple[int, int, int, int]      # a file's inode, modification and change times, size (a copy keeps no ctime)
Identity = tuple[int, int] | None      # a folder's device and inode (None: not there)
A_FILE: Identity = (0, 0)              # a file's: only that it is there (an editor may save by renaming over it)
_EDITOR_LITTER = re.compile(r"(~|\.sw.|\.py[cod]|\.___jb_\w+___)$|^(#.*#|\.#.*|flycheck_.*|4913)$")


@dataclass
class Look:
    """The sources at one moment: the folders to watch (real ones, none reached through a
    link), each source file's stamp, and the identity of each folder or file asked for."""
    folders: set[str] = field(default_factory=set)
    stamps: dict[str, Stamp] = field(default_factory=dict)
    homes: dict[str, Identity] = field(default_factory=dict)


class Sources:
    """The source files under `paths` (files or folders), as `serve` watches them: the walk
    never follows a link (the read stage does not either), so a link to `/` or a link loop is
    skipped; it and a folder that cannot be read are named once (`say`)."""

    def __init__(self, paths: list[str], ignore: Iterable[Path | None], say: Callable[[str], None]) -> None:
        self.roots = [Path(p).absolute() for p in paths]
        self.skipped = [Path(p).absolute() for p in ignore if p is not None]
        self.skipped += [p.resolve() for p in self.skipped]
        self.say = say
        self.named: set[str] = set()

    def wanted(self, name: str) -> bool:
        """Whether a change to `name` is one to build again for (a source, not a hidden file,
        an editor's temporary, the cache or the served site)."""
        path = Path(name)
        if any(path == s or s in path.parents for s in self.skipped) or _EDITOR_LITTER.search(path.name):
            return False
        for root in self.roots:
            if path == root:
                return True
            if root in path.parents:
                return not any(part.startswith(".") for part in path.relative_to(root).parts)
        return False

    def homes(self) -> dict[str, Identity]:
        """The identity of each folder or file asked for, and of the folder of each file."""
        homes: dict[str, Identity] = {}
        for root in self.roots:
            homes[str(root)] = _identity(root)
            if homes[str(root)] == A_FILE:
                homes[str(root.parent)] = _identity(root.parent)
        return homes

    def look(self) -> Look:
        look = Look(homes=self.homes())
        for root in self.roots:
            if look.homes[str(root)] is None:
                continue
            if root.is_dir():
                self._walk(root, look)
            else:
                look.folders.add(str(root.parent))            # an editor may save by renaming over it
                if stamp := _stamp(str(root)):
                    look.stamps[str(root)] = stamp
        return look

    def _walk(self, root: Path, look: Look) -> None:
        for here, dirs, names in os.walk(root, onerror=self._unreadable):
            look.folders.add(here)
            dirs[:] = [d for d in sorted(dirs) if self._enters(Path(here, d))]
            for name in names:
                path = os.path.join(here, name)
                if not self.wanted(path):
                    continue
                if stamp := _stamp(path):
                    look.stamps[path] = stamp
                elif os.path.islink(path):
                    self._link(Path(path))

    def _enters(self, folder: Path) -> bool:
        if folder.name.startswith(".") or folder in self.skipped or built_here(folder):
            return False
        if folder.is_symlink():
            self._link(folder)
            return False
        return True

    def _link(self, link: Path) -> None:
        """Name a link the walk does not follow, unless what it leads to is watched anyway."""
        try:
            target = link.resolve(strict=True)
        except FileNotFoundError:
            return                       # a link to nothing: the read stage names it if it is a post
        except (OSError, RuntimeError):
            self._name(link, "is a symbolic link that loops: not watched")
            return
        inside = (r.resolve() for r in self.roots)
        if target.is_dir() and not any(target == r or r in target.parents for r in inside):
            self._name(link, f"is a symbolic link out of the content folder (to {target}): not watched")

    def _unreadable(self, e: OSError) -> None:
        self._name(Path(e.filename or "?"), f"cannot be read ({e.strerror or e}): not watched")

    def _name(self, path: Path, why: str) -> None:
        if str(path) not in self.named:
            self.named.add(str(path))
            self.say(f"watch: {path} {why}")


def _identity(path: Path) -> Identity:
    try:
        info = path.stat()
    except (OSError, ValueError):
        return None
    return (info.st_dev, info.st_ino) if stat.S_ISDIR(info.st_mode) else A_FILE


def _stamp(name: str) -> Stamp | None:
    try:
        info = os.stat(name)
    except (OSError, ValueError):
        return None
    return info.st_ino, info.st_mtime_ns, info.st_ctime_ns, info.st_size


def watch(paths: list[str], ignore: Iterable[Path | None] = (), stop: threading.Event | None = None,
          say: Callable[[str], None] = lambda line: None, polling: bool = False) -> Iterator[set[str]]:
    """Each batch of changed source files under `paths` (files or folders), as they come."""
    yield from watch_sources(Sources(paths, ignore, say), stop or threading.Event(), polling)


def watch_sources(sources: Sources, stop: threading.Event, polling: bool = False) -> Iterator[set[str]]:
    """Each batch of changed sources, as they come: with watchfiles (the system's notifications,
    each folder on its own, so no link is followed), else by looking every POLL_INTERVAL
    seconds.  A folder made, removed or renamed, and a folder asked for that is gone, back or
    replaced, are looked at afresh; what changed meanwhile comes as one batch."""
    polling = polling or importlib.util.find_spec("watchfiles") is None
    before = sources.look()
    while not stop.is_set():
        pending: set[str] = set()
        lost: set[str] = set()           # folders asked for that the system said were deleted
        listener = _listen(before.folders, stop, polling)
        try:
            for batch in listener:
                names = {name for _, name in batch}
                found = {n for n in names if sources.wanted(n)}
                lost = {name for change, name in batch if change == DELETED and name in before.homes
                        and name in before.folders}
                if polling or _moved(names, before, sources):
                    pending = found
                    break
                if found:
                    for n in found:
                        if stamp := _stamp(n):
                            before.stamps[n] = stamp
                        else:
                            before.stamps.pop(n, None)
                    yield found
        finally:
            listener.close()
        if stop.is_set():
            return
        now = sources.look()
        _tell(before.homes, now.homes, lost, sources.say)
        pending |= {n for n in before.stamps.keys() | now.stamps.keys() if before.stamps.get(n) != now.stamps.get(n)}
        pending |= {h for h in before.homes.keys() | now.homes.keys() if before.homes.get(h) != now.homes.get(h)}
        before = now
        if pending:
            yield pending


DELETED = 3           # watchfiles.Change.deleted


def _listen(folders: set[str], stop: threading.Event,
            polling: bool) -> Generator[set[tuple[int, str]], None, None]:
    """What the system says changed in `folders` (not below them), as (change, name), or an
    empty set every POLL_INTERVAL seconds when nothing did."""
    if polling or not folders:
        while not stop.wait(POLL_INTERVAL):
            yield set()
        return
    import watchfiles
    for batch in watchfiles.watch(*sorted(folders), watch_filter=None, debounce=800, step=50, stop_event=stop,
                                  rust_timeout=int(POLL_INTERVAL * 1000), yield_on_timeout=True,
                                  raise_interrupt=False, recursive=False, ignore_permission_denied=True):
        yield {(int(change), name) for change, name in batch}


def _moved(names: set[str], before: Look, sources: Sources) -> bool:
    """Whether the folders to watch may have changed: a folder made, removed or renamed among
    `names`, or (every quiet POLL_INTERVAL) a folder asked for gone, back or replaced."""
    if not names:
        return sources.homes() != before.homes
    return any(n in before.folders or n in before.homes or os.path.isdir(n) for n in names)


def _tell(before: dict[str, Identity], now: dict[str, Identity], lost: set[str], say: Callable[[str], None]) -> None:
    """One line for each folder or file asked for that went, came back or was replaced (a
    folder made again may get the number of the one removed: the system's word counts too)."""
    for home in sorted(before.keys() & now.keys()):
        was, new = before[home], now[home]
        if was == new and not (home in lost and new is not None):
            continue
        if new is None:
            say(f"watch: {home} is gone (moved or deleted); the last good site stays served, and "
                "it is built again when it is back")
        elif was is None:
            say(f"watch: {home} is back; building again")
        else:
            say(f"watch: {home} was replaced; watching the new one")
