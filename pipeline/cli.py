"""The `anthology` command: check, list and import posts of 科学空间.

    anthology check  [PATH…] [--format text|github|json] [--strict] [-q]
    anthology build  html|epub|pdf [PATH…] [--series NAME] [--out PATH] [--strict] [-q] [each format's own options]
    anthology list   [PATH…] [--format text|json] [-q]
    anthology import PATH… --to DIR [-q]
    anthology serve  [PATH…] [--port N] [--open] [--math mathml|svg] [--cache-dir DIR]

With no PATH the bundled sample (pipeline/sample) is read.  Exit status: 0 when all is well,
1 when a formula (or, with --strict, a warning) fails, 2 for bad usage or unreadable input,
3 for a fault of the tool itself (one line names the stage; the traceback goes to a log file).
Progress goes to stderr: a live display on a terminal, one line per stage otherwise; -q: none.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn, TextIO

from pipeline import __version__, progress
from pipeline.assemble import DEFAULT_TITLE
from pipeline.cache import default_cache_dir
from pipeline.diagnostics import Diagnostic
from pipeline.emit import EMITTERS, BuildOptions
from pipeline.emit.common import SetupError, slug
from pipeline.importer import planned_markdown, write_markdown
from pipeline.mathjax.client import EngineUnavailable
from pipeline.mathjax.options import EngineOptions
from pipeline.model import Formula, Post, rejected
from pipeline.outputs import OutputRefused, check_target, default_target
from pipeline.stages import BuildRequest, NoSuchSeries, Run, run_stages

SAMPLE = Path(__file__).resolve().parent / "sample"     # the bundled sample, package data


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="anthology", description="Check and export the posts of 科学空间 (kexue.fm).")
    parser.add_argument("--version", action="version", version=f"anthology {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    def inputs(p: argparse.ArgumentParser) -> None:
        p.add_argument("paths", nargs="*", metavar="PATH",
                       help="files or folders of posts (default: the bundled sample, pipeline/sample)")
        p.add_argument("--series", help="only the posts of this series")

    def quiet(p: argparse.ArgumentParser) -> None:
        p.add_argument("-q", "--quiet", action="store_true",
                       help="no progress display: only the diagnostics and the summary")

    def engine(p: argparse.ArgumentParser) -> None:
        p.add_argument("--cache-dir", type=Path, default=None,
                       help="where verdicts and drawings are cached (default: $ANTHOLOGY_CACHE or "
                            "~/.cache/kexue-anthology)")
        p.add_argument("--no-cache", action="store_true", help="check and draw everything again, store nothing")
        p.add_argument("--timeout", type=float, default=10.0,
                       help="seconds of processor time MathJax may spend checking one formula (drawing gets three "
                            "times as much; a formula over its limit is tried once more with three times it)")

    check = sub.add_parser("check", help="check every formula the way the blog's MathJax does")
    inputs(check)
    check.add_argument("--format", choices=("text", "github", "json"), default="text")
    check.add_argument("--strict", action="store_true", help="warnings count as errors")
    quiet(check)
    engine(check)

    build = sub.add_parser("build", help="write the collection as a static site, an EPUB or a PDF")
    formats = build.add_subparsers(dest="format", required=True, metavar="|".join(EMITTERS), parser_class=Parser)
    for emitter in EMITTERS.values():
        fmt = formats.add_parser(emitter.name, help=emitter.help)
        inputs(fmt)
        fmt.add_argument("--out", type=Path, help=f"where (default: ./out/{emitter.default_out.format(name='NAME')})")
        fmt.add_argument("--force", action="store_true",
                         help="replace --out even when it holds files an earlier build did not write")
        fmt.add_argument("--title", help=f"the collection's title (default: {DEFAULT_TITLE}, or the series name)")
        fmt.add_argument("--strict", action="store_true",
                         help="any error or warning fails the build and nothing is written")
        emitter.add_options(fmt)
        quiet(fmt)
        engine(fmt)

    lister = sub.add_parser("list", help="list the posts found: id, date, series, part, title")
    inputs(lister)
    lister.add_argument("--format", choices=("text", "json"), default="text")
    quiet(lister)

    imp = sub.add_parser("import", help="write every post read as Markdown with front matter")
    imp.add_argument("paths", nargs="+", metavar="PATH")
    imp.add_argument("--to", required=True, type=Path, metavar="DIR")
    imp.add_argument("--force", action="store_true", help="replace files in DIR that hold something else")
    quiet(imp)

    serve = sub.add_parser(
        "serve", help="preview the site while writing: build, serve on 127.0.0.1, rebuild and reload on save",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Build the site (as `build html`) into a temporary folder, serve it on 127.0.0.1 only,\n"
                    "and rebuild it whenever a source changes; the open page reloads itself and shows the\n"
                    "build's problems. Ctrl-C stops it (exit status 0) and removes the temporary folder.",
        epilog="examples:\n  anthology serve posts/ --open\n  anthology serve draft.md --port 0 --math svg")
    inputs(serve)
    serve.add_argument("--port", type=int, default=8000, help="the port on 127.0.0.1 (default 8000; 0: any free one)")
    serve.add_argument("--open", action="store_true", help="open the site in the web browser")
    serve.add_argument("--title", help=f"the collection's title (default: {DEFAULT_TITLE}, or the series name)")
    EMITTERS["html"].add_options(serve)
    quiet(serve)
    engine(serve)
    return parser


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """The command; progress is shown only on the process's own stderr (`err` not given), so that
    a caller reading `out` and `err` (the tests) gets the results and the diagnostics alone."""
    own_stderr = err is None
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        args = build_parser().parse_args(argv)
    except UsageError as e:
        print(e, file=err)
        return 2
    except SystemExit as e:             # --help, --version
        return int(e.code or 0)
    run = Run(paths=[str(p) for p in (args.paths or [SAMPLE])], series=getattr(args, "series", None))
    before = progress.use(_reporter(args, err) if own_stderr else None)
    try:
        _check_environment(args)
        return COMMANDS[args.command](args, run, out, err)
    except (EngineUnavailable, SetupError, UsageError, OutputRefused, NoSuchSeries) as e:
        print(f"anthology: error: {e}", file=err)
        return 2
    except KeyboardInterrupt:
        print("anthology: interrupted; nothing was written", file=err)
        return 130
    except Exception:                      # a fault of the tool itself: never a traceback
        return _crash(run, err)
    finally:
        progress.use(before)


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
    return progress.Plain(err)


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
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is not None and epoch.strip():
        try:
            dt.datetime.fromtimestamp(int(epoch), tz=dt.timezone.utc)
        except (ValueError, OverflowError, OSError):
            raise UsageError(f"SOURCE_DATE_EPOCH={epoch[:40]!r} is not a date: it must be a whole number "
                             "of seconds since 1970-01-01 (and before the year 10000)") from None


def _finish(run: Run, err: TextIO, show: bool = True) -> int:
    d = run.diagnostics
    if show:
        for item in d.sorted():
            print(item.format(), file=err)
    if d.unreadable_input:
        return 2
    return 1 if d.errors else 0


def _engine(args: argparse.Namespace) -> EngineOptions:
    cache_dir = None if args.no_cache else (args.cache_dir or default_cache_dir())
    return EngineOptions(cache_dir=cache_dir, timeout=args.timeout)


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


def cmd_check(args: argparse.Namespace, run: Run, out: TextIO, err: TextIO) -> int:
    run.engine = _engine(args)
    started = time.perf_counter()
    run_stages(run, "validate")
    if args.strict:
        run.diagnostics.strict()
    d = run.diagnostics
    summary = Summary.of(run)
    if args.format == "json":
        json.dump({"summary": dataclasses.asdict(summary),
                   "posts": [p.summary() for p in run.posts],
                   "formulas": [formula_json(p, f) for p in run.posts for f in p.formulas],
                   "diagnostics": [diagnostic_json(x) for x in d.sorted()]},
                  out, ensure_ascii=False, indent=1)
        out.write("\n")
        return _finish(run, err, show=False)
    if args.format == "github":
        for item in d.sorted():
            print(item.format_github(), file=out)
    else:
        for item in d.sorted():
            print(item.format(), file=out)
    stats = run.stats.validate
    engine = f", {stats.checked} through MathJax, {stats.cached_posts} posts from cache" if stats else ""
    print(f"{summary.posts} posts, {summary.formulas} formulas, {summary.errors} errors, {summary.warnings} warnings"
          f" ({time.perf_counter() - started:.1f} s{engine})", file=out)
    return _finish(run, err, show=False)


def formula_json(post: Post, f: Formula) -> dict[str, object]:
    return {"path": f.position.path, "line": f.position.line, "col": f.position.col, "post": post.id,
            "display": f.display, "tex": f.tex, "ok": f.ok, "message": f.message}


def diagnostic_json(d: Diagnostic) -> dict[str, object]:
    p = d.position
    return {"severity": d.severity, "code": d.code, "message": d.message,
            "path": p.path if p else d.path, "line": p.line if p else None, "col": p.col if p else None}


def cmd_list(args: argparse.Namespace, run: Run, out: TextIO, err: TextIO) -> int:
    posts = run_stages(run, "extract").posts
    if args.format == "json":
        json.dump([dict(p.summary(), formulas=len(p.formulas), readers=p.readers) for p in posts],
                  out, ensure_ascii=False, indent=1)
        out.write("\n")
    else:
        for p in posts:
            part = "" if p.part is None else str(p.part)
            print(f"{p.id:>12}  {p.date or '':10}  {(p.series or ''):<16}  {part:>3}  {p.title}", file=out)
        print(f"{len(posts)} posts", file=out)
    return _finish(run, err)


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


def cmd_build(args: argparse.Namespace, run: Run, out: TextIO, err: TextIO) -> int:
    """Everything is read, checked, numbered and drawn before anything is written."""
    run.engine = _engine(args)
    started = time.perf_counter()
    emitter = EMITTERS[args.format]
    title = args.title or args.series or DEFAULT_TITLE
    # the options this format added to its subcommand; the others keep their defaults
    options = BuildOptions(title=title, **{f.name: getattr(args, f.name) for f in dataclasses.fields(BuildOptions)
                                          if f.name != "title" and hasattr(args, f.name)})
    options.cache_dir = run.engine.cache_dir
    target = args.out or default_target(emitter.default_out, slug(title))
    written = emitter.outputs(target, options)
    for path in written:
        check_target(path, folder=emitter.writes_folder, inputs=run.paths, force=args.force)
    for folder in emitter.other_outputs(options):
        check_target(folder, folder=True, inputs=run.paths, force=args.force)
    run.build = BuildRequest(emitter, target, options)
    run_stages(run, "read")
    if not run.posts:
        print("anthology: error: no posts were read, nothing to build", file=err)
        return _finish(run, err) or 1
    run_stages(run, "render", start="extract")
    if args.strict:
        run.diagnostics.strict()
        if run.diagnostics.errors:
            print("anthology: nothing written (--strict)", file=err)
            return _finish(run, err)
    run_stages(run, "emit", start="document")
    summary = Summary.of(run)
    broken = sum(1 for p in run.posts for f in p.formulas if rejected(f))
    print(f"wrote {', '.join(map(str, written))}: {summary.posts} posts, {summary.formulas} formulas"
          f"{f', {broken} shown as source (MathJax rejects them)' if broken else ''}"
          f" ({time.perf_counter() - started:.1f} s)", file=out)
    return _finish(run, err)


def cmd_serve(args: argparse.Namespace, run: Run, out: TextIO, err: TextIO) -> int:
    from pipeline.serve import PortTaken, Settings, serve  # loaded only here: the server and its watcher
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: a port is 0 to 65535")
    settings = Settings(paths=run.paths, series=run.series, engine=_engine(args), math=args.math, title=args.title)
    try:
        return serve(settings, args.port, args.open, out, err, _crash_log)
    except PortTaken as e:
        raise UsageError(str(e)) from None


Command = Callable[[argparse.Namespace, Run, TextIO, TextIO], int]
COMMANDS: dict[str, Command] = {"check": cmd_check, "build": cmd_build, "list": cmd_list, "import": cmd_import,
                                "serve": cmd_serve}
