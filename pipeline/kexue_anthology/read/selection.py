"""Which posts read a run takes: those of `--series NAME` (`select`), else those the project
file lets in (`select_project`)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from kexue_anthology.config.project import Project
from kexue_anthology.core.diagnostics import Diagnostics
from kexue_anthology.core.model import Post
from kexue_anthology.read.series import normalize_title


class NoSuchSeries(Exception):
    """`--series NAME` names no series of the posts read: a usage error."""


def select(posts: Iterable[Post], series: str | None, diagnostics: Diagnostics | None = None) -> list[Post]:
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


def select_project(posts: list[Post], project: Project, diagnostics: Diagnostics | None = None) -> list[Post]:
    """The posts the project file lets in: those of the series it lists (all when it lists
    none), and those of no series unless `others = false`.  A listed series that no post read
    belongs to is warned about at its line in the file."""
    if project.series is None:
        return posts if project.others else [p for p in posts if p.series]
    wanted = {normalize_title(name) for name in project.series}
    chosen = [p for p in posts if (normalize_title(p.series) in wanted if p.series else project.others)]
    if diagnostics is not None:
        found = {normalize_title(p.series) for p in chosen if p.series}
        places = project.series_lines or ((1, 1),) * len(project.series)
        names = sorted({p.series for p in posts if p.series})
        for name, (line, col) in zip(project.series, places, strict=False):
            if normalize_title(name) not in found:
                hint = _closest_series(name, names).rstrip(";")
                diagnostics.warning("project-series", f'series "{name}" of the project file has no posts among '
                                    f"those read{hint}", project.position(line, col))
    return chosen


def _no_series(series: str, posts: list[Post]) -> str:
    names = sorted({p.series for p in posts if p.series})
    if not names:
        return f'no series "{series}": the posts read belong to no series'
    shown = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
    return f'no series "{series}"{_closest_series(series, names)} series found: {shown}'


def _closest_series(name: str, names: list[str]) -> str:
    """The hint `; did you mean "NAME"?` for the series of `names` nearest to `name`, else `;`:
    the shortest that begins with it, else that holds it, else the closest by difflib."""
    by_key = {normalize_title(n): n for n in names}
    wanted = normalize_title(name)
    for fits in (str.startswith, str.__contains__):
        found = sorted((key for key in by_key if wanted and fits(key, wanted)), key=lambda key: (len(key), key))
        if found:
            return f'; did you mean "{by_key[found[0]]}"?'
    close = difflib.get_close_matches(wanted, list(by_key), n=1, cutoff=0.5)
    return f'; did you mean "{by_key[close[0]]}"?' if close else ";"


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
    for a, b in zip(numbers, [*numbers[1:], None], strict=True):
        if b != a + 1:
            out.append(str(start) if start == a else f"{start}–{a}")
            if b is not None:
                start = b
    return ", ".join(out)
