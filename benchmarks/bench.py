"""`make bench`: throughput and build times on ../shared/corpus, each against a baseline in the same run.

    raw engine   the formulas of the corpus piped straight into the MathJax worker (node)
    cold check   `anthology check CORPUS` with an empty verdict cache (whole command)
    warm check   the same again, the corpus unchanged
    raw drawing  each distinct formula drawn (SVG + MathML) by one worker, piped straight in
    cold render  the render stage with an empty render cache (verdicts cached)
    warm render  the same again: everything from the cache
    pdf          `anthology build pdf` of the 最小熵原理 series and of the whole corpus (drawings
                 cached), time and peak memory, against WeasyPrint alone typesetting the very
                 HTML the build gave it, in the same run; target: our overhead under 20%
    collection   the whole blog's size: every post there is (seeds + corpus) copied under other
                 ids to about 600 posts (benchmarks/bench_collection.py), in one run: the cold
                 whole-collection build by stage (check, then site with drawing and documents cold,
                 EPUB, PDF --jobs 2; each stage's wall and processor time from ANTHOLOGY_TIMINGS,
                 core/timings.py); the raw MathJax worker drawing the distinct formulas against
                 the cold drawing stage, formulas/s per worker; the site and EPUB rebuilt with
                 nothing changed and after one post's edit against a warm check; PDF with --jobs 1
                 and --jobs 2 (peak memory of each process), WeasyPrint alone on the kept
                 one-document HTML, and the PDF rebuilt after one post's edit, each as a ratio,
                 processor time (user + system, children included) beside wall time

Each is run three times and the best time is kept (shared, noisy machines).  Targets: the cold
check reaches at least 70% of the raw engine's formulas/s; a warm re-check takes under 2 s.
The exit status is 1 when a target is missed.  `python -m benchmarks.bench --only collection` runs
one section (repeatable; `--posts N` sizes the collection; `--quick` measures each rebuild once
and leaves out the PDF rebuilds; `--no-pdf` leaves out the collection's PDF builds altogether, and
with them the cold whole-build target, for measuring the site and EPUB rebuilds in minutes).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from kexue_anthology.check.extract import extract
from kexue_anthology.core.diagnostics import Diagnostics
from kexue_anthology.core.model import drawable
from kexue_anthology.engine.client import WORKER, node_env, node_program
from kexue_anthology.engine.options import EngineOptions
from kexue_anthology.read import read
from kexue_anthology.stages import Run, run_stages

from benchmarks.bench_collection import copies_for, edited, make_collection, sources

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
REPEAT = 3


def best(fn, repeat=REPEAT) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def check_bench() -> bool:
    d = Diagnostics()
    posts = extract(read([str(CORPUS)], d), d)
    formulas = sum(len(p.formulas) for p in posts)
    lines = "".join(json.dumps({"id": i, "post": p.id, "tex": f.tex, "display": f.display}, ensure_ascii=False) + "\n"
                    for i, (p, f) in enumerate((p, f) for p in posts for f in p.formulas))
    node = node_program()

    def raw():
        out = subprocess.run([node, str(WORKER)], input=lines, capture_output=True, text=True, check=True)
        assert out.stdout.count("\n") == formulas + 1

    command = [sys.executable, "-m", "kexue_anthology", "check", str(CORPUS)]

    def check(cache: str):
        subprocess.run([*command, "--cache-dir", cache], capture_output=True, check=False)

    raw_s = best(raw)
    cold_times = []
    for _ in range(REPEAT):
        with tempfile.TemporaryDirectory() as cache:
            cold_times.append(best(lambda: check(cache), repeat=1))
    cold_s = min(cold_times)
    with tempfile.TemporaryDirectory() as cache:
        check(cache)
        warm_s = best(lambda: check(cache))

    print(f"corpus: {len(posts)} posts, {formulas} formulas")
    print(f"raw engine : {raw_s:6.2f} s  {formulas / raw_s:8.0f} formulas/s")
    print(f"cold check : {cold_s:6.2f} s  {formulas / cold_s:8.0f} formulas/s  "
          f"= {raw_s / cold_s:.0%} of the raw engine (target >= 70%)")
    print(f"warm check : {warm_s:6.2f} s  {formulas / warm_s:8.0f} formulas/s  (target < 2 s)")
    return raw_s / cold_s >= 0.7 and warm_s < 2


def render_bench() -> bool:
    node = node_program()
    with tempfile.TemporaryDirectory() as verdicts:
        run = run_stages(Run(paths=[str(CORPUS)], engine=EngineOptions(cache_dir=Path(verdicts))), "number")

        def stage(cache: str):
            run.engine = EngineOptions(cache_dir=Path(cache))
            run_stages(run, "render", start="render")
            return run.stats.render

        cold_times, stats = [], None
        for _ in range(REPEAT):
            with tempfile.TemporaryDirectory() as cache:
                t = time.perf_counter()
                stats = stage(cache)
                cold_times.append(time.perf_counter() - t)
        with tempfile.TemporaryDirectory() as cache:
            stage(cache)
            warm_s = best(lambda: stage(cache))
    lines = drawing_lines(run.posts)

    def raw():
        subprocess.run([node, str(WORKER)], input="".join(lines), capture_output=True, text=True, check=True)

    raw_s = best(raw, repeat=1)
    cold_s = min(cold_times)
    print(f"render: {stats.formulas} drawable formulas, {stats.distinct} distinct drawings")
    print(f"raw drawing : {raw_s:6.2f} s  {len(lines) / raw_s:8.0f} distinct formulas/s (one worker)")
    print(f"cold render : {cold_s:6.2f} s  {stats.distinct / cold_s:8.0f} distinct formulas/s  "
          f"= {raw_s / cold_s:.0%} of the raw drawing ({EngineOptions().workers()} workers)")
    print(f"warm render : {warm_s:6.2f} s  {stats.distinct / warm_s:8.0f} distinct formulas/s  (drew {stats.drawn} "
          f"cold; target: nothing drawn warm)")
    ok = run.stats.render.drawn == 0
    print("targets met" if ok else "TARGETS MISSED")
    return ok


def measured(command: list[str]) -> tuple[float, float]:
    """Wall time (s) and peak resident memory (MiB) of a child process."""
    t = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode not in (0, 1):
        raise RuntimeError(f"{command} failed with {child.returncode}")
    return time.perf_counter() - t, usage.ru_maxrss / 1024


WEASYPRINT_ALONE = ("import sys; from pathlib import Path; from kexue_anthology.formats.pdf.typeset import write_pdf; "
                    "write_pdf(Path(sys.argv[1]), Path(sys.argv[2]), b'bench')")


def pdf_bench() -> bool:
    ok = True
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        for name, extra, repeat in (("最小熵原理", ["--series", "最小熵原理"], 2), ("corpus", [], 1)):
            build = [sys.executable, "-m", "kexue_anthology", "build", "pdf", str(CORPUS), *extra,
                     "--cache-dir", str(work / "cache"), "--out", str(work / f"{name}.pdf"),
                     "--keep-build", str(work / name)]
            measured(build)                                   # drawings into the cache
            ours = min((measured(build) for _ in range(repeat)), key=lambda m: m[0])
            alone = min((measured([sys.executable, "-c", WEASYPRINT_ALONE, str(work / name / "book.html"),
                                   str(work / f"{name}-alone.pdf")]) for _ in range(repeat)), key=lambda m: m[0])
            overhead = ours[0] / alone[0] - 1
            pages = subprocess.run(["pdfinfo", str(work / f"{name}.pdf")], capture_output=True,
                                   text=True).stdout
            pages = next((line.split()[-1] for line in pages.splitlines() if line.startswith("Pages:")), "?")
            print(f"pdf {name:10}: {ours[0]:6.1f} s {ours[1]:7.0f} MiB peak, {pages} pages; WeasyPrint alone "
                  f"{alone[0]:6.1f} s {alone[1]:7.0f} MiB; overhead {overhead:+.0%} (target < 20%)")
            ok = ok and overhead < 0.2
    return ok


# The whole collection: ≈600 posts.  The PDF builds take minutes each and run once; the site and
# EPUB rebuilds are the best of CHEAP runs, the warm check (the floor of their ratios) of REPEAT.
CHEAP = 2
SAMPLE_EVERY = 0.2


def anthology(*args: str) -> list[str]:
    return [sys.executable, "-m", "kexue_anthology", *args]


@dataclass
class Timing:
    """Wall time of a command and its processor time (user + system of it and of its children)."""
    wall: float
    cpu: float

    def __str__(self) -> str:
        return f"{self.wall:8.1f} s  {self.cpu:7.1f} s cpu"


def timed(command: list[str], timings: Path | None = None) -> Timing:
    """A command that must succeed (1: the collection's rejected formulas); with `timings`, its
    stages' times are added to that file (ANTHOLOGY_TIMINGS, core/timings.py)."""
    env = dict(os.environ, **({"ANTHOLOGY_TIMINGS": str(timings)} if timings else {}))
    errors = tempfile.TemporaryFile("w+")
    t = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors, env=env)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        errors.seek(0)
        raise RuntimeError(f"{' '.join(command)} failed with {os.waitstatus_to_exitcode(status)}: "
                           f"{errors.read()[-2000:]}")
    errors.close()
    return Timing(wall, usage.ru_utime + usage.ru_stime)


