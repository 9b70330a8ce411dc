"""`anthology init` and `anthology new`: a writer's own content folder, and a post in it.

`init DIR` writes, as `mdbook init` and `hugo new site` do, what a new blog needs to be checked
and built at once: the project file with the writer's own name (never the blog's), an example
post showing the front matter, formulas, `\\eqref`, a local image and a series, a `.gitignore`
for the outputs, a CI workflow and a pre-commit configuration.  Nothing that exists is ever
replaced: one file in the way stops it before anything is written.  `new TITLE` writes a post
with today's date and a fresh id into the content folder's `posts/` (else the folder itself).
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterable
from pathlib import Path

from kexue_anthology import __version__
from kexue_anthology.config import project
from kexue_anthology.core.fileio import atomic_write_bytes

POSTS = "posts"


class ScaffoldError(Exception):
    """What init or new cannot do (a file in the way, no content folder): a usage error."""


def init(folder: Path, formats: Iterable[project.Owner], today: dt.date | None = None) -> list[Path]:
    """The files of a new content folder written into `folder` (made with its parents); none
    is written when one of them exists already (ScaffoldError naming it)."""
    day = today or dt.date.today()
    title = Path(os.path.abspath(folder)).name or "文集"
    own = {"title": title, "author": _author(), "source_name": "", "source_url": "", "licence": ""}
    files: dict[str, bytes] = {
        project.FILE_NAME: project.template(formats, own).encode("utf-8"),
        f"{POSTS}/hello.md": HELLO.format(date=day.isoformat(), id=f"{day.isoformat()}-1").encode("utf-8"),
        f"{POSTS}/hello.png": _png(),
        ".gitignore": GITIGNORE.encode("utf-8"),
        ".github/workflows/anthology.yml": WORKFLOW.format(version=__version__).encode("utf-8"),
        ".pre-commit-config.yaml": PRE_COMMIT.encode("utf-8"),
    }
    for name in files:
        if os.path.lexists(folder / name):
            raise ScaffoldError(f"{folder / name} exists already; init replaces nothing (move it away, or "
                                "init another folder)")
    written = []
    for name, data in files.items():
        target = folder / name
        try:
            if os.path.exists(folder) and not os.path.isdir(folder):
                raise NotADirectoryError(0, f"{folder} is not a folder")
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(target, data)
        except OSError as e:              # a read-only, immutable or special folder, a name too long…
            raise ScaffoldError(f"{target}: cannot be written: {e.strerror or e}") from None
        written.append(target)
    return written


def new_post(content: Path, title: str, series: str | None = None, today: dt.date | None = None) -> Path:
    """A new post in `content`'s posts/ (else `content`), named and identified by the date and a
    number no file or post there uses yet."""
    day = (today or dt.date.today()).isoformat()
    folder = content / POSTS if (content / POSTS).is_dir() else content
    used = _ids(content)
    n = 1
    while f"{day}-{n}" in used or os.path.lexists(folder / f"{day}-{n}.md"):
        n += 1
    post_id = f"{day}-{n}"
    lines = ["---", f"title: {_yaml(title)}", f"date: {day}", f'id: "{post_id}"']
    if series:
        lines.append(f"series: {_yaml(series)}")
    text = "\n".join([*lines, "---", "", NEW_BODY])
    target = folder / f"{post_id}.md"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)     # never over another file
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return target


def _ids(content: Path) -> set[str]:
    """The ids the Markdown files below `content` give in their front matter (a quick look, not a read)."""
    found = set()
    for root, dirs, names in os.walk(content):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != "out"]
        for name in names:
            if name.endswith((".md", ".markdown")):
                try:
                    head = (Path(root) / name).read_text(encoding="utf-8", errors="replace")[:4000]
                except OSError:
                    continue
                for line in head.splitlines()[:40]:
                    if line.startswith("id:"):
                        found.add(line[3:].strip().strip("\"'"))
    return found


def _yaml(text: str) -> str:
    """A YAML scalar holding `text` exactly: a JSON string is one."""
    return json.dumps(text.strip(), ensure_ascii=False)


def _author() -> str:
    """The writer's name as git knows it (as mdBook takes it), else the login name."""
    git = shutil.which("git")
    if git:
        try:
            name = subprocess.run([git, "config", "user.name"], capture_output=True, text=True, timeout=5).stdout
            if name.strip() and not project.text_problem(name.strip(), project.LIMITS["author"]):
                return name.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    try:
        return getpass.getuser() or "作者"
    except (OSError, KeyError):
        return "作者"


