"""How the MathJax worker is used, by validate and render alike."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kexue_anthology.config.settings import Settings
from kexue_anthology.engine.client import Worker


@dataclass
class EngineOptions:
    """How the MathJax worker is used, by validate and render alike."""
    cache_dir: Path | None = None       # None: no cache
    timeout: float = 10.0
    worker_factory: Callable[[], Worker] | None = None
    jobs: int = 0                          # workers drawing side by side; 0: one per core, up to 2

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

    def workers(self) -> int:
        return self.jobs if self.jobs > 0 else max(1, min(2, os.cpu_count() or 1))
