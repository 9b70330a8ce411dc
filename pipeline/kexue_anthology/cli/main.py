"""The `anthology` command: check, list, build and preview collections of Chinese math posts.

    anthology check      [PATH…] [--changed REV] [--format text|github|json] [--strict]
    anthology build      html|epub|pdf [PATH…] [--out PATH] [--title T] [--subtitle S] [--author A] [--strict]
                         [each format's own options]
    anthology list       [PATH…] [--format text|json]
    anthology fetch      [PATH…]      the posts' remote images into the cache (`build … --fetch` too)
    anthology import     PATH… --to DIR
    anthology serve      [PATH…] [--port N] [--open] [--math mathml|svg]
    anthology init       [DIR]
    anthology new        TITLE [--series S]
    anthology help       front-matter|project
    anthology completion bash|zsh|fish
    anthology cache      info|prune [--cache-dir DIR] [--limit SIZE | --all]

Every command that reads posts takes --series, -q, --cache-dir/--no-cache/--cache-limit/--timeout and
--project FILE/--no-project.  Bare `anthology` prints the usage and the commands (exit 0).
With no PATH the content folder is read: the folder of the nearest anthology.toml (the working
folder or above); where there is none, the bundled sample (sample), said in one line.  The project file (anthology.toml,
config/project.py) found above the PATHs gives the book's settings; flags override it.
Exit status: 0 when all is well, 1 when a formula (or, with --strict, a warning) fails, 2 for
bad usage, a bad project file or unreadable input, 3 for a fault of the tool itself (one line
names the stage; the traceback goes to a log file), 141 (as a shell shows SIGPIPE) with no
message when the reader of the output went away, as in `anthology list | head -1`.  Progress goes
to stderr: a live display on a terminal, one line per stage otherwise; -q: none.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import functools
import json
import os
import select
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn, TextIO, cast

from kexue_anthology import SAMPLE as SAMPLE
from kexue_anthology import __version__
from kexue_anthology.cli import changed, completion, reference, scaffold
from kexue_anthology.cli.importer import planned_markdown, write_markdown
from kexue_anthology.config import project
from kexue_anthology.config.project import DEFAULT_TITLE, Project, ProjectError
from kexue_anthology.config.settings import DateError, Settings, resolve, source_date
from kexue_anthology.core import cachelimit, fileio, progress
from kexue_anthology.core.cache import default_cache_dir
from kexue_anthology.core.diagnostics import Diagnostic
from kexue_anthology.core.errors import SetupError
from kexue_anthology.core.fileio import LockTimeout, output_lock
from kexue_anthology.core.locations import root_of, shown
from kexue_anthology.core.model import Formula, Post, rejected
from kexue_anthology.core.outputs import OutputRefused, check_target, default_target
from kexue_anthology.engine.client import EngineUnavailable
from kexue_anthology.engine.options import EngineOptions
from kexue_anthology.formats import EMITTERS, Emitter
from kexue_anthology.formats.names import slug
from kexue_anthology.read.selection import NoSuchSeries
from kexue_anthology.stages import BuildRequest, Run, documents, run_stages


class UsageError(Exception):
    pass


class OutputUnwritable(Exception):
    """The command's own output cannot be written (a full disk, /dev/full): no fault of the tool."""


class _Guarded:
    """The command's standard output, whose failed writes (other than a closed pipe, which
    `main` ends quietly) are raised as OutputUnwritable instead of a fault of the tool."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as e:
            raise OutputUnwritable(e.strerror or str(e)) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as e:
            raise OutputUnwritable(e.strerror or str(e)) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


EXAMPLES = {
    "": """examples:
  anthology init blog && cd blog              a content folder with an example post
  anthology new "标题"                          a new post, dated today
  anthology check                             every formula of the content folder as the blog's MathJax sees it
  anthology serve --open                      preview the site, rebuilt on every save
  anthology build pdf --paper a5              the book, into ./out/ (or where anthology.toml says)
  anthology COMMAND --help                    a command's options and examples

