"""A new user's first steps through the INSTALLED command (`pip install .` into a fresh venv,
as tests/test_package.py does), each run from inside the content folder with no PATH:
`init blog`, `new`, a plain Markdown file added, `check` failing on a planted bad formula
named by its relative path, fixed, `check` passing, `build html`, `build epub`, `build pdf`;
then in a git repository `check --changed HEAD~1 --format github` naming files relative to
the repository's top (GitHub attaches an annotation only to such a path).  The transcript of
the steps is written to $ANTHOLOGY_TRANSCRIPT when that is set."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.test_package import install_copy


@pytest.mark.package
@pytest.mark.engine
@pytest.mark.pandoc
@pytest.mark.weasyprint
def test_a_new_users_first_steps_from_an_empty_folder(tmp_path):
    venv = install_copy(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "NODE_PATH")}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", ANTHOLOGY_CACHE=str(tmp_path / "cache"),
               HOME=str(home), GIT_AUTHOR_NAME="新用户", GIT_AUTHOR_EMAIL="u@example.org",
               GIT_COMMITTER_NAME="新用户", GIT_COMMITTER_EMAIL="u@example.org", GIT_CONFIG_NOSYSTEM="1")
    empty = tmp_path / "empty"
    empty.mkdir()
    blog = empty / "blog"
    transcript: list[str] = []

    def anthology(*args: str, cwd: Path = blog, status: int = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(["anthology", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=900)
        shown = " ".join(f'"{a}"' if " " in a or not a.isascii() else a for a in args)
        transcript.append(f"{cwd.relative_to(tmp_path)}$ anthology {shown}   # exit {done.returncode}\n"
                          + _trimmed(done.stdout + done.stderr))
        assert done.returncode == status, f"anthology {args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done

    def git(*args: str) -> None:
        subprocess.run(["git", *args], check=True, capture_output=True, cwd=blog, env=env)

    try:
        anthology("init", "blog", cwd=empty)
        assert "苏剑林" not in (blog / "anthology.toml").read_text(encoding="utf-8").split("author =")[1].split("\n")[0]
        new = anthology("new", "我的第一篇文章", "--series", "入门").stdout.strip()
        assert new.startswith("posts/") and (blog / new).is_file()
        (blog / "posts" / "notes.md").write_text("# 随手记\n\n勾股定理 $a^2+b^2=c^2$，错的 $\\frac{1}{2$。\n",
                                                 encoding="utf-8")
        bad = anthology("check", status=1)
        assert re.search(r"^posts/notes\.md:3:\d+: error: .*\[braces\]", bad.stdout, re.M), bad.stdout
        assert "posts/notes.md:1:1: note: no front matter" in bad.stdout + bad.stderr
        assert "installing the MathJax engine" in bad.stderr            # the first run installs it, and says so
        assert "bundled sample" not in bad.stderr
        (blog / "posts" / "notes.md").write_text("# 随手记\n\n勾股定理 $a^2+b^2=c^2$，对的 $\\frac{1}{2}$。\n",
                                                 encoding="utf-8")
        good = anthology("check")
        assert re.search(r"^3 posts, \d+ formulas, 0 errors", good.stdout, re.M), good.stdout
        anthology("build", "html")
        anthology("build", "epub")
        anthology("build", "pdf")
        out = blog / "out"
        assert (out / "site" / "index.html").is_file() and len(list((out / "site" / "posts").glob("*.html"))) == 3
        assert [p.suffix for p in sorted(out.glob("*.*"))] == [".epub", ".pdf"]
        assert (next(out.glob("*.pdf"))).read_bytes()[:5] == b"%PDF-"

        git("init", "-q")
        git("add", "-A")
        git("commit", "-q", "-m", "first posts")
        (blog / "posts" / "notes.md").write_text("# 随手记\n\n又错了 $\\left( x$。\n", encoding="utf-8")
        git("commit", "-q", "-am", "an edit")
        changed = anthology("check", "--changed", "HEAD~1", "--format", "github", status=1)
        assert "::error file=posts/notes.md,line=3," in changed.stdout, changed.stdout
    finally:
        if os.environ.get("ANTHOLOGY_TRANSCRIPT"):
            Path(os.environ["ANTHOLOGY_TRANSCRIPT"]).write_text("\n".join(transcript), encoding="utf-8")


def _trimmed(text: str, most: int = 12) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > most:
        lines = [*lines[:most - 1], f"… ({len(lines) - most + 1} more lines)"]
    return "".join(f"    {line}\n" for line in lines)
