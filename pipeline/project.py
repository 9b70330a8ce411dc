"""The project file, `anthology.toml`: a content folder's book settings.

Found by walking up from the inputs (like pyproject.toml); every command reads it, and the
command line's flags override it.  With no file the blog's own defaults hold (`Project()`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_TITLE = "科学空间文集"


@dataclass(frozen=True)
class Project:
    """What a book says about itself and how it is built.  The defaults are 科学空间's."""
    title: str | None = None               # None: the series' name with --series, else DEFAULT_TITLE
    subtitle: str | None = None
    author: str = "苏剑林"
    language: str = "zh-Hans"              # BCP 47, for the outputs' lang / dc:language / /Lang
    source_name: str = "科学空间"           # the site the posts come from
    source_url: str = "https://kexue.fm"
    licence: str = "文章版权归原作者所有（科学空间 kexue.fm）"
    series: tuple[str, ...] | None = None  # which series go in, in this order (None: all, by date)
    others: bool = True                    # whether posts of no series go in (「其他文章」)
    paper: str = "a4"                      # pdf: a4, a5, b5
    math: str | None = None                # None: each format's default
    cover: Path | None = None              # an image; None: the drawn cover
    outputs: dict[str, str] = field(default_factory=dict)    # format → file or folder name
    path: Path | None = None               # the anthology.toml read, None for the defaults

    @property
    def source(self) -> str:
        """The source as the books print it: 「科学空间 · kexue.fm」."""
        host = self.source_url.split("://", 1)[-1].rstrip("/")
        return " · ".join(x for x in (self.source_name, host) if x)
