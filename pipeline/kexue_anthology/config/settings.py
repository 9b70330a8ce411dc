"""A command's settings, resolved once: its flags laid over the project file, every default applied here.

`resolve` builds them (the CLI calls it once per command that reads posts); after that they are
one frozen object shared by the stages, the emitters and every rebuild of `serve`.  The values
a format declares for itself (kexue_anthology.formats.base.Emitter.options) come back by name
in `options`.  `source_date` is the one reading of SOURCE_DATE_EPOCH.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kexue_anthology.config.project import DEFAULT_TITLE, Project
from kexue_anthology.core.cache import default_cache_dir

# Options a format may declare whose values are settings of their own, not left in `options`.
RESOLVED = ("math", "paper", "jobs")


@dataclass(frozen=True)
class Settings:
    """How a command builds: the book's title, its formulas' form, its cache and workers."""
    project: Project = field(default_factory=Project)    # the project file's, --subtitle/--author/--paper laid over
    title: str = DEFAULT_TITLE         # --title, else --series, else the project file's, else DEFAULT_TITLE
    series: str | None = None          # --series: only the posts of this series
    math: str = "mathml"               # --math, else the project file's when the format offers it, else its first
    cache_dir: Path | None = None      # None: no cache (--no-cache)
    timeout: float = 10.0              # --timeout: seconds of processor time MathJax may spend checking a formula
    jobs: int | None = None            # --jobs: the workers of each pool (None: each pool's own default)
    options: Mapping[str, Any] = field(default_factory=dict)    # the format's other options, by name

    @property
    def paper(self) -> str:
        return self.project.paper

    def option(self, name: str) -> Any:
        """The value of an option the format declared (None when not given)."""
        return self.options.get(name)


def resolve(project: Project, flags: Mapping[str, Any], math_choices: Sequence[str] = (),
            declared: Iterable[str] = ()) -> Settings:
    """The settings of a command whose parsed flags are `flags` (None: not given) and whose
    project file says `project`.  `math_choices` are the format's forms of formulas (the first
    its default), `declared` the names of the options the format declared."""
    laid = {name: flags[name] for name in ("subtitle", "author", "paper") if flags.get(name) is not None}
    project = dataclasses.replace(project, **laid)
    series = flags.get("series")
    math, timeout = flags.get("math"), flags.get("timeout")
    if math is None:
        math = project.math if project.math in math_choices else math_choices[0] if math_choices else "mathml"
    return Settings(
        project=project, title=flags.get("title") or series or project.title or DEFAULT_TITLE, series=series,
        math=str(math), cache_dir=None if flags.get("no_cache") else flags.get("cache_dir") or default_cache_dir(),
        timeout=Settings.timeout if timeout is None else timeout, jobs=flags.get("jobs"),
        options={name: flags.get(name) for name in declared if name not in RESOLVED})


class DateError(ValueError):
    """SOURCE_DATE_EPOCH is set but names no date."""


_EPOCH = re.compile(r"[0-9]+")


def source_date() -> dt.datetime | None:
    """SOURCE_DATE_EPOCH as a date, None when it is unset or blank.  As reproducible-builds.org
    defines it, it is a whole number of seconds since 1970-01-01 in ASCII digits (spaces around
    it are forgiven); anything else raises DateError."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is None or not epoch.strip():
        return None
    try:
        if not _EPOCH.fullmatch(epoch.strip()):
            raise ValueError
        return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC)
    except (ValueError, OverflowError, OSError):
        raise DateError(f"SOURCE_DATE_EPOCH={epoch[:40]!r} is not a date: it must be a whole number "
                        "of seconds since 1970-01-01 (and before the year 10000)") from None
