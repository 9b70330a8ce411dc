"""The `anthology` command: check, list and import posts of 科学空间.

    anthology check  [PATH…] [--format text|github|json] [--strict]
    anthology build  html|epub|pdf [PATH…] [--series NAME] [--out PATH] [--math mathml|svg] [--strict]
    anthology list   [PATH…] [--format text|json]
    anthology import PATH… --to DIR

With no PATH the bundled sample (content/seeds) is read.  Exit status: 0 when all is well,
1 when a formula (or, with --strict, a warning) fails, 2 for bad usage or unreadable input,
3 for a fault of the tool itself (one line names the stage; the traceback goes to a log file).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Optional, TextIO

from pipeline import __version__
from pipeline.assemble import assemble
from pipeline.cache import Cache, default_cache_dir
from pipeline.emit import EMITTERS, BuildOptions
from pipeline.emit.common import SetupError, slug
from pipeline.importer import planned_markdown, write_markdown
from pipeline.mathjax.client import EngineUnavailable
from pipeline.model import Formula, Post
from pipeline.outputs import OutputRefused, check_target, default_target
from pipeline.stages import NoSuchSeries, Run, run_stages, select
from pipeline.render import rejected
from pipeline.validate import EngineOptions

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "content" / "seeds"


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="anthology", description="Check and export the posts of 科学空间 (kexue.fm).")
    parser.add_argument("--version", action="version", version=f"anthology {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    def inputs(p):
        p.add_argument("paths", nargs="*", metavar="PATH",
                       help="files or folders of posts (default: the bundled sample, content/seeds)")
        p.add_argument("--series", help="only the posts of this series")

    def engine(p):
        p.add_argument("--cache-dir", type=Path, default=None,
                       help="where verdicts and drawings are cached (default: $ANTHOLOGY_CACHE or "
                            "~/.cache/kexue-anthology)")
        p.add_argument("--no-cache", action="store_true", help="check and draw everything again, store nothing")
        p.add_argument("--timeout", type=float, default=10.0, help="seconds of processor time MathJax may spend checking one formula (drawing gets three "
                            "times as much; a formula over its limit is tried once more with three times it)")

    check = sub.add_parser("check", help="check every formula the way the blog's MathJax does")
    inputs(check)
    check.add_argument("--format", choices=("text", "github", "json"), default="text")
    check.add_argument("--strict", action="store_true", help="warnings count as errors")
    engine(check)

    build = sub.add_parser("build", help="write the collection as a static site, an EPUB or a PDF")
    build.add_argument("format", choices=sorted(EMITTERS), help="what to write")
    inputs(build)
    build.add_argument("--out", type=Path, help="where (default: ./out/site, ./out/NAME.epub, ./out/NAME.pdf)")
    build.add_argument("--force", action="store_true",
                       help="replace --out even when it holds files an earlier build did not write")
    build.add_argument("--math", choices=("mathml", "svg"), default="mathml",
                       help="html and epub: MathML (default) or SVG drawings")
    build.add_argument("--paper", choices=("a4", "a5", "b5"), default="a4", help="pdf: the paper size")
    build.add_argument("--keep-build", type=Path, metavar="DIR",
                       help="pdf: also keep the book's HTML, stylesheets and drawings in DIR")
    build.add_argument("--title", help="the collection's title (default: 科学空间文集, or the series name)")
    build.add_argument("--strict", action="store_true",
                       help="any error or warning fails the build and nothing is written")
    engine(build)

    lister = sub.add_parser("list", help="list the posts found: id, date, series, part, title")
    inputs(lister)
    lister.add_argument("--format", choices=("text", "json"), default="text")

    imp = sub.add_parser("import", help="write every post read as Markdown with front matter")
    imp.add_argument("paths", nargs="+", metavar="PATH")
    imp.add_argument("--to", required=True, type=Path, metavar="DIR")
    imp.add_argument("--force", action="store_true", help="replace files in DIR that hold something else")
    return parser


def main(argv: Optional[list[str]] = None, out: TextIO = None, err: TextIO = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        args = build_parser().parse_args(argv)
    except UsageError as e:
        print(e, file=err)
        return 2
    except SystemExit as e:             # --help, --version
        return int(e.code or 0)
    run = Run(paths=[str(p) for p in (args.paths or [SAMPLE])])
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


def _crash(run: Run, err: TextIO) -> int:
    log = _crash_log()
    kind, value, tb = sys.exc_info()
    where = (f" in stage {run.stage}" if run.stage else "") + _working_on(tb)
    print(f"anthology: internal error{where}: {kind.__name__}: {str(value)[:300]} — this is a fault of "
          f"the tool, not of the input; the full report is in {log}", file=err)
    return 3


def _working_on(tb) -> str:
    """The formula, else the post, else the file the failing code was working on: read off the
    innermost frames' local variables, so that no stage has to keep a note of it."""
    frames = [frame.f_locals for frame, _ in traceback.walk_tb(tb)]
    for kind, describe in ((Formula, lambda f: f"formula at {f.position}"),
                           (Post, lambda p: f"post {p.id} ({p.position})"),
                           (Path, lambda p: f"file {p}")):
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