With no PATH a command reads the folder of the nearest anthology.toml (the working folder or
above), whose settings (title, author…) it uses.  `anthology help front-matter` and `anthology
help project` describe a post's front matter and the project file.""",
    "check": """examples:
  anthology check posts/
  anthology check posts/ --format github      annotations for a CI workflow
  anthology check --changed origin/main       only the posts changed since that revision
  anthology check draft.md --strict -q        warnings fail too, no progress display""",
    "build": """examples:
  anthology build html posts/
  anthology build epub posts/ --series 最小熵原理 --out 最小熵原理.epub
  anthology build pdf posts/ --paper a5 --title 测试文集 --author 张三""",
    "html": """examples:
  anthology build html posts/ --out site/
  anthology build html posts/ --math svg      formulas as inline SVG instead of MathML""",
    "epub": """examples:
  anthology build epub posts/ --out book.epub
  anthology build epub posts/ --series 最小熵原理 --math svg""",
    "pdf": """examples:
  anthology build pdf posts/ --out book.pdf
  anthology build pdf posts/ --paper a5 --volumes 2
  anthology build pdf draft.md --jobs 1 --keep-build /tmp/book""",
    "list": """examples:
  anthology list posts/
  anthology list posts/ --series 最小熵原理 --format json""",
    "fetch": """examples:
  anthology fetch posts/                      every remote image of posts/, into the cache
  anthology build pdf posts/ --fetch          the same first, then the book

Images come only from the project file's [images] hosts (default: source_url's host), through
its [images] mirror when one matches. An image refused (not allowed, unsafe, not an image) is a
warning [image-refused] and is not asked for again; one that could not be fetched is a warning
[image-failed] and is asked for again next time. Warnings do not change the exit status: 0, or
1 when a post could not be read (2 when an input cannot be read at all).""",
    "import": """examples:
  anthology import scraped/ --to posts/       a scraped archive as Markdown with front matter
  anthology import page.md --to posts/ --force""",
    "serve": """examples:
  anthology serve posts/ --open
  anthology serve draft.md --port 0 --math svg""",
    "init": """examples:
  anthology init blog                         blog/ with anthology.toml, posts/hello.md, CI and pre-commit
  anthology init                              the same in the working folder""",
    "new": """examples:
  anthology new "最小熵原理（一）"                 posts/YYYY-MM-DD-1.md in the content folder
  anthology new "第二篇" --series 最小熵原理""",
    "help": """examples:
  anthology help front-matter                 the fields a post's front matter takes
  anthology help project                      the project file's tables and keys, with their defaults""",
    "cache": """examples:
  anthology cache info                        where the cache is, its size by kind, its limit
  anthology cache prune --limit 500MB         least recently used entries removed down to 500 MB
  anthology cache prune --all                 every entry removed (MathJax's npm packages stay)""",
    "completion": """examples:
  anthology completion bash > ~/.local/share/bash-completion/completions/anthology
  anthology completion zsh > ~/.zfunc/_anthology      (with fpath+=~/.zfunc before compinit)
  anthology completion fish > ~/.config/fish/completions/anthology.fish""",
}


