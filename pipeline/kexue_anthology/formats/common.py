"""What the emitters share: the build date (fonts, templates, names and the book's id are
kexue_anthology.formats.fonts, .templates, .names and .ids)."""

from __future__ import annotations

import datetime as dt

from kexue_anthology.collection.collection import Collection
from kexue_anthology.config.settings import source_date


def build_date(collection: Collection) -> dt.datetime:
    """SOURCE_DATE_EPOCH when set, else the newest post's date: never the clock, so that two
    builds of the same collection are byte for byte the same."""
    when = source_date()
    if when is not None:
        return when
    dates = [p.date for p in collection.posts if p.date]
    day = max(dates) if dates else "2000-01-01"
    return dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)
