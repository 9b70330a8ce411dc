"""The validate stage: every formula through MathJax as the blog's readers get it.

The formulas of a post go through in page order sharing the page's state (macros,
`\\require`, equation labels); a new post starts clean.  Verdicts are cached per post, keyed
by the post's formula sequence and the engine's fingerprint, so re-checking an unchanged
corpus starts no engine at all.  Cross-references are checked here too: `\\ref`/`\\eqref` to
a label no formula of the post defines is a warning; a label defined twice is MathJax's own
error.  A formula nested deeper than `MAX_NESTING` (braces, `\\left`, `\\begin`) is reported
`too-complex` without going to the engine: MathJax may accept it but drawing it takes minutes,
and no real post comes near (the corpus stays under 10).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from pipeline.cache import Cache, key
from pipeline.diagnostics import Diagnostics
from pipeline.extract import MAX_FORMULA_CHARS
from pipeline.mathjax.client import Request, Worker, fingerprint
from pipeline.model import Formula, Post
from pipeline.number import unknown_label_message


@dataclass
class EngineOptions:
    """How the MathJax worker is used, by validate and render alike."""
    cache_dir: Optional[Path] = None       # None: no cache
    timeout: float = 10.0
    worker_factory: Optional[Callable[[], Worker]] = None
    jobs: int = 0                          # workers drawing side by side; 0: one per core, up to 2

    def workers(self) -> int:
        return self.jobs if self.jobs > 0 else max(1, min(2, os.cpu_count() or 1))


@dataclass
class ValidateStats:
    formulas: int = 0
    checked: int = 0          # went through the engine this run
    cached_posts: int = 0
    restarts: int = 0


MAX_NESTING = 100
TOO_COMPLEX = "nested too deeply"
TOO_LONG = "characters, more than"
CODES = [
    (re.compile(TOO_COMPLEX), "too-complex"),
    (re.compile(TOO_LONG), "formula-too-long"),
    (re.compile(r"Undefined control sequence"), "undefined-macro"),
    (re.compile(r"multiply defined"), "duplicate-label"),
    (re.compile(r"took longer than"), "engine-timeout"),
    (re.compile(r"worker crashed"), "engine-crash"),
    (re.compile(r"Unknown environment|Missing \\end|\\begin\{[^}]*\} ended with|Extra \\end"), "environment"),
    (re.compile(r"Missing close brace|Extra close brace|Extra open brace"), "braces"),
    (re.compile(r"\\left|\\right"), "left-right"),
    (re.compile(r"Misplaced &"), "misplaced-ampersand"),
    (re.compile(r"Double exponent|Double subscript"), "double-script"),
]


def error_code(message: str) -> str:
    for pattern, code in CODES:
        if pattern.search(message):
            return code
    return "tex-error"


def validate(posts: list[Post], diagnostics: Diagnostics, options: EngineOptions) -> ValidateStats:
    stats = ValidateStats(formulas=sum(len(p.formulas) for p in posts))
    cache = Cache(options.cache_dir, "verdicts")
    engine = fingerprint()
    todo: list[tuple[Post, str]] = []
    for post in posts:
        if not post.formulas:
            continue
        k = key(engine, [[f.tex, f.display] for f in post.formulas])
        verdicts = cache.get(k)
        if isinstance(verdicts, list) and len(verdicts) == len(post.formulas):
            _apply(post, verdicts)
            stats.cached_posts += 1
        else:
            todo.append((post, k))
    if todo:
        refused = {(post.id, f.index): message for post, _ in todo for f in post.formulas
                   if (message := too_complex(f))}
        sent = [(post, f) for post, _ in todo for f in post.formulas if (post.id, f.index) not in refused]
        requests = [Request(post.id, f.tex, f.display) for post, f in sent]
        worker = options.worker_factory() if options.worker_factory else Worker(timeout=options.timeout)
        with worker:
            answers = dict(zip(((post.id, f.index) for post, f in sent), worker.check(requests)))
        stats.restarts = worker.restarts
        stats.checked = len(requests)
        for post, k in todo:
            verdicts = [_verdict(answers[(post.id, f.index)]) if (post.id, f.index) in answers
                        else {"ok": False, "error": refused[(post.id, f.index)], "tags": [], "refs": []}
                        for f in post.formulas]
            _apply(post, verdicts)
            if not any(v.get("fault") for v in verdicts):
                cache.put(k, verdicts)
    for post in posts:
        report(post, diagnostics)
    return stats


def _verdict(answer: Optional[dict]) -> dict:
    """The worker's answer as a verdict, typed once here; a missing or misshapen answer is a fault."""
    if not isinstance(answer, dict):
        return {"ok": False, "error": "the MathJax worker gave no answer for this formula (worker crashed)",
                "tags": [], "refs": [], "fault": True}
    tags = [t for t in answer.get("tags") or [] if isinstance(t, dict)]
    refs = [r for r in answer.get("refs") or [] if isinstance(r, dict) and isinstance(r.get("label"), str)]
    return {"ok": bool(answer.get("ok")), "error": None if answer.get("ok") else str(answer.get("error")),
            "tags": tags, "refs": refs, **({"fault": True} if answer.get("fault") else {})}


def too_complex(f: Formula) -> Optional[str]:
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


def _apply(post: Post, verdicts: list[dict]) -> None:
    for formula, v in zip(post.formulas, verdicts):
        formula.ok = v["ok"]
        formula.message = v.get("error")
        formula.tags = v.get("tags", [])
        formula.refs = v.get("refs", [])


def report(post: Post, diagnostics: Diagnostics) -> None:
    labels = {t["label"] for f in post.formulas for t in f.tags if t.get("label")}
    for f in post.formulas:
        if not f.ok:
            diagnostics.error(error_code(f.message or ""), f.message or "MathJax rejected this formula",
                              f.position, source=_shown(f))
        for ref in f.refs:
            if ref["label"] not in labels:
                diagnostics.warning("unknown-label", unknown_label_message(post, ref["label"], bool(ref["eqref"])),
                                    f.position, source=_shown(f))


def _shown(f) -> str:
    if f.delimiter in ("env", "ref"):
        return f.tex
    close = {"$": "$", "$$": "$$", "\\(": "\\)", "\\[": "\\]"}[f.delimiter]
    return f.delimiter + f.tex + close
