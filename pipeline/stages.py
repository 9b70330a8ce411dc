r"""The stages, in order, in one place.  Each takes the posts and the run's diagnostics.

    read      → posts from every input form (pipeline.read)
    extract   → the math fragments of each post with positions (pipeline.extract)
    validate  → each fragment through the blog's MathJax (pipeline.validate)
    number    → equation numbers, anchors, resolved \ref/\eqref (pipeline.number)
    render    → each distinct formula drawn once: SVG and MathML (pipeline.render)

Commands run a prefix of this list: `anthology list` stops after extract, `check` after
validate, `build` goes on to render and then hands the run to an emitter.  Everything is gathered and checked before any output is written.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional

from pipeline import extract, number, read, render, validate
from pipeline.diagnostics import Diagnostics
from pipeline.model import Post
from pipeline.series import normalize_title


@dataclass
class Run:
    paths: list[str]
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    posts: list[Post] = field(default_factory=list)
    engine: validate.EngineOptions = field(default_factory=validate.EngineOptions)
    stats: dict[str, Any] = field(default_factory=dict)
    numbers: dict[str, number.PostNumbers] = field(default_factory=dict)
    renders: dict[tuple[str, int], render.Render] = field(default_factory=dict)
    stage: str = ""                        # what the run is doing, for a crash report


def _read(run: Run) -> None:
    run.posts = read.read(run.paths, run.diagnostics)


def _extract(run: Run) -> None:
    extract.extract(run.posts, run.diagnostics)


def _validate(run: Run) -> None:
    run.stats["validate"] = validate.validate(run.posts, run.diagnostics, run.engine)


def _number(run: Run) -> None:
    run.numbers = number.number(run.posts)


def _render(run: Run) -> None:
    run.renders, run.stats["render"] = render.render(run.posts, run.numbers, run.diagnostics, run.engine)


STAGES: list[tuple[str, Callable[[Run], None]]] = [
    ("read", _read),
    ("extract", _extract),
    ("validate", _validate),
    ("number", _number),
    ("render", _render),
]


def run_stages(run: Run, until: str, start: str = "read") -> Run:
    """Run the stages from `start` to `until`, both included."""
    names = [name for name, _ in STAGES]
    for name in (start, until):
        if name not in names:
            raise ValueError(f"no stage {name!r}; stages: {', '.join(names)}")
    for name, stage in STAGES[names.index(start): names.index(until) + 1]:
        run.stage = name
        stage(run)
    return run


class NoSuchSeries(Exception):
    """`--series NAME` names no series of the posts read: a usage error."""


def select(posts: Iterable[Post], series: Optional[str], diagnostics: Optional[Diagnostics] = None) -> list[Post]:
    """The posts of `series` (all posts without one).  A name that matches nothing raises
    NoSuchSeries with the series there are and the closest; a series with parts missing, or
    with posts known only from a listing page's excerpt, is warned about."""
    posts = list(posts)
    if not series:
        return posts
    wanted = normalize_title(series)
    chosen = [p for p in posts if p.series and normalize_title(p.series) == wanted]
    if not chosen:
        raise NoSuchSeries(_no_series(series, posts))
    if diagnostics is not None:
        _warn_incomplete(chosen, diagnostics)
    return chosen


def _no_series(series: str, posts: list[Post]) -> str:
    names = sorted({p.series for p in posts if p.series})
    if not names:
        return f"no series {series!r}: the posts read belong to no series"
    by_key = {normalize_title(n): n for n in names}
    close = difflib.get_close_matches(normalize_title(series), list(by_key), n=1, cutoff=0.5)
    hint = f"; did you mean {by_key[close[0]]}?" if close else ""
    shown = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
    return f"no series {series!r}{hint} Series found: {shown}"


def _warn_incomplete(chosen: list[Post], diagnostics: Diagnostics) -> None:
    first = min(chosen, key=lambda p: (p.part or 0, p.date or ""))
    parts = {p.part for p in chosen if p.part}
    if parts:
        missing = sorted(set(range(1, max(parts) + 1)) - parts)
        if missing:
            diagnostics.warning("missing-parts", f"series {first.series}: part(s) {_ranges(missing)} of "
                                f"{max(parts)} not among the posts read", first.position)
    for post in chosen:
        if post.form == "listing":
            diagnostics.warning("excerpt-only", f"{post.title}: only the excerpt on a listing page was "
                                "read, not the whole post", post.position)


def _ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 6] → '1–3, 6'."""
    out, start = [], numbers[0]
    for a, b in zip(numbers, numbers[1:] + [None]):
        if b != a + 1:
            out.append(str(start) if start == a else f"{start}–{a}")
            start = b
    return ", ".join(out)
