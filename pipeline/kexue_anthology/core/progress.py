"""Progress of long runs: what stage a run is in and how far along it is.

Stages and emitters report through `task`; the command line chooses how that is shown
(`use`): nothing by default (tests, library use), a rich display on a terminal (`Rich`), one
plain line per stage otherwise (`PlainProgress`, for CI logs and pipes).  Reporting never changes what
a run does.  Tasks nest (an emitter's "typeset" inside the "emit" stage); `advance` counts
toward the innermost task open, and a task that ends without an exception counts as complete.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, TextIO

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID


class Reporter(Protocol):
    def begin(self, stage: str, total: int | None, unit: str = "") -> None: ...
    def advance(self, n: int) -> None: ...
    def end(self, failed: bool = False) -> None: ...
    def say(self, text: str) -> None: ...


class Silent:
    def begin(self, stage: str, total: int | None, unit: str = "") -> None:
        pass

    def advance(self, n: int) -> None:
        pass

    def end(self, failed: bool = False) -> None:
        pass

    def say(self, text: str) -> None:
        pass


_reporter: Reporter = Silent()


def use(reporter: Reporter | None) -> Reporter:
    """Show progress with `reporter` (None: nothing); returns the one used before."""
    global _reporter
    before, _reporter = _reporter, reporter or Silent()
    return before


@contextmanager
def task(stage: str, total: int | None = None, unit: str = "") -> Iterator[Callable[[int], None]]:
    """A stage of `total` steps (None: unknown) counted in `unit` ("posts", "parts");
    yields `advance(n=1)`."""
    _reporter.begin(stage, total, unit)
    failed = True
    try:
        yield advance
        failed = False
    finally:
        _reporter.end(failed)


def say(text: str) -> None:
    """One line telling what the run is doing that takes a while and is no task of counted steps
    (the engine's first install), shown as progress is (not with -q)."""
    _reporter.say(text)


def advance(n: int = 1) -> None:
    """`n` more steps done in the innermost task open: for code that runs inside a task it
    did not open (a stage's library function)."""
    _reporter.advance(n)


def duration(seconds: float) -> str:
    """12.3 s, 15 min 30 s."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def _count(done: int, total: int | None, unit: str) -> str:
    """45 parts, 12/45 parts, 1 part, or nothing when nothing was counted."""
    many = total if total is not None else done
    unit = unit[:-1] if many == 1 and unit.endswith("s") else unit
    if total is not None and done != total:
        return f"{done}/{total} {unit}".rstrip()
    return f"{done} {unit}".rstrip() if done or total is not None else ""


@dataclass
class _Open:
    stage: str
    total: int | None
    unit: str
    started: float = field(default_factory=time.perf_counter)
    done: int = 0

    def count(self, failed: bool) -> str:
        """What was done: a task that ended well did all its `total`, whatever it counted."""
        done = self.total if not failed and self.total is not None and self.done < self.total else self.done
        return _count(done, self.total, self.unit)


class _Stack:
    """The tasks open, innermost last; `advance` counts toward the innermost."""

    def __init__(self) -> None:
        self._open: list[_Open] = []
        self._lock = threading.Lock()        # an emitter may count from a thread of its own

    def begin(self, stage: str, total: int | None, unit: str = "") -> None:
        with self._lock:
            self._open.append(_Open(stage, total, unit))
            self._began(self._open[-1], len(self._open) - 1)

    def advance(self, n: int) -> None:
        with self._lock:
            if self._open:
                self._open[-1].done += n
                self._advanced(self._open[-1])

    def end(self, failed: bool = False) -> None:
        with self._lock:
            path = "/".join(t.stage for t in self._open)
            self._ended(self._open.pop(), path, failed)

    def _began(self, task: _Open, depth: int) -> None:
        pass

    def say(self, text: str) -> None:
        pass

    def _advanced(self, task: _Open) -> None:
        pass

    def _ended(self, task: _Open, path: str, failed: bool) -> None:
        pass


class PlainProgress(_Stack):
    """One line per task as it ends, on `stream`: `typeset: 45 parts in 12.3 s`; a nested
    task is named by its path (`emit/typeset`), a task left by an exception says it stopped."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream

    def say(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def _ended(self, task: _Open, path: str, failed: bool) -> None:
        count, took = task.count(failed), duration(time.perf_counter() - task.started)
        if failed:
            line = f"{path}: stopped after {count + ', ' if count else ''}{took}"
        else:
            line = f"{path}: {count + ' in ' if count else ''}{took}"
        print(line, file=self.stream, flush=True)


class Rich(_Stack):
    """A live display on `console`: per task its name, a bar (a pulse while the total is not
    known), what is done and the time elapsed.  Each top-level task gets a display of its own,
    left on screen when it ends: the terminal keeps one line per stage (its nested tasks below
    it), and nothing is drawn while the command prints its results."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console
        self._display: Progress | None = None
        self._ids: dict[int, TaskID] = {}

    def _began(self, task: _Open, depth: int) -> None:
        # rich is loaded only here, on a terminal: it takes a tenth of a second
        from rich.markup import escape
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
        if self._display is None:
            self._display = Progress(TextColumn("{task.description}"), BarColumn(),
                                     TextColumn("{task.fields[count]}", style="progress.download"),
                                     TimeElapsedColumn(), console=self.console, redirect_stdout=False)
            self._display.start()
        self._ids[id(task)] = self._display.add_task("  " * depth + escape(task.stage), total=task.total,
                                                     count=task.count(failed=True))

    def say(self, text: str) -> None:
        from rich.markup import escape
        (self._display.console if self._display is not None else self.console).print(escape(text))

    def _advanced(self, task: _Open) -> None:
        assert self._display is not None
        self._display.update(self._ids[id(task)], completed=task.done, count=task.count(failed=True))

    def _ended(self, task: _Open, path: str, failed: bool) -> None:
        display, task_id = self._display, self._ids.pop(id(task))
        assert display is not None
        if failed:
            name = next(t.description for t in display.tasks if t.id == task_id)
            display.update(task_id, description=f"{name} [red](stopped)[/]")
        else:                               # a full bar, also where the total was not known
            full = task.total or max(task.done, 1)
            display.update(task_id, total=full, completed=full, count=task.count(failed=False))
        display.stop_task(task_id)
        if not self._ids:
            display.refresh()
            display.stop()
            self._display = None
