"""How the MathJax worker is used, by validate and render alike."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from kexue_anthology.config.settings import Settings
from kexue_anthology.core import timings
from kexue_anthology.engine.client import Worker


@dataclass
class EngineOptions:
    """How the MathJax worker is used, by validate and render alike."""
    cache_dir: Path | None = None       # None: no cache
    timeout: float = 10.0
    worker_factory: Callable[[], Worker] | None = None
    jobs: int = 0                          # workers drawing side by side; 0: one per core, up to 2
    spare: Worker | None = field(default=None, repr=False, compare=False)   # left running by `kept`

    @classmethod
    def of(cls, settings: Settings) -> EngineOptions:
        """The engine as `settings` use it: their cache, timeout and --jobs (validate has one worker)."""
        return cls(cache_dir=settings.cache_dir, timeout=settings.timeout, jobs=settings.jobs or 0)

    def worker(self, timeout: float | None = None) -> Worker:
        """A worker as these options make it: the factory's (tests), else one with `timeout`
        (default: the checking timeout)."""
        if self.worker_factory:
            return self.worker_factory()
        return Worker(timeout=self.timeout if timeout is None else timeout)

    @contextmanager
    def kept(self, worker: Worker) -> Iterator[Worker]:
        """`worker` started for the block and, when the block ends well, kept running for the
        next stage's `take` (validate's worker draws next: a build with formulas to check and to
        draw starts Node once, not twice); stopped when the block fails."""
        worker.start()
        try:
            yield worker
        except BaseException:
            worker.stop()
            raise
        self.release()
        self.spare = worker
        timings.hand_on(worker.processor_time() or 0.0)

    def take(self, timeout: float | None = None) -> Worker:
        """The worker left by `kept` (its page state reset, its limit `timeout`), else a new one
        as `worker` makes it."""
        worker, self.spare = self.spare, None
        if worker is None or worker.process is None:
            return self.worker(timeout)
        worker.timeout = self.timeout if timeout is None else timeout
        worker.reset()
        return worker

    def release(self) -> None:
        """Stop the worker `kept` left, if no stage took it."""
        worker, self.spare = self.spare, None
        if worker is not None:
            worker.stop()

    def workers(self) -> int:
        return self.jobs if self.jobs > 0 else max(1, min(2, os.cpu_count() or 1))
