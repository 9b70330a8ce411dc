"""The render stage: every distinct formula drawn once by MathJax, as SVG and as MathML.

A drawing depends on the TeX as drawn (each `\\ref`/`\\eqref` already replaced by a link to
our anchor with our number, see `drawn_tex`), display mode, the macros in scope (the post's
earlier formulas that define something) and the engine (the worker's fingerprint, and
`DRAWING_VERSION` for our finishing of MathJax's output); the cache key is a hash of exactly
these, so a formula shared by many posts is drawn once, and a second build of an unchanged
collection starts no engine.  Formulas that failed validation and bare references are not
drawn: the emitters show the former as their source in a marked box and the latter as links.

The worker replays the formulas of a post that change its state (`stateful`), in page order
up to the last one to draw (the page's
macros and `\\require`s), drawing only the formulas missing from the cache.  SVGs come back
without MathJax's tags; `Render.rows` says where each tagged row's baseline lies so that the
emitters set the numbers level with their rows.
"""

from __future__ import annotations

import re
import threading
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from kexue_anthology.check.number import PostNumbers, Reference
from kexue_anthology.core.cache import Cache, key
from kexue_anthology.core.diagnostics import Diagnostics
from kexue_anthology.core.model import Formula, Post, drawable, replayable
from kexue_anthology.engine.client import Request, Worker, fingerprint
from kexue_anthology.engine.options import EngineOptions
from kexue_anthology.formulas.drawing import DRAWING_VERSION, Render, finish

# Render, this stage's output, is made beside the worker, in kexue_anthology.formulas.drawing.
__all__ = ["Render", "RenderStats", "drawn_tex", "render"]

DEFINES = re.compile(r"\\(?:(?:re|provide)?newcommand|(?:re)?newenvironment|[gex]?def|let|"
                     r"DeclareMathOperator|require|Newextarrow)(?![A-Za-z])")
REF = re.compile(r"\\(eqref|ref)\s*\{([^{}]*)\}")
DRAW_TIME_FACTOR = 3


@dataclass
class RenderStats:
    formulas: int = 0         # drawable formulas in the collection
    distinct: int = 0
    drawn: int = 0            # went through the engine this run
    cached: int = 0


def drawn_tex(f: Formula, refs: list[Reference], linked: bool = True) -> str:
    """The formula with every \\ref/\\eqref replaced by our number, as a link to our anchor
    (MathJax alone cannot resolve a reference to a later formula), or as plain text for
    `linked=False`.  Left as it is when the references written do not match the ones MathJax read."""
    found = list(REF.finditer(f.tex))
    if not found or [m.group(2) for m in found] != [r.label for r in refs]:
        return f.tex
    out, pos = [], 0
    for m, ref in zip(found, refs, strict=True):
        out.append(f.tex[pos:m.start()])
        shown = "\\text{" + ref.shown + "}"
        if linked and ref.target:
            shown = f"\\href{{#{ref.target.anchor}}}{{{shown}}}"
        out.append("{" + shown + "}")
        pos = m.end()
    out.append(f.tex[pos:])
    return "".join(out)