def best_of(command: list[str], repeat: int = CHEAP) -> Timing:
    return min((timed(command) for _ in range(repeat)), key=lambda t: t.wall)


def stage_times(path: Path) -> list[dict]:
    """The stage records a command left in its ANTHOLOGY_TIMINGS file, in order."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def by_stage(commands: dict[str, list[dict]]) -> list[tuple[str, float, float]]:
    """(command stage, wall, cpu) of each stage over 0.05 s of wall time, and the total of each
    command as `command total` (sum of its stages: the process's start and end are left out)."""
    rows = []
    for command, records in commands.items():
        for r in records:
            if r["wall"] >= 0.05:
                rows.append((f"{command} {r['stage']}", r["wall"], r["cpu"]))
        rows.append((f"{command} total", sum(r["wall"] for r in records), sum(r["cpu"] for r in records)))
    return rows


def drawing_rates(distinct: int, raw: Timing, stage: dict) -> dict[str, float]:
    """Formulas per second per worker of the raw engine (one worker, `distinct` formulas) and of
    the pipeline's cold drawing stage (`stage`: its timings record), by wall and by processor time."""
    workers = max(1, stage.get("workers", 1))
    drawn = stage.get("drawn", 0)
    rates = {"raw wall": distinct / raw.wall, "raw cpu": distinct / raw.cpu if raw.cpu else 0.0,
             "stage wall": drawn / stage["wall"] / workers if stage["wall"] else 0.0,
             "stage cpu": drawn / stage["cpu"] if stage["cpu"] else 0.0}
    rates["wall ratio"] = rates["stage wall"] / rates["raw wall"] if rates["raw wall"] else 0.0
    rates["cpu ratio"] = rates["stage cpu"] / rates["raw cpu"] if rates["raw cpu"] else 0.0
    return rates


def listed(paths: list[Path]) -> list[dict]:
    out = subprocess.run(anthology("list", "--format", "json", *map(str, paths)), capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)


def diagnostic_kinds(paths: list[Path], cache: Path) -> Counter[str]:
    out = subprocess.run(anthology("check", "--format", "json", "--cache-dir", str(cache), *map(str, paths)),
                         capture_output=True, text=True, check=False).stdout
    return Counter(d["code"] for d in json.loads(out)["diagnostics"])


@dataclass
class Peaks:
    """Wall time of a process tree, its processor time (user + system, of every process in it that
    was waited for: on a busy machine, what the wall time would be worth), and the peak resident
    memory (MiB) of each of its processes."""
    seconds: float
    cpu: float
    main: float
    others: dict[int, tuple[str, float]]       # pid → (command name, peak)

    def largest(self, workers: bool | None = None) -> tuple[str, float]:
        """The largest process under the main one: of the Python ones (typesetting workers) for
        `workers`, of the others (pandoc, node) for `not workers`, of all for None."""
        found = [o for o in self.others.values() if workers is None or o[0].startswith("python") == workers]
        return max(found, key=lambda o: o[1], default=("-", 0.0))

    def memory(self) -> str:
        worker, other = self.largest(True), self.largest(False)
        return (f"{self.cpu:.0f} s processor; peak {self.main:.0f} MiB main process"
                + (f", {worker[1]:.0f} MiB largest worker" if worker[1] else "")
                + (f", {other[1]:.0f} MiB largest other ({other[0]})" if other[1] else ""))


def _family(root: int) -> list[int]:
    """`root` and its descendants now, from the parent of every process in /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents.setdefault(int(stat[stat.rindex(")") + 2:].split()[1]), []).append(int(entry.name))
    family, todo = [], [root]
    while todo:
        pid = todo.pop()
        family.append(pid)
        todo.extend(parents.get(pid, []))
    return family


def _high_water(pid: int) -> tuple[str, float] | None:
    """A process's name and its peak resident memory so far (VmHWM, MiB); None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    if "VmHWM" not in fields:
        return None
    return fields["Name"].strip(), int(fields["VmHWM"].split()[0]) / 1024


def sampled(command: list[str], timings: Path | None = None) -> Peaks:
    """Run `command`, sampling the peak memory of it and of every process under it every
    SAMPLE_EVERY seconds: wait4 tells only the largest of the whole tree, not whose it is.  With
    `timings`, its stages' times go to that file (ANTHOLOGY_TIMINGS)."""
    errors = tempfile.TemporaryFile("w+")              # not a pipe: nobody reads it while the command runs
    env = dict(os.environ, **({"ANTHOLOGY_TIMINGS": str(timings)} if timings else {}))
    t = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors, env=env)
    seen: dict[int, tuple[str, float]] = {}
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        for member in _family(child.pid):
            if (hw := _high_water(member)) and hw[1] >= seen.get(member, ("", 0.0))[1]:
                seen[member] = hw
        time.sleep(SAMPLE_EVERY)
    seconds = time.perf_counter() - t
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode not in (0, 1):
        errors.seek(0)
        raise RuntimeError(f"{' '.join(command)} failed with {child.returncode}: {errors.read()[-2000:]}")
    errors.close()
    main = seen.pop(child.pid, ("", 0.0))[1]
    tree = usage.ru_maxrss / 1024                      # the largest process of the tree, exactly
    if not seen or tree > max(m for _, m in seen.values()):
        main = max(main, tree)
    return Peaks(seconds, usage.ru_utime + usage.ru_stime, main, seen)


