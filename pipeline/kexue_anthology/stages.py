r"""The stages, in order, in one place.  Each takes the run and adds what it makes.

    read      → posts from every input form, those of `--series`, else of the project's
                series (kexue_anthology.read, kexue_anthology.read.selection)
    extract   → the math fragments of each post with positions (kexue_anthology.check.extract)
    validate  → each fragment through the blog's MathJax (kexue_anthology.check.validate)
    number    → equation numbers, anchors, resolved \ref/\eqref (kexue_anthology.check.number)
    render    → each distinct formula drawn once: SVG and MathML (kexue_anthology.formulas.render)
    document  → each post as a pandoc document, formulas in place (kexue_anthology.documents.document)
    assemble  → the collection: order, series, links (kexue_anthology.collection.assemble)
    emit      → the output, by the emitter the build names (kexue_anthology.formats)

Commands run a prefix of this list: `anthology list` stops after extract, `check` after
validate, `build` goes on to emit.  Everything is gathered and checked before any output is written.
With ANTHOLOGY_TIMINGS set, each stage's wall and processor time is recorded (core/timings.py).
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kexue_anthology import read
from kexue_anthology.check import extract, number, validate
from kexue_anthology.collection.assemble import assemble
from kexue_anthology.collection.collection import Collection
from kexue_anthology.config.settings import Settings
from kexue_anthology.core import progress, timings
from kexue_anthology.core.cache import Cache
from kexue_anthology.core.diagnostics import Diagnostics
from kexue_anthology.core.locations import content_folder
from kexue_anthology.core.model import Post
from kexue_anthology.documents import document
from kexue_anthology.documents.lazy import Documents
from kexue_anthology.documents.pandoc_ast import Document
from kexue_anthology.engine.options import EngineOptions
from kexue_anthology.formats import Emitter
from kexue_anthology.formulas import render
from kexue_anthology.read.selection import select, select_project


@dataclass
class RunStats:
    """What the engine's stages did, for the command's summary line."""
    validate: validate.ValidateStats | None = None
    render: render.RenderStats | None = None


@dataclass
class BuildRequest:
    """What `build` writes: with which emitter, and where (how: the run's settings)."""
    emitter: Emitter
    target: Path


@dataclass
class Run:
    paths: list[str]
    settings: Settings = field(default_factory=Settings)    # resolved once (kexue_anthology.config.settings)
    partial: bool = False                  # only some files were named (check --changed): no warning
                                           # for a series of the project none of them holds
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    inputs: list[Path] = field(default_factory=list)     # the files the read stage read
    posts: list[Post] = field(default_factory=list)
    engine: EngineOptions = field(default_factory=EngineOptions)
    stats: RunStats = field(default_factory=RunStats)
    numbers: dict[str, number.PostNumbers] = field(default_factory=dict)
    renders: dict[tuple[str, int], render.Render] = field(default_factory=dict)
    asts: Mapping[str, Document] = field(default_factory=dict)    # documents.lazy.Documents after the stage
    build: BuildRequest | None = None
    collection: Collection | None = None
    stage: str = ""                        # what the run is doing, for a crash report
    root: Path | None = None               # where locations are shown from (core/locations.py)


def _read(run: Run) -> None:
    run.inputs = read.input_files(run.paths, run.diagnostics)
    posts = read.read_files(run.inputs, run.diagnostics)
    if run.settings.series:
        run.posts = select(posts, run.settings.series, run.diagnostics)
    else:
        run.posts = select_project(posts, run.settings.project, None if run.partial else run.diagnostics)
    progress.advance(len(run.posts))


def _extract(run: Run) -> None:
    for post in run.posts:
        extract.extract([post], run.diagnostics)
        progress.advance()


def _validate(run: Run) -> None:
    run.stats.validate = validate.validate(run.posts, run.diagnostics, run.engine)


def _number(run: Run) -> None:
    run.numbers = number.number(run.posts)


def _render(run: Run) -> None:
    run.renders, run.stats.render = render.render(run.posts, run.numbers, run.diagnostics, run.engine)


def _document(run: Run) -> None:
    cache = Cache(run.engine.cache_dir, "documents")
    by_id = {post.id: post for post in run.posts}
    asts = Documents(cache, lambda post_id: document.build(by_id[post_id], cache, run.diagnostics))
    # pandoc runs in processes of its own: a cold build converts as many posts at once as it draws
    with concurrent.futures.ThreadPoolExecutor(run.engine.workers()) as pool:
        made = pool.map(lambda post: document.build_lazily(post, cache, run.diagnostics), run.posts)
        for post, (ast, k) in zip(run.posts, made, strict=True):
            asts.add(post.id, ast, k)
            progress.advance()
    run.asts = asts


def _requested(run: Run) -> BuildRequest:
    if run.build is None:
        raise ValueError("the emit stage needs a build request (Run.build)")
    return run.build


def _assemble(run: Run) -> None:
    settings = run.settings
    run.collection = assemble(run.posts, run.numbers, run.renders, run.asts, title=settings.title,
                              diagnostics=run.diagnostics, order=None if settings.series else settings.project.series,
                              source_url=settings.project.source_url, cache_dir=settings.cache_dir,
                              content=content_folder(run.paths, settings.project.path))


def _emit(run: Run) -> None:
    build = _requested(run)
    run.stage = f"emit {build.emitter.name}"
    assert run.collection is not None
    build.emitter.write(run.collection, build.target, run.settings, run.diagnostics)


STAGES: list[tuple[str, Callable[[Run], None]]] = [
    ("read", _read),
    ("extract", _extract),
    ("validate", _validate),
    ("number", _number),
    ("render", _render),
    ("document", _document),
    ("assemble", _assemble),
    ("emit", _emit),
]


def documents(run: Run) -> None:
    """The posts' documents (the document stage) straight after extract, nothing validated, numbered
    or drawn: what `anthology fetch` finds the images in, as the build will (the build's own document
    stage then takes them from the cache)."""
    _stage(run, "document", _document)


def run_stages(run: Run, until: str, start: str = "read") -> Run:
    """Run the stages from `start` to `until`, both included."""
    names = [name for name, _ in STAGES]
    for name in (start, until):
        if name not in names:
            raise ValueError(f"no stage {name!r}; stages: {', '.join(names)}")
    try:
        for name, stage in STAGES[names.index(start): names.index(until) + 1]:
            _stage(run, name, stage)
    finally:
        run.engine.release()
    return run


def _stage(run: Run, name: str, stage: Callable[[Run], None]) -> None:
    """One stage run, its progress shown and its time recorded with what it counted."""
    run.stage = name
    unit, size = _SIZES.get(name, ("", None))
    with timings.stage(name) as counts, progress.task(name, size(run) if size else None, unit):
        stage(run)
        if name == "render" and run.stats.render:
            counts.update(drawn=run.stats.render.drawn, distinct=run.stats.render.distinct,
                          workers=run.engine.workers())
        elif name in ("validate", "render", "document"):
            counts.update({unit or "items": size(run) if size else 0})


def _posts(run: Run) -> int:
    return len(run.posts)


def _formulas(run: Run) -> int:
    return sum(len(p.formulas) for p in run.posts)


# What each stage counts, as its progress shows, and how many it will count when that is known
# before it starts (read counts the posts as it finds them; emit's emitter reports its own steps).
_SIZES: dict[str, tuple[str, Callable[[Run], int] | None]] = {
    "read": ("posts", None),
    "extract": ("posts", _posts),
    "validate": ("formulas", _formulas),
    "number": ("posts", _posts),
    "render": ("formulas", _formulas),
    "document": ("posts", _posts),
    "assemble": ("posts", _posts),
}
