"""What the emitters share: build options and the build date (fonts, templates, names and the
book's id are kexue_anthology.formats.fonts, .templates, .names and .ids)."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

from kexue_anthology.collection.collection import Collection
from kexue_anthology.config.project import Project


class SetupError(RuntimeError):
    """A program or font the build needs is missing: a setup problem, not bad input."""


@dataclass
class BuildOptions:
    """A build's options: the title, and those the formats add (kexue_anthology.formats.base.Emitter.add_options)."""
    math: str = "mathml"          # `--math`, of the formats that offer a choice (Emitter.math_mode)
    paper: str = "a4"             # pdf: a4, a5, b5
    title: str | None = None
    keep_build: Path | None = None   # pdf: also copy the book's HTML and drawings here
    jobs: int | None = None          # pdf: processes typesetting parts (None: one per processor)
    cache_dir: Path | None = None    # where typeset parts are kept (the engine's cache folder)
    volumes: int | None = None       # pdf: as that many books
    project: Project = field(default_factory=Project)    # the book's settings (kexue_anthology.config.project)


def build_date(collection: Collection) -> dt.datetime:
    """SOURCE_DATE_EPOCH when set, else the newest post's date: never the clock, so that two
    builds of the same collection are byte for byte the same."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.strip().isdigit():
        return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC)
    dates = [p.date for p in collection.posts if p.date]
    day = max(dates) if dates else "2000-01-01"
    return dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)
