"""The stages, in order, in one place.  Each takes the posts and the run's diagnostics.

    read      → posts from every input form (pipeline.read)
    extract   → the math fragments of each post with positions (pipeline.extract)
    validate  → each fragment through the blog's MathJax (pipeline.validate)

Commands run a prefix of this list: `anthology list` stops after extract, `check` after
validate.  Everything is gathered and checked before any output is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from pipeline import extract, read, validate
from pipeline.diagnostics import Diagnostics
from pipeline.model import Post
from pipeline.series import normalize_title


@dataclass
class Run:
    paths: list[str]
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    posts: list[Post] = field(default_factory=list)
    validate_options: validate.ValidateOptions = field(default_factory=validate.ValidateOptions)
    stats: dict[str, Any] = field(default_factory=dict)


def _read(run: Run) -> None:
    run.posts = read.read(run.paths, run.diagnostics)


def _extract(run: Run) -> None:
    extract.extract(run.posts, run.diagnostics)


def _validate(run: Run) -> None:
    run.stats["validate"] = validate.validate(run.posts, run.diagnostics, run.validate_options)


STAGES: list[tuple[str, Callable[[Run], None]]] = [
    ("read", _read),
    ("extract", _extract),
    ("validate", _validate),
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
