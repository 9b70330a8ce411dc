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

import hashlib
import json
import re
import threading
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from kexue_anthology.check.number import PostNumbers, Reference
from kexue_anthology.core.cache import BlobCache, Cache, key
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
    if "ref" not in f.tex:            # most formulas: no reference to find
        return f.tex
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
    cache = BlobCache(options.cache_dir, "renders")
    engine = (fingerprint(), DRAWING_VERSION)
    keys, texts, wanted = _keys(posts, numbers, engine)
    known: dict[str, Render] = {}                     # every drawing the packs read hold
    home: dict[str, str] = {}                         # key → the post whose pack holds its drawing
    held: dict[str, dict[str, str]] = {}              # post id → its pack as read: key → the post holding it
    read: set[str] = set()
    rewrite: set[str] = set()                         # posts whose drawings were read from the JSON form

    def read_pack(post_id: str) -> dict[str, str]:
        read.add(post_id)
        drawings, elsewhere, old = _read_post_pack(cache, engine, post_id)
        rewrite.update([post_id] if old else [])
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
            _draw(posts, texts, _alts(posts, numbers, missing), missing, drawn, diagnostics, options)
    finally:                          # also when stopped: what was drawn is kept
        known.update(drawn)
        held.update((post_id, {}) for post_id in rewrite & set(held))
        _write_packs(cache, engine, wanted, known, home, held)
    stats.drawn = len(missing)
    stats.cached = stats.distinct - stats.drawn
    renders = {where: drawing for where, k in keys.items() if (drawing := known.get(k)) is not None}
    return renders, stats


_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode
_STRING = json.encoder.encode_basestring          # a str as json.dumps(…, ensure_ascii=False) writes it


def _keys(posts: list[Post], numbers: dict[str, PostNumbers], engine: tuple[str, int]) -> tuple[
        dict[tuple[str, int], str], dict[tuple[str, int], str], dict[str, dict[str, None]]]:
    """Each drawable formula's cache key and every formula's TeX as drawn, by (post id, index);
    each post's keys, in order.  A key is `key(engine, tex, display, scope)`, its JSON written
    here with the scope's made once per change of scope: json.dumps of a long scope for each of
    the collection's formulas was most of a rebuild's drawing stage."""
    keys: dict[tuple[str, int], str] = {}
    texts: dict[tuple[str, int], str] = {}
    wanted: dict[str, dict[str, None]] = {}
    head = "[" + _JSON(list(engine)) + ", "
    for post in posts:
        scope: list[str] = []
        tail = ", " + _JSON(scope) + "]"
        refs = numbers[post.id].refs if post.id in numbers else {}
        own = wanted.setdefault(post.id, {})
        for f in post.formulas:
            tex = drawn_tex(f, refs.get(f.index, []))
            texts[(post.id, f.index)] = tex
            if drawable(f):
                written = head + _STRING(tex) + (", true" if f.display else ", false") + tail
                k = hashlib.sha256(written.encode()).hexdigest()
                keys[(post.id, f.index)] = k
                own[k] = None
            if DEFINES.search(f.tex):
                scope.append(f.tex)
                tail = ", " + _JSON(scope) + "]"
    return keys, texts, wanted


def _alts(posts: list[Post], numbers: dict[str, PostNumbers], missing: dict[str, tuple[str, int]]) -> dict[str, str]:
    """The alt text of each drawing to make: its first formula's TeX with references as plain text."""
    formulas = {(post.id, f.index): f for post in posts for f in post.formulas}
    return {k: drawn_tex(formulas[where], numbers[where[0]].refs.get(where[1], []) if where[0] in numbers else [],
                         linked=False) for k, where in missing.items()}


PACK_FORM = 2     # of a pack's bytes (`pack`); drawings kept in the form before it are read once (`_json_pack_key`)


def pack_key(engine: tuple[str, int], post_id: str) -> str:
    """The cache entry of a post's drawings: one file per post, so that a build with nothing to
    draw reads few files.  Named by the post, not by its formulas, so that an edit redraws only
    the formulas it changed: the pack holds each drawing under its own key, and is rewritten
    whenever the post's drawings change.  A drawing the post shares with another is held by
    one pack only, the others name that post (`{"in": post id}`)."""
    return key("drawings of a post", engine, post_id, PACK_FORM)


