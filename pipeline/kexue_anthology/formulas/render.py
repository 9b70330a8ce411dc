"""The render stage: every distinct formula drawn once by MathJax, as SVG and as MathML.

A drawing depends on the TeX as drawn (each `\\ref`/`\\eqref` already replaced by a link to
our anchor with our number, see `drawn_tex`), display mode, the macros in scope (the post's
earlier formulas that define something) and the engine (the worker's fingerprint, and
`DRAWING_VERSION` for our finishing of MathJax's output); the cache key is a hash of exactly
these, so a formula shared by many posts is drawn once, and a second build of an unchanged
collection starts no engine.  Formulas that failed validation and bare references are not
drawn: the emitters show the former as their source in a marked box and the latter as links.

The worker replays a post's formulas in page order up to the last one to draw (the page's
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
from kexue_anthology.engine.client import Request, fingerprint
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
    keys: dict[tuple[str, int], str] = {}
    texts: dict[tuple[str, int], str] = {}
    alts: dict[str, str] = {}
    cached: dict[str, Render | None] = {}             # each key's cache entry, read once
    missing: dict[str, tuple[str, int]] = {}          # key → first formula with it
    for post in posts:
        scope: list[str] = []
        refs = numbers[post.id].refs if post.id in numbers else {}
        for f in post.formulas:
            tex = drawn_tex(f, refs.get(f.index, []))
            texts[(post.id, f.index)] = tex
            if drawable(f):
                k = key(engine, tex, f.display, scope)
                keys[(post.id, f.index)] = k
                if k not in cached:
                    cached[k] = Render.from_json(cache.get(k))
                    if cached[k] is None:
                        missing[k] = (post.id, f.index)
                        alts[k] = drawn_tex(f, refs.get(f.index, []), linked=False)
            if DEFINES.search(f.tex):
                scope.append(f.tex)
    stats.formulas = len(keys)
    stats.distinct = len(cached)
    drawn = _draw(posts, texts, alts, missing, cache, diagnostics, options) if missing else {}
    stats.drawn = len(missing)
    stats.cached = stats.distinct - stats.drawn
    renders = {where: drawing for where, k in keys.items()
               if (drawing := cached[k] or drawn.get(k)) is not None}
    return renders, stats


Stream = list[tuple[Formula, str | None]]     # a post's formulas to send, with the cache key of each to draw


def _buckets(posts: list[Post], missing: dict[str, tuple[str, int]], workers: int) -> list[list[tuple[Post, Stream]]]:
    """The posts' streams shared out among at most `workers` workers, the longest first to the
    least loaded (a drawing weighs ten replays)."""
    wanted = {where: k for k, where in missing.items()}
    streams: list[tuple[Post, Stream]] = []
    for post in posts:
        last = max((f.index for f in post.formulas if (post.id, f.index) in wanted), default=-1)
        stream = [(f, wanted.get((post.id, f.index))) for f in post.formulas[:last + 1] if replayable(f)]
        if stream:
            streams.append((post, stream))
    buckets: list[list[tuple[Post, Stream]]] = [[] for _ in range(max(1, min(workers, len(streams))))]
    load = [0] * len(buckets)
    for post, stream in sorted(streams, key=lambda s: -sum(10 if k else 1 for _, k in s[1])):
        i = load.index(min(load))
        buckets[i].append((post, stream))
        load[i] += sum(10 if k else 1 for _, k in stream)
    return buckets


def _draw(posts: list[Post], texts: dict[tuple[str, int], str], alts: dict[str, str],
          missing: dict[str, tuple[str, int]], cache: Cache, diagnostics: Diagnostics,
          options: EngineOptions) -> dict[str, Render]:
    """Draw the missing formulas: each post's stream (state replay + drawings) goes whole to
    one of `options.jobs` workers, which run side by side."""
    buckets = _buckets(posts, missing, options.workers())
    drawn: dict[str, Render] = {}
    lock = threading.Lock()
    stop = threading.Event()          # set when the run is stopped: the workers give up at their next formula

    def run(bucket: list[tuple[Post, Stream]]) -> None:
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
                    cache.put(k, asdict(finished))
                    drawn[k] = finished
                    return
            with lock:
                diagnostics.error("render", problem, f.position, source=texts[(post.id, f.index)])

        # Drawing takes about ten times as long as checking: a formula gets three times the time.
        worker = options.worker(DRAW_TIME_FACTOR * options.timeout)
        worker.interrupt = stop
        with worker:
            worker.check(requests, on_answer)

    # Not `with ThreadPoolExecutor`: on Ctrl-C its exit would wait for threads that go on drawing
    # everything (restarting the workers the signal killed); `stop` makes them give up first.
    pool = ThreadPoolExecutor(len(buckets))
    try:
        for done in [pool.submit(run, bucket) for bucket in buckets]:
            done.result()
    except BaseException:
        stop.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return drawn


