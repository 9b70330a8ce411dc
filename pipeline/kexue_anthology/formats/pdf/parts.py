"""The book in parts: which posts go together, each part's HTML, and typesetting them.

A part is a run of posts of one group (a series, or 「其他文章」); the first part of a series
opens with the series' part page.  Where a run ends is decided by the posts' ids (after a post
whose id hashes to 0 mod RUN, or after MAX_RUN posts), so an edit to one post changes only its
own part, and a post added or removed only the parts around it.  Every part starts on a new
page in the book, as every post does, so it can be typeset alone: it is written as HTML with
the book's stylesheets and typeset by WeasyPrint in a worker process, without page numbers
(formats/pdf/merge.py lays those over).  A typeset part is cached by a hash of its HTML,
its stylesheets and the typesetter's version: its drawings are named by their content.
"""

from __future__ import annotations

import concurrent.futures
import functools
import hashlib
import html
import importlib.metadata
import multiprocessing
import os
import re
import signal
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from kexue_anthology.collection.collection import Collection
from kexue_anthology.core import cachelimit, lifeline, progress
from kexue_anthology.core.cache import used
from kexue_anthology.core.fileio import atomic_write_bytes
from kexue_anthology.core.model import Post
from kexue_anthology.formats.pdf import typeset
from kexue_anthology.formats.pdf.fonts import installed_fingerprint
from kexue_anthology.formats.pdf.merge import CROSS_PART as CROSS_PART
from kexue_anthology.formats.pdf.tags import finish_part

RUN = 4                 # a run ends after a post whose id hashes to 0 mod RUN: about RUN posts a part
MAX_RUN = 8
PARTS_VERSION = "4"     # of the parts' HTML, stylesheets and tags beyond what is hashed; bump on a change
NUMBERS_PER_FILE = 100
IN_PROCESS = False      # typeset in this process instead (a test that injects a fault into WeasyPrint)

# Typesetting a part without its page numbers; the numbers alone, on otherwise empty pages.
# (`!important`: these are user stylesheets, which yield to the book's own otherwise.)
NO_NUMBERS = "@page { @bottom-center { content: none !important; } }"
ONLY_NUMBERS = ("@page { @top-center { content: none !important; border: none !important; } } "
                "@page :first { counter-reset: page %d; } .number + .number { break-before: page; }")


@dataclass
class Section:
    """Posts of one group, with the group's part page or not."""
    index: int                          # the group's place in the book, 1-based (its part page's id)
    name: str | None
    posts: list[Post]
    part_page: bool
    count: int                          # posts in the whole group (the part page says so)


@dataclass
class Part:
    """What one WeasyPrint run typesets: the front matter, or sections of posts."""
    name: str
    front: bool = False
    sections: list[Section] = field(default_factory=list)

    @property
    def starts_right(self) -> bool:
        return bool(self.sections) and self.sections[0].part_page

    @property
    def nested(self) -> bool:
        """Its posts belong under a part page typeset in an earlier part."""
        return bool(self.sections) and bool(self.sections[0].name) and not self.sections[0].part_page

    @property
    def posts(self) -> list[Post]:
        return [post for section in self.sections for post in section.posts]


def _ends_run(post: Post, length: int) -> bool:
    digest = hashlib.sha256(post.id.encode()).digest()
    return int.from_bytes(digest[:4], "big") % RUN == 0 or length >= MAX_RUN


def plan(collection: Collection) -> list[Part]:
    """The book's parts in order (without the front matter)."""
    groups = collection.groups()
    with_pages = any(name for name, _ in groups)
    parts: list[Part] = []
    for index, (name, posts) in enumerate(groups, 1):
        run: list[Post] = []
        first = True
        for n, post in enumerate(posts):
            run.append(post)
            if _ends_run(post, len(run)) or n == len(posts) - 1:
                section = Section(index, name, run, part_page=bool(with_pages and name) and first, count=len(posts))
                parts.append(Part(f"part-{index}-{post.id}", sections=[section]))
                run, first = [], False
        if not posts and with_pages and name:
            parts.append(Part(f"part-{index}", sections=[Section(index, name, [], True, 0)]))
    return parts


def split(part: Part) -> list[Part]:
    """A part as parts of one post each (to find the post WeasyPrint fails on)."""
    single = []
    for section in part.sections:
        for n, post in enumerate(section.posts):
            one = Section(section.index, section.name, [post], section.part_page and n == 0, section.count)
            single.append(Part(f"{part.name}-{post.id}", sections=[one]))
    return single