def _check_environment(args) -> None:
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
                             "of seconds since 1970-01-01 (and before the year 10000)")


def _finish(run: Run, err: TextIO, show: bool = True) -> int:
    d = run.diagnostics
    if show:
        for item in d.sorted():
            print(item.format(), file=err)
    if d.unreadable_input:
        return 2
    return 1 if d.errors else 0


def _engine(args) -> EngineOptions:
    cache_dir = None if args.no_cache else (args.cache_dir or default_cache_dir())
    return EngineOptions(cache_dir=cache_dir, timeout=args.timeout)


def cmd_check(args, run: Run, out: TextIO, err: TextIO) -> int:
    run.engine = _engine(args)
    started = time.perf_counter()
    run_stages(run, "read")
    run.posts = select(run.posts, args.series, run.diagnostics)
    run_stages(run, "validate", start="extract")
    if args.strict:
        run.diagnostics.strict()
    d = run.diagnostics
    formulas = sum(len(p.formulas) for p in run.posts)
    summary = {"posts": len(run.posts), "formulas": formulas, "errors": d.errors, "warnings": d.warnings}
    if args.format == "json":
        json.dump({"summary": summary,
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
    stats = run.stats.get("validate")
    engine = f", {stats.checked} through MathJax, {stats.cached_posts} posts from cache" if stats else ""
    print(f"{summary['posts']} posts, {formulas} formulas, {d.errors} errors, {d.warnings} warnings"
          f" ({time.perf_counter() - started:.1f} s{engine})", file=out)
    return _finish(run, err, show=False)


def formula_json(post, f) -> dict:
    return {"path": f.position.path, "line": f.position.line, "col": f.position.col, "post": post.id,
            "display": f.display, "tex": f.tex, "ok": f.ok, "message": f.message}


def diagnostic_json(d) -> dict:
    p = d.position
    return {"severity": d.severity, "code": d.code, "message": d.message,
            "path": p.path if p else d.path, "line": p.line if p else None, "col": p.col if p else None}


def cmd_list(args, run: Run, out: TextIO, err: TextIO) -> int:
    run_stages(run, "extract")
    posts = select(run.posts, args.series, run.diagnostics)
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


def cmd_import(args, run: Run, out: TextIO, err: TextIO) -> int:
    run_stages(run, "extract")
    clashes = [path for path, text in planned_markdown(run.posts, args.to)
               if path.exists() and (not path.is_file() or path.read_text(encoding="utf-8", errors="replace") != text)]
    if clashes and not args.force:
        raise OutputRefused(f"--to {args.to}: {len(clashes)} file(s) there hold something else and would be "
                            f"replaced (first: {clashes[0].name}); add --force to replace them")
    written = write_markdown(run.posts, args.to)
    print(f"wrote {len(written)} posts to {args.to}", file=out)
    return _finish(run, err)


def cmd_build(args, run: Run, out: TextIO, err: TextIO) -> int:
    """Everything is read, checked, numbered and drawn before anything is written."""
    run.engine = _engine(args)
    started = time.perf_counter()
    title = args.title or (args.series if args.series else "科学空间文集")
    target = args.out or default_target(args.format, slug(title))
    check_target(target, folder=args.format == "html", inputs=run.paths, force=args.force)
    if args.keep_build:
        check_target(args.keep_build, folder=True, inputs=run.paths, force=args.force)
    run_stages(run, "read")
    run.posts = select(run.posts, args.series, run.diagnostics)
    if not run.posts:
        print("anthology: error: no posts were read, nothing to build", file=err)
        return _finish(run, err) or 1
    run_stages(run, "render", start="extract")
    if args.strict:
        run.diagnostics.strict()
        if run.diagnostics.errors:
            print("anthology: nothing written (--strict)", file=err)
            return _finish(run, err)
    run.stage = "assemble"
    collection = assemble(run.posts, run.numbers, run.renders, title=title,
                          cache=Cache(run.engine.cache_dir, "documents"), diagnostics=run.diagnostics)
    run.stage = f"emit {args.format}"
    EMITTERS[args.format](collection, target, BuildOptions(math=args.math, paper=args.paper, title=title,
                                                                  keep_build=args.keep_build), run.diagnostics)
    formulas = sum(len(p.formulas) for p in run.posts)
    broken = sum(1 for p in run.posts for f in p.formulas if rejected(f))
    print(f"wrote {target}: {len(run.posts)} posts, {formulas} formulas"
          f"{f', {broken} shown as source (MathJax rejects them)' if broken else ''}"
          f" ({time.perf_counter() - started:.1f} s)", file=out)
    return _finish(run, err)


COMMANDS = {"check": cmd_check, "build": cmd_build, "list": cmd_list, "import": cmd_import}