def _png(width: int = 64, height: int = 40) -> bytes:
    """A small picture for the example post: a blue parabola on white, as a PNG."""
    rows = []
    for y in range(height):
        row = bytearray([0])                          # filter: none
        for x in range(width):
            u = (x - width / 2) / (width / 2)
            on = abs((height - 4) - y - (height - 8) * u * u) < 1.5
            row += bytes((40, 90, 200) if on else (255, 255, 255))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b""))


HELLO = """---
title: 你好，文集（一）：第一篇文章
date: {date}
id: "{id}"
series: 你好，文集        # posts of one series make a part of the book, ordered by `part`
part: 1
tags: [示例]
---

这是一篇示例文章：改写它，或删掉它，再用 `anthology new "标题"` 写新的。文章开头 `---` 之间的几行是
front matter（`anthology help front-matter` 列出所有字段）。

行内公式写在 `$…$` 里，如 $e^{{i\\pi}} + 1 = 0$；带编号的公式用 `equation` 环境，以 `\\label` 命名：

\\begin{{equation}}
\\int_{{-\\infty}}^{{\\infty}} e^{{-x^2}}\\,dx = \\sqrt{{\\pi}} \\label{{eq:gauss}}
\\end{{equation}}

正文中以 `\\eqref` 引用它：式 \\eqref{{eq:gauss}} 是高斯积分。

图片放在文章旁边，以相对路径引用：

![一条抛物线](hello.png)

`anthology check` 检查每个公式，`anthology serve` 边写边预览，`anthology build pdf` 排成书。
"""

NEW_BODY = """在这里写正文。行内公式如 $x^2$，编号公式：

\\begin{equation}
f(x) = \\sum_{n=0}^{\\infty} \\frac{f^{(n)}(0)}{n!} x^n \\label{eq:taylor}
\\end{equation}

引用它：式 \\eqref{eq:taylor}。
"""

GITIGNORE = """# What `anthology build` writes (the project file's [outputs], else ./out/)
out/
"""

WORKFLOW = """# Checks every formula of the posts a push or pull request changes, as the blog's MathJax
# reads them; problems appear as annotations on the changed lines (written by `anthology init`).
name: anthology
on:
  push:
  pull_request:
jobs:
  check:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0              # the history, for --changed
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      - uses: actions/setup-node@v4   # MathJax runs in Node.js
        with:
          node-version: "20"
      - run: pip install "kexue-anthology=={version}"
      - name: check the posts changed
        run: anthology check --changed "origin/$BASE" --format github
        env:
          BASE: ${{{{ github.base_ref }}}}
        if: github.event_name == 'pull_request'
      - name: check every post
        run: anthology check --format github
        if: github.event_name != 'pull_request'
"""

PRE_COMMIT = """# pre-commit (https://pre-commit.com): `pre-commit install` once, then every commit checks the
# formulas of the posts it changes with the `anthology` installed here.  (The tool's repository
# also ships the hook `anthology-check` for a `repo:` entry of its own.)
repos:
  - repo: local
    hooks:
      - id: anthology-check
        name: anthology check
        entry: anthology check
        language: system
        files: \\.(md|markdown)$
        exclude: (?i)(^|/)(\\.|readme|licen[cs]e)
        require_serial: true
"""