def build_parser() -> argparse.ArgumentParser:
    def parser_of(sub: Any, name: str, help: str, description: str | None = None) -> argparse.ArgumentParser:
        made: argparse.ArgumentParser = sub.add_parser(
            name, help=help, description=description or help[:1].upper() + help[1:] + ".",
            epilog=EXAMPLES[name], formatter_class=argparse.RawDescriptionHelpFormatter)
        return made

    parser = Parser(prog="anthology", description="Check and export collections of Chinese math posts "
                    "(by default those of 科学空间, kexue.fm).", epilog=EXAMPLES[""],
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"anthology {__version__}")
    sub = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND", parser_class=Parser)

    def inputs(p: argparse.ArgumentParser, required: bool = False) -> None:
        p.add_argument("paths", nargs="+" if required else "*", metavar="PATH",
                       help="files or folders of posts" + ("" if required else
                                                           " (default: the content folder, that of the "
                                                           "nearest anthology.toml; else the bundled sample)"))
        p.add_argument("--series", metavar="NAME", help="only the posts of this series")
        group = p.add_mutually_exclusive_group()
        group.add_argument("--project", type=Path, metavar="FILE",
                           help="the project file to read (default: the first anthology.toml in the "
                                "PATHs' folder or above it, up to the git repository's top)")
        group.add_argument("--no-project", action="store_true", help="read no project file: the defaults hold")

    def quiet(p: argparse.ArgumentParser) -> None:
        p.add_argument("-q", "--quiet", action="store_true",
                       help="no progress display: only the diagnostics and the summary")

    def engine(p: argparse.ArgumentParser, used: bool = True, images: bool = False) -> None:
        unused = "" if used else " (accepted like the other commands'; this one starts no engine)"
        kept = " (the fetched images are kept there)" if images else unused
        p.add_argument("--cache-dir", type=Path, default=None, metavar="DIR",
                       help="where verdicts, drawings and fetched images are cached (default: $ANTHOLOGY_CACHE or "
                            "~/.cache/kexue-anthology)" + kept)
        p.add_argument("--no-cache", action="store_true",
                       help=("refused: fetched images are kept in the cache, so there would be nowhere to put them"
                             if images else "check and draw everything again, store nothing" + unused))
        p.add_argument("--cache-limit", type=_size, metavar="SIZE",
                       help="the cache folder's size limit, least recently used entries removed first (default: "
                            "the project file's [cache] limit, else 2 GiB; e.g. 500MB)"
                            + (" (the fetched images count toward it)" if images else unused))
        p.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                       help="seconds of processor time MathJax may spend checking one formula (drawing gets three "
                            "times as much; a formula over its limit is tried once more with three times it)"
                            + unused)

    def book(p: argparse.ArgumentParser) -> None:
        p.add_argument("--title", help=f"the collection's title (default: the project file's, else {DEFAULT_TITLE}; "
                                       "with --series the series' name)")
        p.add_argument("--subtitle", help="the subtitle (default: the project file's, else none)")
        p.add_argument("--author", help="the author (default: the project file's, else 苏剑林)")

    check = parser_of(sub, "check", "check every formula the way the blog's MathJax does")
    inputs(check)
    check.add_argument("--changed", metavar="REV",
                       help="only the posts in files changed since the git revision REV (committed, staged, "
                            "unstaged or untracked), within the PATHs (default with --changed: the working folder)")
    check.add_argument("--format", choices=("text", "github", "json"), default="text")
    check.add_argument("--strict", action="store_true", help="warnings count as errors")
    quiet(check)
    engine(check)

    build = parser_of(sub, "build", "write the collection as a static site, an EPUB or a PDF")
    formats = build.add_subparsers(dest="format", required=True, metavar="|".join(EMITTERS), parser_class=Parser)
    for emitter in EMITTERS.values():
        fmt = parser_of(formats, emitter.name, emitter.help)
        inputs(fmt)
        fmt.add_argument("--out", type=Path, metavar="PATH",
                         help=f"where (default: the project file's [outputs] {emitter.name}, else "
                              f"./out/{emitter.default_out.format(name='NAME')}"
                              + (", NAME the book's title, with --series the series' name; `make "
                                 f"{emitter.name}` writes the same file)" if "{name}" in emitter.default_out
                                 else f"; `make {emitter.name}` writes the same folder)"))
        fmt.add_argument("--force", action="store_true",
                         help="replace --out even when it holds files an earlier build did not write")
        book(fmt)
        fmt.add_argument("--strict", action="store_true",
                         help="any error or warning fails the build and nothing is written")
        fmt.add_argument("--fetch", action="store_true",
                         help="first fetch the posts' remote images not yet in the cache (as `anthology fetch`); "
                              "without it nothing is fetched")
        _declare(fmt, emitter)
        quiet(fmt)
        engine(fmt)

    lister = parser_of(sub, "list", "list the posts found: id, date, series, part, title")
    inputs(lister)
    lister.add_argument("--format", choices=("text", "json"), default="text")
    quiet(lister)
    engine(lister, used=False)

    fetch = parser_of(sub, "fetch", "fetch the posts' remote images into the cache, for builds that work offline")
    inputs(fetch)
    quiet(fetch)
    engine(fetch, used=False, images=True)

    imp = parser_of(sub, "import", "write every post read as Markdown with front matter")
    inputs(imp, required=True)
    imp.add_argument("--to", required=True, type=Path, metavar="DIR")
    imp.add_argument("--force", action="store_true", help="replace files in DIR that hold something else")
    quiet(imp)
    engine(imp, used=False)

    serve = parser_of(
        sub, "serve", "preview the site while writing: build, serve on 127.0.0.1, rebuild and reload on save",
        description="Build the site (as `build html`) into a temporary folder, serve it on 127.0.0.1 only,\n"
                    "and rebuild it whenever a source changes; the open page reloads itself and shows the\n"
                    "build's problems. Ctrl-C stops it (exit status 0) and removes the temporary folder.\n"
                    "The project file is read once, at the start.")
    inputs(serve)
    serve.add_argument("--port", type=int, default=8000, metavar="N",
                       help="the port on 127.0.0.1 (default 8000; 0: any free one)")
    serve.add_argument("--open", action="store_true", help="open the site in the web browser")
    book(serve)
    _declare(serve, EMITTERS["html"])
    quiet(serve)
    engine(serve)

    init = parser_of(sub, "init", "start a content folder: project file, example post, CI and pre-commit",
                     description="Make DIR (and its parents) and write into it a commented anthology.toml with\n"
                                 "your name, an example post (posts/hello.md and its image), a .gitignore for\n"
                                 "the outputs, a CI workflow (.github/workflows/anthology.yml) and a\n"
                                 ".pre-commit-config.yaml.  Nothing existing is replaced: one of these files\n"
                                 "there already stops it before anything is written (exit status 2).")
    init.add_argument("folder", nargs="?", type=Path, default=Path("."), metavar="DIR",
                      help="the content folder (default: the working folder)")
    quiet(init)

    new = parser_of(sub, "new", "write a new post, dated today, into the content folder",
                    description="Write a post with today's date and a fresh id into the content folder's\n"
                                "posts/ (else the folder itself; the content folder is that of the nearest\n"
                                "anthology.toml), and print its path.  No file is ever replaced.")
    new.add_argument("title", metavar="TITLE")
    new.add_argument("--series", metavar="NAME", help="the series the post belongs to")
    quiet(new)

    helper = parser_of(sub, "help", "print a reference: front-matter or project")
    helper.add_argument("topic", choices=reference.TOPICS)

    comp = parser_of(sub, "completion", "print a shell completion script for anthology",
                     description="Print a completion script for bash, zsh or fish, made from this command's own\n"
                                 "options, to be sourced by the shell.")
    comp.add_argument("shell", choices=completion.SHELLS)
    quiet(comp)
    _cache_parser(parser_of(sub, "cache", "show the cache folder's size, or prune it",
                            description="Show where the cache is and what it holds (info), or remove its least\n"
                                        "recently used entries (prune). Only the tool's own entries are ever removed."))
    return parser


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """The command; progress is shown only on the process's own stderr (`err` not given), so that
    a caller reading `out` and `err` (the tests) gets the results and the diagnostics alone.
    Output whose reader went away (`anthology list | head -1`) ends it quietly (`_pipe_closed`)."""
    _fill_closed_streams()
    streams = (out or sys.stdout, err or sys.stderr)
    try:
        status = _main(argv, out, err)
        for stream in streams:         # here, not at exit, where a closed pipe would be "ignored" aloud
            stream.flush()
        return status
    except BrokenPipeError:
        return _pipe_closed(streams)
    except (OSError, OutputUnwritable) as e:   # the output itself cannot be written (a full disk, /dev/full)
        reason = e.strerror or e if isinstance(e, OSError) else e
        with contextlib.suppress(OSError):
            print(f"anthology: error: the output cannot be written: {reason}", file=streams[1])
        return 2