def halves(part: Part) -> list[Part]:
    """A part of two posts or more as two parts, each with about half its posts."""
    posts = [(section, n, post) for section in part.sections for n, post in enumerate(section.posts)]
    if len(posts) < 2:
        return [part]
    pieces: list[Part] = []
    for name, run in ((f"{part.name}-a", posts[:len(posts) // 2]), (f"{part.name}-b", posts[len(posts) // 2:])):
        sections: list[Section] = []
        for section, n, post in run:
            if sections and sections[-1].index == section.index:
                sections[-1].posts.append(post)
            else:
                sections.append(Section(section.index, section.name, [post], section.part_page and n == 0,
                                        section.count))
        pieces.append(Part(name, sections=sections))
    return pieces


# What typesetting a part costs, roughly, in bytes of its HTML: a part's fixed cost (a document
# begun and written, its fonts subset) and a formula's (an SVG drawing read and drawn).
PART_COST = 20_000
FORMULA_COST = 1_500
SPLIT_COST = 1_000_000      # a part that costs more is split in two (some ten long posts full of formulas)


def cost(text: str) -> int:
    """About how long a part's HTML takes to typeset (in PART_COST's unit)."""
    return PART_COST + len(text.encode()) + FORMULA_COST * text.count("<img")


def too_long(cost: int) -> bool:
    """Whether a part of this cost is typeset as two halves instead (parts.halves): one long part
    typeset last keeps one worker busy while the others idle.  A fixed limit, not one that
    depends on --jobs or on what the cache holds, so the book is the same whatever they are."""
    return cost > SPLIT_COST


def longest_first(costs: list[int]) -> list[int]:
    """The order to typeset in: the costliest first, so that no long part is left to run alone
    at the end (ties in the book's order)."""
    return sorted(range(len(costs)), key=lambda n: (-costs[n], n))


_HREF = re.compile(r'href="#([^"]*)"')
_ID = re.compile(r'\sid="([^"]*)"')


def _anchor(value: str) -> str:
    return unquote(html.unescape(value))


def cross_part_links(text: str) -> str:
    """Links to anchors this part does not hold, written so that they survive typesetting
    (WeasyPrint drops an internal link whose anchor is not in the document)."""
    here = {_anchor(m.group(1)) for m in _ID.finditer(text)}

    def outward(m: re.Match[str]) -> str:
        return m.group(0) if _anchor(m.group(1)) in here else f'href="{CROSS_PART}{m.group(1)}"'
    return _HREF.sub(outward, text)


@functools.cache
def _weasyprint_version() -> str:
    """WeasyPrint's version, from its installed metadata: this process need not load WeasyPrint
    (its workers typeset)."""
    return importlib.metadata.version("weasyprint")


def cache_key(text: str, stylesheets: Iterable[str]) -> str:
    # a part's fonts are stubs for the installed faces (formats/pdf/fonts.py)
    digest = hashlib.sha256(f"{PARTS_VERSION}\0{_weasyprint_version()}\0{installed_fingerprint()}\0".encode())
    for piece in (text, *stylesheets):
        digest.update(hashlib.sha256(piece.encode()).digest())
    return digest.hexdigest()


def _warm() -> None:
    """A worker's start: WeasyPrint loaded, its fonts and stylesheets kept (`typeset.keep`)."""
    typeset.keep()


def typeset_one(html_path: str, pdf_path: str, extra_css: str) -> str | None:
    """Typeset one part (in a worker process), its tags finished (formats/pdf/tags.py):
    None, or what WeasyPrint failed with."""
    try:
        typeset.keep()             # fonts and the book's stylesheets parsed once per worker, not per part
        with typeset.as_part():    # font stubs: the merge makes one subset per face (formats/pdf/fonts.py)
            typeset.write_pdf(Path(html_path), Path(pdf_path), b"part", extra_css=extra_css)
    except typeset.TYPESETTING_FAULTS as e:
        return f"{type(e).__name__}: {str(e)[:200]}"
    finish_part(Path(pdf_path), hashlib.sha256(Path(html_path).read_bytes()).hexdigest()[:8])
    return None


@dataclass
class Job:
    """A part's HTML to typeset into `pdf`, unless the cache has it."""
    name: str
    html: Path
    pdf: Path
    key: str
    extra_css: str
    cost: int = 0                        # its size as `cost` estimates it


class Typesetter:
    """Typesets parts with `jobs` worker processes, through a cache of typeset parts.  Workers,
    not this process, even for one job: WeasyPrint's memory stays with them, and this process
    (which holds the whole collection) stays at the size of the collection."""

    def __init__(self, work: Path, cache: Path | None, jobs: int) -> None:
        self.work, self.cache, self.jobs = work, cache, max(1, jobs)
        self.typeset = 0                  # parts WeasyPrint typeset in this run (the others: cached)
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    def __enter__(self) -> Typesetter:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        if self._pool is None:
            return
        if kind is not None:            # interrupted or failed: the parts being typeset are not waited for
            for worker in multiprocessing.active_children():
                worker.terminate()
        self._pool.shutdown(cancel_futures=True)
        self._pool = None

    def _workers(self) -> concurrent.futures.ProcessPoolExecutor:
        """The worker processes, started on first use and kept for every later run of this build
        (each start costs loading WeasyPrint and its fonts)."""
        if self._pool is None:
            context = multiprocessing.get_context("spawn")       # workers hold only what they typeset
            self._pool = concurrent.futures.ProcessPoolExecutor(self.jobs, mp_context=context,
                                                                initializer=_worker_setup, initargs=(os.getpid(),))
        return self._pool

    def warm(self) -> None:
        """Start a worker now, loading WeasyPrint, so that it is ready when the first part is (one:
        when every part is cached, the others are never started)."""
        if not IN_PROCESS:
            self._workers().submit(_warm)

    def job(self, name: str, text: str, stylesheets: list[str], extra_css: str = NO_NUMBERS) -> Job:
        path = self.work / f"{name}.html"
        path.write_text(text, encoding="utf-8")
        return Job(name, path, self.work / "typeset" / f"{name}.pdf", cache_key(text, [*stylesheets, extra_css]),
                   extra_css, cost(text))


    def _cached(self, key: str) -> Path | None:
        return self.cache / key[:2] / f"{key}.pdf" if self.cache else None

    def _from_cache(self, job: Job) -> bool:
        """The job's PDF copied from the cache, if it is there (and marked as used)."""
        cached = self._cached(job.key)
        if cached is None:
            return False
        try:
            data = cached.read_bytes()          # not is_file() first: a prune may remove it in between
        except OSError:
            return False
        used(cached)
        job.pdf.write_bytes(data)
        return True

    def run(self, jobs: list[Job], stage: str = "typeset", unit: str = "parts",
            done: Callable[[Job], None] | None = None) -> dict[str, str]:
        """Typeset `jobs`; returns the failures, name → what WeasyPrint said.  Each job's PDF is
        at its `pdf` path afterwards unless it failed; `done(job)` is called as each is (the
        cached ones while the others are typeset)."""
        (self.work / "typeset").mkdir(exist_ok=True)
        pending: list[Job] = []
        cached: list[Job] = []
        for job in jobs:
            (cached if self._from_cache(job) else pending).append(job)
        failed: dict[str, str] = {}
        with progress.task(stage, total=len(pending), unit=unit) as advance:
            results = self._typeset(pending, advance)
            if done:
                for job in cached:
                    done(job)
            for job, problem in results:
                if problem is not None:
                    failed[job.name] = problem
                    continue
                self.typeset += 1
                if done:
                    done(job)
                cached_path = self._cached(job.key)
                if cached_path is not None:
                    try:
                        data = job.pdf.read_bytes()
                        atomic_write_bytes(cached_path, data, clean=False)
                    except OSError:                # a cache that cannot be written only costs time
                        continue
                    cachelimit.note_written(len(data))
        return failed

    def _typeset(self, jobs: list[Job], advance: Callable[[int], None]) -> Iterator[tuple[Job, str | None]]:
        """Each job submitted now (the costliest first), and the jobs with their outcomes as they end."""
        jobs = [jobs[n] for n in longest_first([job.cost for job in jobs])]
        if IN_PROCESS:
            return self._in_process(jobs, advance)
        pool = self._workers()
        futures = {pool.submit(typeset_one, str(j.html), str(j.pdf), j.extra_css): j for j in jobs}
        return self._ended(futures, advance)

    @staticmethod
    def _in_process(jobs: list[Job], advance: Callable[[int], None]) -> Iterator[tuple[Job, str | None]]:
        for job in jobs:
            yield job, typeset_one(str(job.html), str(job.pdf), job.extra_css)
            advance(1)

    @staticmethod
    def _ended(futures: dict[concurrent.futures.Future[str | None], Job],
               advance: Callable[[int], None]) -> Iterator[tuple[Job, str | None]]:
        for future in concurrent.futures.as_completed(futures):
            advance(1)
            yield futures[future], future.result()


def _worker_setup(parent: int) -> None:
    """Ctrl-C is the command's to handle (it stops the workers); a worker never prints a traceback.
    A command that is killed outright (`kill -9`) takes its workers with it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    lifeline.die_with_parent(parent)


def default_jobs() -> int:
    """The processors this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:                     # not Linux
        return os.cpu_count() or 1


def numbers_html(count: int) -> str:
    """`count` empty pages under the book's stylesheet: its page numbers, nothing else."""
    return ('<!DOCTYPE html><html lang="zh-Hans"><head><meta charset="utf-8">'
            '<link rel="stylesheet" href="book.css"></head><body>'
            + '<div class="number"></div>' * count + "</body></html>\n")


def numbers_css(first: int) -> str:
    return ONLY_NUMBERS % first
