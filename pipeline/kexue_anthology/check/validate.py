"""The validate stage: every formula through MathJax as the blog's readers get it.

The formulas of a post go through in page order sharing the page's state (macros,
`\\require`, equation labels); a new post starts clean.  Verdicts are cached per post, keyed
by the post's formula sequence and the engine's fingerprint, so re-checking an unchanged
corpus starts no engine at all.  Cross-references are checked here too: `\\ref`/`\\eqref` to
a label no formula of the post defines is a warning; a label defined twice is MathJax's own
error.  A formula nested deeper than `MAX_NESTING` (braces, `\\left`, `\\begin`) is reported
`too-complex` without going to the engine: MathJax may accept it but drawing it takes minutes,
and no real post comes near (the corpus stays under 10).

A diagnostic names the fix where it can: an undefined macro or unknown environment comes with
the nearest name MathJax knows (kexue_anthology.check.suggest), and a fault MathJax names without a place
(`\\left` without `\\right`, an unknown macro, `\\begin` without `\\end`) is reported at its own
line and column inside the formula (kexue_anthology.check.locate).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kexue_anthology.check import suggest
from kexue_anthology.check.extract import MAX_FORMULA_CHARS
from kexue_anthology.check.locate import fault
from kexue_anthology.check.number import unknown_label_message
from kexue_anthology.core import progress
from kexue_anthology.core.cache import Cache, key
from kexue_anthology.core.diagnostics import Diagnostics
from kexue_anthology.core.error_codes import TOO_COMPLEX, TOO_LONG, error_code
from kexue_anthology.core.model import Formula, Post
from kexue_anthology.engine.client import EngineUnavailable, Request, fingerprint
from kexue_anthology.engine.options import EngineOptions
from kexue_anthology.engine.results import Verdict


@dataclass
class ValidateStats:
    formulas: int = 0
    checked: int = 0          # went through the engine this run
    cached_posts: int = 0
    restarts: int = 0


MAX_NESTING = 100


def validate(posts: list[Post], diagnostics: Diagnostics, options: EngineOptions) -> ValidateStats:
    stats = ValidateStats(formulas=sum(len(p.formulas) for p in posts))
    cache = Cache(options.cache_dir, "verdicts")
    engine = fingerprint()
    todo: list[tuple[Post, str]] = []
    names: suggest.KnownNames | None = None
    for post in posts:
        if not post.formulas:
            continue
        k = key(engine, [[f.tex, f.display] for f in post.formulas])
        cached = cache.get(k)
        if (isinstance(cached, list) and len(cached) == len(post.formulas)
                and all(isinstance(v, dict) for v in cached)):
            _apply(post, [Verdict.from_json(v) for v in cached])
            stats.cached_posts += 1
            progress.advance(len(post.formulas))
        else:
            todo.append((post, k))
    if todo:
        refused = {(post.id, f.index): message for post, _ in todo for f in post.formulas
                   if (message := too_complex(f))}
        sent = [(post, f) for post, _ in todo for f in post.formulas if (post.id, f.index) not in refused]
        requests = [Request(post.id, f.tex, f.display) for post, f in sent]
        progress.advance(len(refused))
        with options.kept(options.worker()) as worker:      # kept running for the render stage
            answers = dict(zip(((post.id, f.index) for post, f in sent),
                               worker.check(requests, on_answer=lambda _i, _a: progress.advance()), strict=True))
            if any(suggest.needs_names(a.get("error")) for a in answers.values() if a):
                names = suggest.known_names(options.cache_dir, engine, worker.names)
        stats.restarts = worker.restarts
        stats.checked = len(requests)
        for post, k in todo:
            verdicts = [Verdict.from_json(answers[(post.id, f.index)]) if (post.id, f.index) in answers
                        else Verdict(ok=False, error=refused[(post.id, f.index)])
                        for f in post.formulas]
            _apply(post, verdicts)
            if not any(v.fault for v in verdicts):
                cache.put(k, [v.to_json() for v in verdicts])
    if names is None and any(suggest.needs_names(f.message) for post in posts for f in post.formulas if not f.ok):
        names = suggest.known_names(options.cache_dir, engine, lambda: _ask_names(options))
    memo: dict[tuple[str, str], suggest.Rank | None] = {}
    for post in posts:
        report(post, diagnostics, names, memo)
    return stats


def _ask_names(options: EngineOptions) -> dict[str, list[str]]:
    """The engine's names from a worker of their own: all verdicts came from the cache."""
    try:
        with options.worker() as worker:
            return worker.names()
    except EngineUnavailable:
        return {}


def too_complex(f: Formula) -> str | None:
    """Why a formula is not sent to the engine, or None: a size or nesting no real formula
    comes near."""
    size = f.end - f.start                 # delimiters included
    if size > MAX_FORMULA_CHARS:
        return f"formula of {size:,} {TOO_LONG} {MAX_FORMULA_CHARS:,}: not checked"
    depth = deepest = 0
    for m in _NESTING.finditer(f.tex):
        token = m.group()
        if token in ("{", "\\left", "\\begin"):
            depth += 1
            deepest = max(deepest, depth)
        elif token in ("}", "\\right", "\\end"):
            depth = max(depth - 1, 0)
    if deepest > MAX_NESTING:
        return f"{TOO_COMPLEX}: {deepest} levels of braces, \\left or \\begin (at most {MAX_NESTING})"
    return None


_NESTING = re.compile(r"\\(?:left|right|begin|end)(?![A-Za-z])|\\.|[{}]", re.S)


def _apply(post: Post, verdicts: list[Verdict]) -> None:
    for formula, v in zip(post.formulas, verdicts, strict=True):
        formula.ok = v.ok
        formula.message = v.error
        formula.tags = list(v.tags)
        formula.refs = list(v.refs)


def report(post: Post, diagnostics: Diagnostics, names: suggest.KnownNames | None = None,
           memo: dict[tuple[str, str], suggest.Rank | None] | None = None) -> None:
    labels = {t.label for f in post.formulas for t in f.tags if t.label}
    suggestions = suggest.Suggestions(names, memo) if names else None
    for f in post.formulas:
        if suggestions:
            suggestions.see(f.tex)
        if not f.ok:
            message = f.message or "MathJax rejected this formula"
            where, symptom = fault(f, post.body, message)
            fix = (suggestions.hint(message) if suggestions else None) or symptom
            diagnostics.error(error_code(message), f"{message}; {fix}" if fix else message, where, source=f.source)
        for ref in f.refs:
            if ref.label not in labels:
                diagnostics.warning("unknown-label", unknown_label_message(post, ref.label, ref.eqref),
                                    f.position, source=f.source)