def _fill_closed_streams() -> None:
    """A standard stream the process was started without (`anthology list >&-`) is os.devnull:
    else the first file opened would take its descriptor, and what is written there (or by
    the engine's worker, which inherits it) would land in that file."""
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        if getattr(sys, name) is None:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
            setattr(sys, name, open(fd, "r" if fd == 0 else "w", encoding="utf-8", closefd=False))


def _main(argv: list[str] | None, out: TextIO | None, err: TextIO | None) -> int:  # noqa: C901
    own_stderr = err is None
    out = cast(TextIO, _Guarded(out or sys.stdout))
    err = err or sys.stderr
    parser = build_parser()
    try:
        with contextlib.redirect_stdout(out):     # --help and --version, to the caller's `out`
            args = parser.parse_args(argv)
    except UsageError as e:
        print(e, file=err)
        return 2
    except SystemExit as e:             # --help, --version
        return int(e.code or 0)
    if args.command is None:            # bare `anthology`: what there is to do
        out.write(parser.format_help())
        return 0
    if args.command in LOCAL_COMMANDS:
        try:
            return LOCAL_COMMANDS[args.command](args, parser, out, err)
        except UsageError as e:
            print(f"anthology: error: {e}", file=err)
            return 2
    run = Run(paths=[str(p) for p in args.paths])
    before = progress.use(_reporter(args, err) if own_stderr else None)
    fileio.committed.clear()
    try:
        run.paths = run.paths or [str(_default_folder(args, err))]
        _check_environment(args)
        run.settings = _settings(args, run.paths, err)
        run.root = root_of(run.paths, run.settings.project.path)
        return COMMANDS[args.command](args, run, out, err)
    except ProjectError as e:
        for problem in e.problems:
            print(problem.format(), file=err)
        print("anthology: error: the project file has errors; nothing was done", file=err)
        return 2
    except (EngineUnavailable, SetupError, UsageError, OutputRefused, NoSuchSeries, changed.GitError) as e:
        print(f"anthology: error: {e}", file=err)
        return 2
    except OutputUnwritable as e:
        print(f"anthology: error: the output cannot be written: {e}", file=err)
        return 2
    except KeyboardInterrupt:
        done = _written(run)
        print(f"anthology: interrupted; {', '.join(done)} written already, whole" if done else
              "anthology: interrupted; nothing was written", file=err)
        return 130
    except BrokenPipeError:
        if _closed(out) or _closed(err):   # our reader went away; else a pipe of the tool's own broke
            raise
        return _crash(run, err)
    except Exception:                      # a fault of the tool itself: never a traceback
        return _crash(run, err)
    finally:
        progress.use(before)


PIPE_CLOSED = 141       # a shell's status for a command ended by SIGPIPE (128 + 13)


def _closed(stream: TextIO) -> bool:
    """Whether `stream` is a pipe or socket whose reader is gone (poll reports an error on it)."""
    try:
        poller = select.poll()
        poller.register(stream.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):      # no file behind it (io.StringIO), or no poll
        return False