class Table:
    """The section's figures, and its targets met or missed."""

    def __init__(self) -> None:
        self.missed: list[str] = []

    def row(self, name: str, seconds: float | Timing, note: str = "") -> None:
        shown = str(seconds) if isinstance(seconds, Timing) else f"{seconds:8.1f} s"
        print(f"  {name:24} {shown}  {note}", flush=True)

    def target(self, name: str, value: float, limit: float, unit: str = "x", note: str = "") -> None:
        met = value <= limit
        print(f"  target {name}: {value:.2f}{unit} (at most {limit:g}{unit}) {'met' if met else 'MISSED'}"
              + (f"  ({note})" if note else ""), flush=True)
        if not met:
            self.missed.append(name)


def collection_bench(wanted: int = 600, quick: bool = False, pdf: bool = True) -> bool:
    """The whole collection, in one run: the cold build (check, drawing, site, EPUB, PDF) by stage,
    raw engine against drawing, then every rebuild and the PDF against WeasyPrint alone."""
    with tempfile.TemporaryDirectory(prefix="anthology-bench-") as work:
        work = Path(work)
        made = whole_collection(work, wanted)
        if made is None:
            return False
        paths, cache, edit = made
        table = Table()
        cold: dict[str, list[dict]] = {}
        builds = {fmt: anthology("build", fmt, *paths, "--cache-dir", str(cache), "--out", str(work / out))
                  for fmt, out in (("html", "site"), ("epub", "book.epub"))}
        cold["check"] = stage_times(work / "timings-check.jsonl")
        for name in ("html", "epub"):
            took = timed(builds[name], work / f"timings-{name}.jsonl")
            cold[name] = stage_times(work / f"timings-{name}.jsonl")
            table.row(f"cold {name}", took, {"html": "drawing cold, documents cold",
                                             "epub": "the first EPUB (drawings and documents cached)"}[name])
        raw_against_drawing(table, paths, cache, cold["html"], work)
        floor = best_of(anthology("check", *paths, "--cache-dir", str(cache)), 1 if quick else REPEAT)
        table.row("warm check", floor, "the floor of the rebuilds")
        for fmt, build in builds.items():
            incremental(table, fmt, build, edit, floor, 1 if quick else CHEAP)
        if pdf:
            pdf_collection(table, work, paths, cache, edit, cold, quick)
        print("  cold whole-collection build by stage (wall, processor):", flush=True)
        for name, wall, cpu in by_stage(cold):
            print(f"    {name:24} {wall:8.1f} s  {cpu:7.1f} s cpu", flush=True)
        totals = [(w, c) for n, w, c in by_stage(cold) if n.endswith(" total")]
        if pdf:
            table.target("cold whole build (check, drawing, site, EPUB, PDF --jobs 2)", sum(w for w, _ in totals) / 60,
                         5, " min", note=f"processor {sum(c for _, c in totals) / 60:.1f} min; the target is for "
                         f"the whole blog on 2 cores")
        print("targets met" if not table.missed else f"TARGETS MISSED: {', '.join(table.missed)}")
        return not table.missed


