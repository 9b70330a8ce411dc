"""A Markdown file with no front matter (`notes.md` as any editor writes it): still a post.

Its title is its first `# ` heading (that line leaves the body), else the file's name; its
date that of the file's last git commit (`git log -1 --format=%cI -- FILE`), else its
modification time.  What was assumed is said once per file, as a note (`post-assumed`), with
the front matter that would say it instead.  Only files named `.md` or `.markdown` are read
this way, and only when no other form claims them (read/__init__.py tries this reader last).
"""

from __future__ import annotations

import datetime
import os
import re
import shutil
import subprocess
from pathlib import Path

from kexue_anthology.core.diagnostics import Diagnostics
from kexue_anthology.core.model import Post
from kexue_anthology.core.sourcetext import SourceFile
from kexue_anthology.read.listing import title_id

FORM = "plain-markdown"
SUFFIXES = (".md", ".markdown")
HEADING = re.compile(r"^[ ]{0,3}#[ \t]+(?P<title>[^\n]*?)[ \t]*#*[ \t]*$", re.M)
FENCE = re.compile(r"^[ ]{0,3}(```|~~~)", re.M)
# The lines that make a file a post in the authored form (read/frontmatter.py), as a hint.
FRONT_MATTER_HINT = "`---` / `title: 标题` / `date: YYYY-MM-DD` / `---`"
GIT_TIMEOUT = 10.0


def accepts(name: str) -> bool:
    return name.lower().endswith(SUFFIXES)


def read(source: SourceFile, diagnostics: Diagnostics) -> list[Post]:
    text = source.text
    heading = _first_heading(text)
    if heading is not None:
        title, body_start = heading.group("title").strip(), heading.end()
        said = "title from the first heading"
    else:
        title, body_start = Path(source.path).stem, 0
        said = "title from the file's name"
    date, when = file_date(Path(source.path))
    diagnostics.note("post-assumed", f"no front matter: {said} ({title}), date from {when} ({date}); "
                     f"front matter sets them: {FRONT_MATTER_HINT}", source.position(0))
    return [Post(id=title_id(title), title=title, date=date, readers=None,
                 body=source.slice(body_start, len(text)), body_format="markdown", form=FORM,
                 position=source.position(0))]


def _first_heading(text: str) -> re.Match[str] | None:
    """The first level-one ATX heading outside a fenced code block, with a title."""
    fences = [m.start() for m in FENCE.finditer(text)]
    for m in HEADING.finditer(text):
        inside = sum(1 for f in fences if f < m.start()) % 2 == 1
        if not inside and m.group("title").strip():
            return m
    return None


def file_date(path: Path) -> tuple[str, str]:
    """The file's date (YYYY-MM-DD) and where it came from: its last commit, else its modification time."""
    git = shutil.which("git")
    if git:
        try:
            done = subprocess.run([git, "-C", str(path.parent or "."), "log", "-1", "--format=%cI", "--", path.name],
                                  capture_output=True, text=True, timeout=GIT_TIMEOUT,
                                  env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})
            stamp = done.stdout.strip()
            if done.returncode == 0 and re.match(r"\d{4}-\d{2}-\d{2}", stamp):
                return stamp[:10], "the last commit"
        except (OSError, subprocess.SubprocessError):
            pass
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return datetime.date.today().isoformat(), "today"
    return datetime.date.fromtimestamp(mtime).isoformat(), "the file's modification time"