def _pipe_closed(streams: tuple[TextIO, ...]) -> int:
    """The end of a command whose output nobody reads any more: no message (there is no one to
    read it), status PIPE_CLOSED as a shell gives a command SIGPIPE ended, and the process's
    stdout and stderr pointed at os.devnull, as Python's documentation advises, so that what is
    still buffered cannot fail again at exit ("Exception ignored … BrokenPipeError")."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for stream in streams:
            with contextlib.suppress(AttributeError, OSError, ValueError):   # not a file: nothing to point
                os.dup2(devnull, stream.fileno())
    finally:
        os.close(devnull)
    return PIPE_CLOSED


def _default_folder(args: argparse.Namespace, err: TextIO) -> Path:
    """What a command given no PATH reads: the folder of `--project FILE`, else of the nearest
    anthology.toml (config/project.py's lookup from the working folder); else with --changed the
    working folder, else the bundled sample, said in one line."""
    if getattr(args, "project", None) is not None:
        return Path(os.path.dirname(args.project) or ".")
    warnings: list[Diagnostic] = []
    found = project.find(["."], warnings)
    if found is not None:
        return Path(os.path.relpath(found.parent))
    for warning in warnings:
        print(warning.format(), file=err)
    if getattr(args, "changed", None) is not None:      # --changed: this repository
        return Path(".")
    if not getattr(args, "quiet", False):
        print(f"anthology: no {project.FILE_NAME} here or above: using the bundled sample of 科学空间's posts; "
              "run `anthology init` to start your own", file=err)
    return SAMPLE


def _declare(parser: argparse.ArgumentParser, emitter: Emitter) -> None:
    """The format's own options on its subcommand.  None marks one not given: the settings then
    hold the project file's value or the format's default (kexue_anthology.config.settings)."""
    for option in emitter.options():
        parser.add_argument(option.flag, type=option.type, choices=option.choices, metavar=option.metavar,
                            default=None, help=option.help)


def _emitter(args: argparse.Namespace) -> Emitter | None:
    """The format the command builds: `build`'s, `serve`'s html; none for the others."""
    if args.command == "serve":
        return EMITTERS["html"]
    return EMITTERS[args.format] if args.command == "build" else None


def _settings(args: argparse.Namespace, paths: list[str], err: TextIO | None = None) -> Settings:
    """The command's settings, resolved once: the project file's (`--project FILE`, else the one
    found above the PATHs; none with --no-project) with the flags given laid over them.  The
    file used is named on `err` in one line (not with -q), and so is one found but not used
    (another user's)."""
    warnings: list[Diagnostic] = []
    if args.no_project:
        found = None
    elif args.project is not None:
        if not os.path.lexists(args.project):
            raise UsageError(f"--project {args.project}: no such file")
        found = args.project
    else:
        found = project.find(paths, warnings)
    loaded = project.load(found, EMITTERS.values()) if found else Project()
    quiet = getattr(args, "quiet", False)
    for warning in warnings:
        print(warning.format(), file=err or sys.stderr)
    if found and not quiet:
        print(f"anthology: project file {project.here(found)}", file=err or sys.stderr)
    for name in ("title", "subtitle", "author", "series"):
        value = getattr(args, name, None)
        if value is not None and (problem := project.text_problem(value)):
            raise UsageError(f"--{name}: {problem}")
    emitter = _emitter(args)
    if emitter is None:
        return resolve(loaded, vars(args))
    return resolve(loaded, vars(args), emitter.math_choices, [option.name for option in emitter.options()])


def _reporter(args: argparse.Namespace, err: TextIO) -> progress.Reporter | None:
    """How progress is shown: not at all with --quiet; a live display when a person watches
    stderr on a terminal; else (CI, a pipe, a log file, TERM=dumb) one plain line per stage."""
    if getattr(args, "quiet", False):
        return None
    try:
        terminal = err.isatty()
    except (AttributeError, ValueError):          # a closed or unusual stream
        terminal = False
    if terminal and os.environ.get("TERM") != "dumb" and not os.environ.get("CI"):
        from rich.console import Console  # loaded only here: it takes a tenth of a second
        return progress.Rich(Console(file=err))
    return progress.PlainProgress(err)


def _crash(run: Run, err: TextIO) -> int:
    log = _crash_log()
    kind, value, tb = sys.exc_info()
    where = (f" in stage {run.stage}" if run.stage else "") + _working_on(tb)
    name = kind.__name__ if kind is not None else "exception"
    print(f"anthology: internal error{where}: {name}: {str(value)[:300]} — this is a fault of "
          f"the tool, not of the input; the full report is in {log}", file=err)
    return 3


def _working_on(tb: TracebackType | None) -> str:
    """The formula, else the post, else the file the failing code was working on: read off the
    innermost frames' local variables, so that no stage has to keep a note of it."""
    frames = [frame.f_locals for frame, _ in traceback.walk_tb(tb)]
    described: tuple[tuple[type, Callable[[Any], str]], ...] = (
        (Formula, lambda f: f"formula at {f.position}"),
        (Post, lambda p: f"post {p.id} ({p.position})"),
        (Path, lambda p: f"file {p}"))
    for kind, describe in described:
        for local in reversed(frames):
            found = next((v for v in local.values() if isinstance(v, kind)), None)
            if found is not None:
                return f", working on {describe(found)}"
    return ""


def _crash_log() -> str:
    """Write the traceback to a log file; its path, or where it could not be written."""
    text = f"anthology {__version__}, {dt.datetime.now().isoformat()}\nargv: {sys.argv}\n\n" + traceback.format_exc()
    for folder in (default_cache_dir() / "logs", Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=folder, prefix="anthology-crash-", suffix=".log")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            return name
        except OSError:
            continue
    return "(no log file could be written)"


def _check_environment(args: argparse.Namespace) -> None:
    """Options and environment the commands rely on, checked before any work."""
    cache = getattr(args, "cache_dir", None)
    if cache is not None and cache.exists() and not cache.is_dir():
        raise UsageError(f"--cache-dir {cache}: that is a file, not a folder")
    try:
        source_date()
    except DateError as e:
        raise UsageError(str(e)) from None


def _finish(run: Run, err: TextIO, show: bool = True) -> int:
    d = run.diagnostics
    if show:
        for item in d.sorted():
            print(item.format(run.root), file=err)
    if d.unreadable_input:
        return 2
    return 1 if d.errors else 0


def _size(text: str) -> int:
    try:
        return cachelimit.parse_size(text)
    except cachelimit.SizeError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _within_cache_limit(command: Command) -> Command:
    """The command, then its cache folder pruned when over its limit (--cache-limit, else the
    project file's, else the default; core/cachelimit.py)."""
    @functools.wraps(command)
    def run_then_prune(args: argparse.Namespace, run: Run, out: TextIO, err: TextIO) -> int:
        status = command(args, run, out, err)
        root = run.settings.cache_dir
        if root is not None:
            cachelimit.after_run(root, _cache_limit(args.cache_limit, run.settings.project))
        return status
    return run_then_prune


def _cache_limit(given: int | None, settings: Project) -> int:
    for limit in (given, settings.cache_limit):
        if limit is not None:
            return limit
    return cachelimit.DEFAULT_LIMIT


def _cache_parser(cache: argparse.ArgumentParser) -> None:
    actions = cache.add_subparsers(dest="action", required=True, metavar="info|prune", parser_class=Parser)
    info = actions.add_parser("info", help="where the cache is, its size and entries by kind, its limit")
    prune = actions.add_parser("prune", help="remove the least recently used entries down to the limit")
    which = prune.add_mutually_exclusive_group()
    which.add_argument("--limit", type=_size, metavar="SIZE",
                       help="prune down to SIZE (default: the limit of the project file found from the working "
                            "folder, else 2 GiB)")
    which.add_argument("--all", action="store_true", help="remove every entry")
    for p in (info, prune):
        p.add_argument("--cache-dir", type=Path, default=None, metavar="DIR",
                       help="the cache folder (default: $ANTHOLOGY_CACHE or ~/.cache/kexue-anthology)")
        p.add_argument("-q", "--quiet", action="store_true", help="prune: print nothing")


def cmd_cache(args: argparse.Namespace, parser: argparse.ArgumentParser, out: TextIO, err: TextIO) -> int:
    """`cache info` and `cache prune`; the limit comes from the project file found from the working folder."""
    root = args.cache_dir or default_cache_dir()
    if root.exists() and not root.is_dir():
        raise UsageError(f"--cache-dir {root}: that is a file, not a folder")
    found = project.find(["."])
    try:
        settings = project.load(found, EMITTERS.values()) if found else Project()
    except ProjectError as e:
        for problem in e.problems:
            print(problem.format(), file=err)
        raise UsageError("the project file has errors; nothing was done") from None
    limit = _cache_limit(None, settings)
    if args.action == "prune":
        target = 0 if args.all else args.limit if args.limit is not None else limit
        removed, freed = cachelimit.prune(root, target) if root.is_dir() else (0, 0)
        if not args.quiet:
            print(f"removed {removed} entries ({cachelimit.format_size(freed)}) from {root}", file=out)
        return 0
    out.write(cachelimit.describe(root, limit, found))
    return 0


@dataclass
class Summary:
    """A run's counts: `check`'s summary line and its JSON `summary`."""
    posts: int
    formulas: int
    errors: int
    warnings: int

    @classmethod
    def of(cls, run: Run) -> Summary:
        return cls(posts=len(run.posts), formulas=sum(len(p.formulas) for p in run.posts),
                   errors=run.diagnostics.errors, warnings=run.diagnostics.warnings)


@_within_cache_limit
def cmd_check(args: argparse.Namespace, run: Run, out: TextIO, err: TextIO) -> int:
    run.engine = EngineOptions.of(run.settings)
    started = time.perf_counter()
    if args.changed is not None:
        run.paths = [str(p) for p in changed.changed_files(args.changed, run.paths)]
        run.partial = True
        if not run.paths:
            if args.format == "json":
                json.dump({"summary": dataclasses.asdict(Summary(0, 0, 0, 0)), "posts": [], "formulas": [],
                           "diagnostics": []}, out, indent=1)
                out.write("\n")
            else:
                print(f"0 posts changed since {args.changed}", file=out)
            return 0
    run_stages(run, "validate")
    if args.strict:
        run.diagnostics.strict()
    d = run.diagnostics
    summary = Summary.of(run)
    if args.format == "json":
        json.dump({"summary": dataclasses.asdict(summary),
                   "posts": [dict(p.summary(), path=shown(p.path, run.root)) for p in run.posts],
                   "formulas": [formula_json(p, f, run.root) for p in run.posts for f in p.formulas],
                   "diagnostics": [diagnostic_json(x, run.root) for x in d.sorted()]},
                  out, ensure_ascii=False, indent=1)
        out.write("\n")
        return _finish(run, err, show=False)
    if args.format == "github":
        for item in d.sorted():
            print(item.format_github(run.root), file=out)
    else:
        for item in d.sorted():
            print(item.format(run.root), file=out)
    stats = run.stats.validate
    engine = f", {stats.checked} through MathJax, {stats.cached_posts} posts from cache" if stats else ""
    print(f"{summary.posts} posts, {summary.formulas} formulas, {summary.errors} errors, {summary.warnings} warnings"
          f" ({time.perf_counter() - started:.1f} s{engine})", file=out)
    return _finish(run, err, show=False)


def formula_json(post: Post, f: Formula, root: Path | None = None) -> dict[str, object]:
    return {"path": shown(f.position.path, root), "line": f.position.line, "col": f.position.col, "post": post.id,
            "display": f.display, "tex": f.tex, "ok": f.ok, "message": f.message}


def diagnostic_json(d: Diagnostic, root: Path | None = None) -> dict[str, object]:
    p = d.position
    return {"severity": d.severity, "code": d.code, "message": d.message,
            "path": d.shown_path(root), "line": p.line if p else None, "col": p.col if p else None}


def cmd_list(args: argparse.Namespace, run: Run, out: TextIO, err: TextIO) -> int:
    posts = run_stages(run, "extract").posts
    if args.format == "json":
        json.dump([dict(p.summary(), path=shown(p.path, run.root), formulas=len(p.formulas), readers=p.readers)
                   for p in posts],
                  out, ensure_ascii=False, indent=1)
        out.write("\n")
    else:
        for p in posts:
            part = "" if p.part is None else str(p.part)
            print(f"{p.id:>12}  {p.date or '':10}  {(p.series or ''):<16}  {part:>3}  {p.title}", file=out)
        print(f"{len(posts)} posts", file=out)
    return _finish(run, err)


@_within_cache_limit
def cmd_fetch(args: argparse.Namespace, run: Run, out: TextIO, err: TextIO) -> int:
    run_stages(run, "read")
    _fetch(run, out)
    return _finish(run, err)


def _fetch(run: Run, out: TextIO) -> None:
    """The posts' remote images into the cache, and the summary line (the posts read, not yet extracted)."""
    from kexue_anthology.images.fetching import fetch_posts  # loaded only here: http.client, ssl, Pillow
    if run.settings.cache_dir is None:
        raise UsageError("fetching keeps the images in the cache: --no-cache leaves nowhere to put them")
    run_stages(run, "extract", start="extract")
    documents(run)                     # the images as the build finds them: in each post's document
    counts = fetch_posts(run.posts, run.asts, run.settings.project, run.settings.cache_dir, run.diagnostics)
    print(counts.line(), file=out)


def cmd_import(args: argparse.Namespace, run: Run, out: TextIO, err: TextIO) -> int:
    run_stages(run, "extract")
    clashes = [path for path, text in planned_markdown(run.posts, args.to)
               if path.exists() and (not path.is_file() or path.read_text(encoding="utf-8", errors="replace") != text)]
    if clashes and not args.force:
        raise OutputRefused(f"--to {args.to}: {len(clashes)} file(s) there hold something else and would be "
                            f"replaced (first: {clashes[0].name}); add --force to replace them")
    written = write_markdown(run.posts, args.to)
    print(f"wrote {len(written)} posts to {args.to}", file=out)
    return _finish(run, err)


@_within_cache_limit
def cmd_build(args: argparse.Namespace, run: Run, out: TextIO, err: TextIO) -> int:
    """Everything is read, checked, numbered and drawn before anything is written."""
    settings = run.settings
    run.engine = EngineOptions.of(settings)
    started = time.perf_counter()
    emitter = EMITTERS[args.format]
    # the project's [outputs] name the whole book's files; a one-series book gets its own name
    named = None if settings.series else settings.project.output(emitter.name)
    target = args.out or named or default_target(emitter.default_out, slug(settings.title))
    written = emitter.outputs(target, settings)
    places = [(path, emitter.writes_folder) for path in written] + [(f, True) for f in emitter.other_outputs(settings)]
    for path, folder in places:                  # the plain mistakes, before a lock file is made
        _check_name(path)
        check_target(path, folder=folder, inputs=run.paths, force=True)
    run.build = BuildRequest(emitter, target)
    with contextlib.ExitStack() as locks:
        for path, _ in sorted(places, key=lambda place: os.path.abspath(place[0])):
            locks.enter_context(_locked(path, err))
        run_stages(run, "read")
        if args.fetch:
            _fetch(run, out)
        inputs: list[str | Path] = [*run.paths, *run.inputs,
                                    *(p for p in (settings.project.path, settings.project.cover) if p)]
        for path, folder in places:
            check_target(path, folder=folder, inputs=inputs, force=args.force)
        return _build_read(args, run, written, started, out, err)


def _build_read(args: argparse.Namespace, run: Run, written: list[Path], started: float,
                out: TextIO, err: TextIO) -> int:
    """The build after its posts were read and its outputs checked (and locked)."""
    if not run.posts:
        print("anthology: error: no posts were read, nothing to build", file=err)
        return _finish(run, err) or 1
    run_stages(run, "render", start="validate" if args.fetch else "extract")     # `--fetch` extracted
    if args.strict:
        run.diagnostics.strict()
        if run.diagnostics.errors:
            print("anthology: nothing written (--strict)", file=err)
            return _finish(run, err)
    run_stages(run, "emit", start="document")
    summary = Summary.of(run)
    broken = sum(1 for p in run.posts for f in p.formulas if rejected(f))
    # the author's to-do: here and in the site's errors.html, never in a published page's header
    listed = f", listed in {written[0] / 'errors.html'}" if broken and args.format == "html" else ""
    print(f"wrote {', '.join(map(str, written))}: {summary.posts} posts, {summary.formulas} formulas"
          f"{f', {broken} shown as source (MathJax rejects them{listed})' if broken else ''}"
          f" ({time.perf_counter() - started:.1f} s)", file=out)
    return _finish(run, err)


TEMPORARY_ROOM = 32      # what a temporary beside an output adds to its name: `.NAME.PID.xxxxxxxx.tmp`


def _check_name(path: Path) -> None:
    """An output name its file system cannot hold (with a temporary's beside it) refused before
    any work, not found out after the whole build."""
    folder = Path(os.path.abspath(path)).parent
    while not os.path.isdir(folder) and folder != folder.parent:
        folder = folder.parent
    try:
        limit = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    for part, most in [(p, limit) for p in path.parent.parts] + [(path.name, limit - TEMPORARY_ROOM)]:
        size = len(part.encode("utf-8", "surrogateescape"))
        if size > most:
            raise OutputRefused(f"--out {path}: a name in it is {size} bytes long, and one there may have at "
                                f"most {most}; choose a shorter one")


LOCK_WAIT = 900.0      # seconds a build waits for another writing the same output


@contextlib.contextmanager
def _locked(path: Path, err: TextIO) -> Iterator[None]:
    """No other build writes `path` while this one reads, checks and writes it."""
    def waiting() -> None:
        print(f"anthology: waiting for another build writing {path}…", file=err, flush=True)
    held = contextlib.ExitStack()
    try:
        held.enter_context(output_lock(path, waiting, LOCK_WAIT))
    except LockTimeout:
        raise OutputRefused(f"--out {path}: another build has been writing it for {LOCK_WAIT / 60:.0f} minutes; "
                            "try again when it has finished") from None
    except OSError as e:
        raise OutputRefused(f"--out {path}: cannot write there ({e.strerror or e}"
                            f"{f': {e.filename}' if e.filename else ''})") from None
    with held:
        yield


def _written(run: Run) -> list[str]:
    """The build's outputs put in place so far (all of them whole, fileio.committed)."""
    if run.build is None:
        return []
    build = run.build
    outputs = {os.path.abspath(p) for p in [*build.emitter.outputs(build.target, run.settings),
                                            *build.emitter.other_outputs(run.settings)]}
    return [str(p) for p in fileio.committed if os.path.abspath(p) in outputs]


@_within_cache_limit
def cmd_serve(args: argparse.Namespace, run: Run, out: TextIO, err: TextIO) -> int:
    from kexue_anthology.cli.serve import PortTaken, Site, serve  # loaded only here: the server and its watcher
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: a port is 0 to 65535")
    site = Site(paths=run.paths, settings=run.settings, engine=EngineOptions.of(run.settings))
    try:
        return serve(site, args.port, args.open, out, err, _crash_log)
    except PortTaken as e:
        raise UsageError(str(e)) from None


def cmd_init(args: argparse.Namespace, parser: argparse.ArgumentParser, out: TextIO, err: TextIO) -> int:
    """A new content folder (cli/scaffold.py); nothing that exists is replaced."""
    try:
        written = scaffold.init(args.folder, EMITTERS.values())
    except scaffold.ScaffoldError as e:
        raise UsageError(str(e)) from None
    if not args.quiet:
        for path in written:
            print(f"wrote {path}", file=out)
        go = "" if args.folder == Path(".") else f"cd {args.folder}\n  "
        print(f"next: fill in your name and the book's title in {project.FILE_NAME}, then\n  {go}"
              'anthology new "标题"\n  anthology check\n  anthology serve --open\n  anthology build pdf', file=out)
    return 0


def cmd_new(args: argparse.Namespace, parser: argparse.ArgumentParser, out: TextIO, err: TextIO) -> int:
    """A new post in the content folder; its path on `out`."""
    for name in ("title", "series"):
        value = getattr(args, name)
        if value is not None and (not value.strip() or (problem := project.text_problem(value, 200))):
            raise UsageError(f"{'TITLE' if name == 'title' else '--series'}: "
                             f"{'is empty' if not value.strip() else problem}")
    try:
        found = project.find(["."])
    except ProjectError as e:
        raise UsageError(e.problems[0].format()) from None
    if found is None:
        raise UsageError(f"no {project.FILE_NAME} here or above: run `anthology init` to start a content folder")
    try:
        path = scaffold.new_post(Path(os.path.relpath(found.parent)), args.title, args.series)
    except OSError as e:
        raise UsageError(f"{e.filename}: cannot be written: {e.strerror or e}") from None
    print(path, file=out)
    return 0


def cmd_help(args: argparse.Namespace, parser: argparse.ArgumentParser, out: TextIO, err: TextIO) -> int:
    out.write(reference.topic_text(args.topic, EMITTERS.values()))
    return 0


def cmd_completion(args: argparse.Namespace, parser: argparse.ArgumentParser, out: TextIO, err: TextIO) -> int:
    out.write(completion.script(parser, args.shell))
    return 0


Command = Callable[[argparse.Namespace, Run, TextIO, TextIO], int]
COMMANDS: dict[str, Command] = {"check": cmd_check, "build": cmd_build, "list": cmd_list, "import": cmd_import,
                                "serve": cmd_serve, "fetch": cmd_fetch}
# Commands that read no posts: no run, no project file, no progress.
LocalCommand = Callable[[argparse.Namespace, argparse.ArgumentParser, TextIO, TextIO], int]
LOCAL_COMMANDS: dict[str, LocalCommand] = {"init": cmd_init, "new": cmd_new, "help": cmd_help,
                                           "completion": cmd_completion, "cache": cmd_cache}