def raw_against_drawing(table: Table, paths: list[str], cache: Path, html: list[dict], work: Path) -> None:
    """The distinct formulas of the collection piped straight into one MathJax worker (as
    engine/client.py drives it) against the cold drawing stage of the first site build."""
    stage = next((r for r in html if r["stage"] == "render"), None)
    if stage is None:
        print("  raw engine: no timing of the drawing stage", flush=True)
        return
    run = run_stages(Run(paths=paths, engine=EngineOptions(cache_dir=cache)), "number")
    lines = drawing_lines(run.posts)
    (work / "formulas.jsonl").write_text("".join(lines), encoding="utf-8")
    with open(work / "formulas.jsonl", "rb") as source:
        t = time.perf_counter()
        child = subprocess.Popen([node_program(), str(WORKER)], stdin=source, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, env=node_env())
        _, _, usage = os.wait4(child.pid, 0)
    raw = Timing(time.perf_counter() - t, usage.ru_utime + usage.ru_stime)
    rates = drawing_rates(len(lines), raw, stage)
    table.row("raw engine drawing", raw, f"{len(lines)} distinct formulas, one worker: {rates['raw wall']:.0f}/s "
              f"wall, {rates['raw cpu']:.0f}/s processor")
    table.row("cold drawing stage", Timing(stage["wall"], stage["cpu"]),
              f"{stage.get('drawn', 0)} drawn by {stage.get('workers', 1)} workers: {rates['stage wall']:.0f}/s "
              f"per worker wall, {rates['stage cpu']:.0f}/s processor")
    print(f"  drawing stage per worker / raw engine: {rates['wall ratio']:.2f}x wall, {rates['cpu ratio']:.2f}x "
          f"processor (1x: the pipeline adds nothing to the engine)", flush=True)


