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

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

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
        stage(run)
    return run


def select(posts: Iterable[Post], series: str | None) -> list[Post]:
    if not series:
        return list(posts)
    wanted = normalize_title(series)
    return [p for p in posts if p.series and normalize_title(p.series) == wanted]