def render(posts: list[Post], numbers: dict[str, PostNumbers], diagnostics: Diagnostics,
           options: EngineOptions) -> tuple[dict[tuple[str, int], Render], RenderStats]:
    """Renders of every drawable formula, by (post id, formula index)."""
    stats = RenderStats()
    cache = Cache(options.cache_dir, "renders")
    engine = (fingerprint(), DRAWING_VERSION)
    keys, texts, alts, wanted = _keys(posts, numbers, engine)
    known: dict[str, Render] = {}                     # every drawing the packs read hold
    home: dict[str, str] = {}                         # key → the post whose pack holds its drawing
    held: dict[str, dict[str, str]] = {}              # post id → its pack as read: key → the post holding it
    read: set[str] = set()

    def read_pack(post_id: str) -> dict[str, str]:
        read.add(post_id)
        drawings, elsewhere = _read_pack(cache.get(pack_key(engine, post_id)))
        for k, drawing in drawings.items():
            known.setdefault(k, drawing)
            home.setdefault(k, post_id)
        return {**elsewhere, **dict.fromkeys(drawings, post_id)}

    for post_id in wanted:
        held[post_id] = read_pack(post_id)
    for pack in list(held.values()):                  # drawings in the pack of a post not built now
        for k, holder in pack.items():
            if k not in known and holder not in read:
                read_pack(holder)
    for k, holder in list(home.items()):              # held by a post that no longer has it: moves
        if holder in wanted and k not in wanted[holder]:
            del home[k]
    missing: dict[str, tuple[str, int]] = {}          # key → first formula with it
    for where, k in keys.items():
        if k not in known and k not in missing:
            missing[k] = where
    stats.formulas = len(keys)
    stats.distinct = len(set(keys.values()))
    drawn: dict[str, Render] = {}
    try:
        if missing:
            _draw(posts, texts, alts, missing, drawn, diagnostics, options)
    finally:                          # also when stopped: what was drawn is kept
        known.update(drawn)
        _write_packs(cache, engine, wanted, known, home, held)
    stats.drawn = len(missing)
    stats.cached = stats.distinct - stats.drawn
    renders = {where: drawing for where, k in keys.items() if (drawing := known.get(k)) is not None}
    return renders, stats


def _keys(posts: list[Post], numbers: dict[str, PostNumbers], engine: tuple[str, int]) -> tuple[
        dict[tuple[str, int], str], dict[tuple[str, int], str], dict[str, str], dict[str, dict[str, None]]]:
    """Each drawable formula's cache key and every formula's TeX as drawn, by (post id, index);
    each key's alt text (from its first formula); each post's keys, in order."""
    keys: dict[tuple[str, int], str] = {}
    texts: dict[tuple[str, int], str] = {}
    alts: dict[str, str] = {}
    wanted: dict[str, dict[str, None]] = {}
    for post in posts:
        scope: list[str] = []
        refs = numbers[post.id].refs if post.id in numbers else {}
        own = wanted.setdefault(post.id, {})
        for f in post.formulas:
            tex = drawn_tex(f, refs.get(f.index, []))
            texts[(post.id, f.index)] = tex
            if drawable(f):
                k = key(engine, tex, f.display, scope)
                keys[(post.id, f.index)] = k
                own[k] = None
                alts.setdefault(k, drawn_tex(f, refs.get(f.index, []), linked=False))
            if DEFINES.search(f.tex):
                scope.append(f.tex)
    return keys, texts, alts, wanted


def pack_key(engine: tuple[str, int], post_id: str) -> str:
    """The cache entry of a post's drawings: one file per post, so that a build with nothing to
    draw reads few files.  Named by the post, not by its formulas, so that an edit redraws only
    the formulas it changed: the pack holds each drawing under its own key, and is rewritten
    whenever the post's drawings change.  A drawing the post shares with another is held by
    one pack only, the others name that post (`{"in": post id}`)."""
    return key("drawings of a post", engine, post_id)


def _write_packs(cache: Cache, engine: tuple[str, int], wanted: dict[str, dict[str, None]],
                 known: dict[str, Render], home: dict[str, str], held: dict[str, dict[str, str]]) -> None:
    """Each post's pack, where it changed: its drawings, each held by the post `home` names
    (else by the first post that has it) and named by the others."""
    for post_id, own in wanted.items():
        layout = {k: home.setdefault(k, post_id) for k in own if k in known}
        if layout != held[post_id]:
            cache.put(pack_key(engine, post_id), {k: asdict(known[k]) if where == post_id else {"in": where}
                                                  for k, where in layout.items()})


def _read_pack(value: Any) -> tuple[dict[str, Render], dict[str, str]]:
    """A post's cached drawings by key, and the posts holding its other ones; a damaged
    drawing or pack counts as missing."""
    drawings: dict[str, Render] = {}
    elsewhere: dict[str, str] = {}
    for k, v in value.items() if isinstance(value, dict) else ():
        if isinstance(v, dict) and set(v) == {"in"} and isinstance(v["in"], str):
            elsewhere[k] = v["in"]
        elif (drawing := Render.from_json(v)) is not None:
            drawings[k] = drawing
    return drawings, elsewhere