def drawing_lines(posts) -> list[str]:
    """The worker's input lines: each distinct drawable formula once, to be drawn (SVG + MathML)."""
    seen, lines = set(), []
    for p in posts:
        for f in p.formulas:
            if drawable(f) and (f.tex, f.display) not in seen:
                seen.add((f.tex, f.display))
                lines.append(json.dumps({"id": len(lines), "post": "bench", "tex": f.tex, "display": f.display,
                                         "render": True}, ensure_ascii=False) + "\n")
    return lines


def whole_collection(work: Path, wanted: int) -> tuple[list[str], Path, Path] | None:
    """The collection below `work`, checked (count, distinct ids, the same kinds of diagnostics
    as the posts it was copied from, so many times over) with the verdicts in `work/cache`;
    the paths to build, the cache and the file of the post to edit (in the middle, by date)."""
    cache = work / "cache"
    base = listed(sources())
    copies = copies_for(len(base), wanted)
    folder = make_collection(work / "posts", copies)
    posts = listed([folder])
    ids = Counter(p["id"] for p in posts)
    # the cold check, measured: the one that fills the cache, before the checks below use it
    Table().row("cold check", timed(anthology("check", str(folder), "--cache-dir", str(cache)),
                                    work / "timings-check.jsonl"), "empty cache")
    kinds, base_kinds = diagnostic_kinds([folder], cache), diagnostic_kinds(sources(), cache)
    formulas = sum(p["formulas"] for p in posts)
    print(f"collection: {len(posts)} posts ({copies} copies of {len(base)}: seeds + corpus), {formulas} formulas",
          flush=True)
    problems = [f"{len(posts)} posts, not {copies * len(base)}"] if len(posts) != copies * len(base) else []
    problems += [f"id {i} used {n} times" for i, n in ids.items() if n > 1][:5]
    problems += [f"{code}: {kinds[code]}, not {copies} x {base_kinds[code]}"
                 for code in kinds.keys() | base_kinds.keys() if kinds[code] != copies * base_kinds[code]]
    corpus_posts = [p for p in posts if f"{os.sep}{CORPUS.name}{os.sep}" in p["path"]]
    edit = Path(corpus_posts[len(corpus_posts) // 2]["path"])
    with edited(edit, 0):
        if listed([edit])[0]["formulas"] != corpus_posts[len(corpus_posts) // 2]["formulas"] + 1:
            problems.append(f"the paragraph added to {edit} brings no formula")
    for problem in problems:
        print(f"  the copying went wrong: {problem}", file=sys.stderr)
    return None if problems else ([str(folder)], cache, edit)


def incremental(table: Table, fmt: str, build: list[str], edit: Path, floor: Timing, repeat: int) -> None:
    """A format rebuilt with nothing changed and after an edit (the first build was the cold one)."""
    same = best_of(build, repeat)
    table.row(f"{fmt} no change", same, f"{same.wall / floor.wall:5.2f}x warm check "
              f"(processor {same.cpu / floor.cpu:.2f}x)")
    edits = []
    for _ in range(repeat):
        with edited(edit, next(EDITS)):
            edits.append(timed(build))
        timed(build)                                      # back to the post as it was, not measured
    one = min(edits, key=lambda t: t.wall)
    table.row(f"{fmt} one post edited", one, f"{one.wall / floor.wall:5.2f}x warm check "
              f"(processor {one.cpu / floor.cpu:.2f}x)  ({edit.name})")
    table.target(f"{fmt} no-change rebuild / warm check", same.wall / floor.wall, 2,
                 note=f"processor {same.cpu / floor.cpu:.2f}x")
    table.target(f"{fmt} one-edit rebuild / warm check", one.wall / floor.wall, 2,
                 note=f"processor {one.cpu / floor.cpu:.2f}x")


EDITS = itertools.count(1)                             # each edit adds a formula no run has seen


def pdf_collection(table: Table, work: Path, paths: list[str], cache: Path, edit: Path,
                   cold: dict[str, list[dict]], quick: bool = False) -> None:
    """The book with --jobs 1 and --jobs 2, each from its copy of the same cache (verdicts and
    drawings, no typeset part), the rebuild after an edit (not when `quick`), then WeasyPrint
    alone on the one-document HTML; each target is printed as soon as its figures are there.  The
    --jobs 2 build's stages go into `cold` as the cold whole build's PDF."""
    help_text = subprocess.run(anthology("build", "pdf", "--help"), capture_output=True, text=True).stdout
    if "--jobs" not in help_text:
        print("  pdf: `build pdf` has no --jobs yet: not measured", flush=True)
        table.missed.append("pdf (no --jobs)")
        return
    print("  pdf: each build of the whole collection takes minutes and runs once", flush=True)
    runs, commands = {}, {}
    for jobs in (1, 2):
        shutil.copytree(cache, work / f"cache-jobs{jobs}")
        commands[jobs] = anthology("build", "pdf", *paths, "--jobs", str(jobs),
                                   "--cache-dir", str(work / f"cache-jobs{jobs}"),
                                   "--out", str(work / f"jobs{jobs}.pdf"), "--keep-build", str(work / f"kept{jobs}"))
        runs[jobs] = sampled(commands[jobs], work / f"timings-pdf{jobs}.jsonl")
        table.row(f"pdf --jobs {jobs}", runs[jobs].seconds,
                  f"{pages(work / f'jobs{jobs}.pdf')} pages; {runs[jobs].memory()}")
    cold["pdf --jobs 2"] = stage_times(work / "timings-pdf2.jsonl")
    one, two = runs[1].seconds, runs[2]
    table.target("pdf --jobs 2 / --jobs 1", two.seconds / one, 0.6, note=f"processor {two.cpu / runs[1].cpu:.2f}x")
    table.target("pdf --jobs 2 peak per process", max(two.main, two.largest()[1]) / 1024, 2, " GiB")
    if not quick:
        pdf_rebuilds(table, commands[2], edit, work, one)
    alone = sampled([sys.executable, "-c", WEASYPRINT_ALONE, str(work / "kept1" / "book.html"),
                     str(work / "alone.pdf")])
    table.row("WeasyPrint alone", alone.seconds, f"{pages(work / 'alone.pdf')} pages; {alone.memory()}")
    # processor time beside wall time: on a shared machine the wall time says what others ran too
    for jobs, limit in ((1, 1.05), (2, 0.55)):
        run = runs[jobs]
        table.target(f"pdf --jobs {jobs} / WeasyPrint alone", run.seconds / alone.seconds, limit,
                     note=f"processor time {run.cpu / alone.cpu:.2f}x: {run.cpu:.0f} s against {alone.cpu:.0f} s")


def pdf_rebuilds(table: Table, command: list[str], edit: Path, work: Path, one: float) -> None:
    """The book (--jobs 2) after one post's edit and with nothing changed, against --jobs 1."""
    with edited(edit, next(EDITS)):
        again = sampled(command)
    table.row("pdf one post edited", again.seconds, f"--jobs 2, {again.seconds / one:.2f}x --jobs 1; "
              f"{pages(work / 'jobs2.pdf')} pages; {again.memory()}")
    table.target("pdf one-edit rebuild / --jobs 1", again.seconds / one, 0.25)
    same = sampled(command)
    table.row("pdf no change", same.seconds, f"--jobs 2 (the post back as it was), {same.seconds / one:.2f}x --jobs 1")


def pages(pdf: Path) -> str:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    return next((line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")), "?")


SECTIONS = {"check": check_bench, "render": render_bench, "pdf": pdf_bench, "collection": collection_bench}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", choices=list(SECTIONS),
                        help="run this section only (repeatable; default: all)")
    parser.add_argument("--posts", type=int, default=600, help="posts in the whole collection (default 600)")
    parser.add_argument("--quick", action="store_true",
                        help="each rebuild measured once, no PDF rebuilds: every ratio, in less time")
    parser.add_argument("--no-pdf", action="store_true",
                        help="the collection section without its PDF builds (and the cold whole-build target)")
    args = parser.parse_args(argv)
    if not CORPUS.is_dir():
        print(f"bench: needs the corpus at {CORPUS}", file=sys.stderr)
        return 2
    ok = True
    for name in args.only or list(SECTIONS):
        print(f"== {name}", flush=True)
        ok = (collection_bench(args.posts, args.quick, not args.no_pdf) if name == "collection"
              else SECTIONS[name]()) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