def _json_pack_key(engine: tuple[str, int], post_id: str) -> str:
    """Where the JSON form of a post's pack was (read, never written: the drawings are the same)."""
    return key("drawings of a post", engine, post_id)


def pack(drawings: dict[str, Render | str]) -> bytes:
    """A post's pack: one line of JSON, each drawing's key with its measures, alt text, links,
    `digest` and the lengths of its SVG and MathML in bytes (or `{"in": post id}` for a drawing
    another post holds), then the SVG and MathML of each, one after the other.  Not one JSON
    document: parsing 27 MB of escaped SVG strings was most of a warm build's drawing stage,
    and the digest spares the body keys hashing them (collection/bodies.py)."""
    head: dict[str, Any] = {}
    strings: list[bytes] = []
    for k, drawing in drawings.items():
        if isinstance(drawing, str):
            head[k] = {"in": drawing}
            continue
        drawing.fingerprint()
        svg, mathml = drawing.svg.encode(), drawing.mathml.encode()
        head[k] = {**{name: value for name, value in asdict(drawing).items() if name not in ("svg", "mathml")},
                   "bytes": [len(svg), len(mathml)]}
        strings += [svg, mathml]
    return json.dumps(head, ensure_ascii=False).encode() + b"\n" + b"".join(strings)


def unpack(data: bytes | None) -> tuple[dict[str, Render], dict[str, str]]:
    """`pack` read back: the post's drawings by key, and the posts holding its other ones; a
    damaged drawing counts as missing, a pack whose lengths do not add up as empty."""
    if not data:
        return {}, {}
    line, _, strings = data.partition(b"\n")
    try:
        head = json.loads(line)
    except ValueError:
        return {}, {}
    drawings: dict[str, Render] = {}
    elsewhere: dict[str, str] = {}
    at = 0
    for k, v in head.items() if isinstance(head, dict) else ():
        if isinstance(v, dict) and set(v) == {"in"} and isinstance(v["in"], str):
            elsewhere[k] = v["in"]
            continue
        sizes = v.pop("bytes", None) if isinstance(v, dict) else None
        if not (isinstance(sizes, list) and len(sizes) == 2 and all(isinstance(n, int) and n >= 0 for n in sizes)):
            return {}, {}
        try:
            svg = strings[at:at + sizes[0]].decode()
            mathml = strings[at + sizes[0]:at + sizes[0] + sizes[1]].decode()
        except UnicodeDecodeError:
            svg = mathml = ""
        at += sizes[0] + sizes[1]
        if (drawing := Render.from_json({**v, "svg": svg, "mathml": mathml})) is not None:
            drawings[k] = drawing
    if at != len(strings):
        return {}, {}
    return drawings, elsewhere


def _write_packs(cache: Cache, engine: tuple[str, int], wanted: dict[str, dict[str, None]],
                 known: dict[str, Render], home: dict[str, str], held: dict[str, dict[str, str]]) -> None:
    """Each post's pack, where it changed: its drawings, each held by the post `home` names
    (else by the first post that has it) and named by the others."""
    for post_id, own in wanted.items():
        layout = {k: home.setdefault(k, post_id) for k in own if k in known}
        if layout != held[post_id]:
            cache.put_bytes(pack_key(engine, post_id), pack({k: known[k] if where == post_id else where
                                                             for k, where in layout.items()}))


def _read_post_pack(cache: BlobCache, engine: tuple[str, int], post_id: str) -> tuple[
        dict[str, Render], dict[str, str], bool]:
    """A post's pack (`unpack`), else its pack of the JSON form (then True: to be written anew)."""
    drawings, elsewhere = unpack(cache.get_bytes(pack_key(engine, post_id)))
    if drawings or elsewhere or cache.root is None:
        return drawings, elsewhere, False
    drawings, elsewhere = _read_pack(Cache(cache.root.parent, cache.root.name).get(_json_pack_key(engine, post_id)))
    return drawings, elsewhere, bool(drawings or elsewhere)


def _read_pack(value: Any) -> tuple[dict[str, Render], dict[str, str]]:
    """A post's cached drawings by key in the JSON form, and the posts holding its other ones; a damaged
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


