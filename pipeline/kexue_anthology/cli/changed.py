"""`anthology check --changed REV`: the files changed since a git revision.

Changed means what `git diff --name-only REV --` lists (committed since REV, staged or not) and
the untracked files git does not ignore; of those, the files that still exist, lie within the
PATHs and would be read from a folder (kexue_anthology.read's rules: no hidden files, READMEs, the
project file or images).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from kexue_anthology.read import holds_posts


class GitError(Exception):
    """No git, no repository, or no such revision: a usage error (exit status 2)."""


def _git(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True,
                          env={**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"})


def changed_files(rev: str, paths: Iterable[str]) -> list[Path]:
    """The files within `paths` changed since `rev`, sorted; GitError when that cannot be told."""
    roots = [Path(os.path.abspath(p)).resolve() for p in paths]
    if shutil.which("git") is None:
        raise GitError(f"--changed {rev}: git is not installed")
    if not rev or rev.startswith("-"):
        raise GitError(f"--changed {rev!r}: not a revision")
    folders = [str(r if r.is_dir() else r.parent) for r in roots]
    start = Path(os.path.commonpath(folders))
    while not start.is_dir():            # a PATH that does not exist (yet): its nearest folder
        start = start.parent
    top = _git(start, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        raise GitError(f"--changed {rev}: {start} is not in a git repository")
    repo = Path(top.stdout.strip()).resolve()
    commit = _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if commit.returncode != 0:
        raise GitError(f"--changed {rev}: no revision {rev!r} in the git repository at {repo}")
    names: set[str] = set()
    for args in (("diff", "--name-only", "-z", commit.stdout.strip(), "--"),
                 ("ls-files", "--others", "--exclude-standard", "-z", "--full-name")):
        listed = _git(repo, *args)
        if listed.returncode != 0:
            raise GitError(f"--changed {rev}: git {args[0]} failed: {listed.stderr.strip()[:300]}")
        names.update(n for n in listed.stdout.split("\0") if n)
    found = []
    for name in sorted(names):
        path = repo / name
        root = next((r for r in roots if path == r or r in path.parents), None)
        if root is not None and path.is_file() and _read_from_folder(path.relative_to(root) if path != root
                                                                     else Path(path.name)):
            found.append(path)
    return found


def _read_from_folder(relative: Path) -> bool:
    """Whether the read stage takes this file when it reads the folder it lies in."""
    return not any(part.startswith(".") for part in relative.parts[:-1]) and holds_posts(relative.name)
