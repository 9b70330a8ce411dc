"""Where a location is shown: one path for every output that names a place in a source file.

The text diagnostics, `check --format json` and `--format github`, the site's `errors.html` and
`serve`'s banner all name a file by `shown(path, root)`, with `root` from `root_of`: the top of the
git repository holding the content folder (GitHub attaches an annotation only to a path relative to
it), else the content folder (the project file's), else the working folder.  A file outside the
root keeps the name it was given (the command line's own); only a published page (errors.html) names
such a file from the posts' common folder instead, never by the build machine's absolute path.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


def root_of(paths: Iterable[str | Path], project_file: Path | None = None) -> Path:
    """The folder locations are shown relative to: the git top of the content folder (the
    project file's folder, else the PATHs' common folder), else the project file's folder,
    else the working folder."""
    content = Path(os.path.abspath(project_file)).parent if project_file else _common(paths)
    top = _git_top(content) if content else None
    if top is not None:
        return top
    return content if project_file and content else Path(os.getcwd())


def content_folder(paths: Iterable[str | Path], project_file: Path | None) -> Path:
    """The content folder (a writer's own images must stay inside it): the project file's folder when
    it holds every PATH, else the PATHs' common folder (a file's own folder when one file is named)."""
    common = _common(paths) or Path(os.getcwd())
    if project_file is not None:
        top = Path(os.path.abspath(project_file)).parent
        if common == top or top in common.parents:
            return top.resolve()
    return common.resolve()


def shown(path: str, root: Path | None) -> str:
    """`path` relative to `root` (with `/`) when inside it, else as given."""
    if root is None or not path or path.startswith("<"):
        return path
    full = os.path.abspath(path)
    base = os.path.abspath(root)
    try:
        inside = os.path.commonpath([base, full]) == base
    except ValueError:                       # another drive
        return path
    return Path(os.path.relpath(full, base)).as_posix() if inside and full != base else path


def _common(paths: Iterable[str | Path]) -> Path | None:
    """The common folder of `paths` (a file counts as its folder); None for none, or on different drives."""
    folders = []
    for p in paths:
        full = os.path.abspath(p)
        folders.append(full if os.path.isdir(full) else os.path.dirname(full))
    try:
        return Path(os.path.commonpath(folders)) if folders else None
    except ValueError:
        return None


def _git_top(folder: Path) -> Path | None:
    """The nearest folder at or above `folder` holding `.git` (a folder, or a worktree's file)."""
    for candidate in (folder, *folder.parents):
        if os.path.lexists(candidate / ".git"):
            return candidate
    return None