Stream = list[tuple[Formula, str | None]]     # a post's formulas to send, with the cache key of each to draw


def _buckets(posts: list[Post], missing: dict[str, tuple[str, int]], workers: int) -> list[list[tuple[Post, Stream]]]:
    """The posts' streams shared out among at most `workers` workers, the longest first to the
    least loaded (a drawing weighs ten replays)."""
    wanted = {where: k for k, where in missing.items()}
    streams: list[tuple[Post, Stream]] = []
    for post in posts:
        last = max((f.index for f in post.formulas if (post.id, f.index) in wanted), default=-1)
        stream = [(f, wanted.get((post.id, f.index))) for f in post.formulas[:last + 1]
                  if (post.id, f.index) in wanted or (replayable(f) and stateful(f))]
        if stream:
            streams.append((post, stream))
    buckets: list[list[tuple[Post, Stream]]] = [[] for _ in range(max(1, min(workers, len(streams))))]
    load = [0] * len(buckets)
    for post, stream in sorted(streams, key=lambda s: -sum(10 if k else 1 for _, k in s[1])):
        i = load.index(min(load))
        buckets[i].append((post, stream))
        load[i] += sum(10 if k else 1 for _, k in stream)
    return buckets


def stateful(f: Formula) -> bool:
    """Whether a formula changes its page's state for the formulas after it: defines something
    (macros, environments, `\\require`), or numbers or labels a row (which MathJax checked when
    validating, `Formula.tags`).  Only those are replayed before a formula to draw: the others
    would be parsed for nothing."""
    return bool(f.tags) or bool(DEFINES.search(f.tex)) or "\\label" in f.tex or "\\tag" in f.tex


def _draw(posts: list[Post], texts: dict[tuple[str, int], str], alts: dict[str, str],
          missing: dict[str, tuple[str, int]], drawn: dict[str, Render], diagnostics: Diagnostics,
          options: EngineOptions) -> None:
    """Draw the missing formulas into `drawn`: each post's stream (state replay + drawings) goes
    whole to one of `options.jobs` workers, which run side by side."""
    buckets = _buckets(posts, missing, options.workers())
    lock = threading.Lock()
    stop = threading.Event()          # set when the run is stopped: the workers give up at their next formula

    # Drawing takes about ten times as long as checking: a formula gets three times the time.
    # Taken here, not in the threads: the first may be validate's, still running.
    workers = [options.take(DRAW_TIME_FACTOR * options.timeout) for _ in buckets]

    def run(bucket: list[tuple[Post, Stream]], worker: Worker) -> None:
        requests: list[Request] = []
        asked: dict[int, tuple[Post, Formula, str]] = {}
        for post, stream in bucket:
            for f, k in stream:
                if k is not None:
                    asked[len(requests)] = (post, f, k)
                requests.append(Request(post.id, texts[(post.id, f.index)], f.display,
                                        render=k is not None, quiet=k is None))

        def on_answer(i: int, answer: dict[str, Any]) -> None:
            post, f, k = asked[i]
            drawing = answer.get("render")
            problem = f"MathJax could not draw this formula, which it accepted when checking: {answer.get('error')}"
            if answer.get("ok") and isinstance(drawing, dict):
                try:
                    finished = finish(drawing, k, alts[k], texts[(post.id, f.index)])
                except (ValueError, TypeError, KeyError, ET.ParseError, RecursionError) as e:
                    problem = f"MathJax's drawing of this formula could not be used: {e}"
                else:
                    drawn[k] = finished
                    return
            with lock:
                diagnostics.error("render", problem, f.position, source=texts[(post.id, f.index)])

        worker.interrupt = stop
        with worker:
            worker.check(requests, on_answer)

    # Not `with ThreadPoolExecutor`: on Ctrl-C its exit would wait for threads that go on drawing
    # everything (restarting the workers the signal killed); `stop` makes them give up first.
    pool = ThreadPoolExecutor(len(buckets))
    try:
        for done in [pool.submit(run, bucket, worker) for bucket, worker in zip(buckets, workers, strict=True)]:
            done.result()
    except BaseException:
        stop.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        for worker in workers:              # one whose bucket never ran (cancelled) may be running
            worker.stop()


