"""One place for locations (issue 24): every output that names a place in a source — text, JSON and
GitHub diagnostics, the site's errors.html, serve's banner — names the same path (relative to the
repository's top, else the content folder) and the same line:column; YAML errors at their own line;
the author's to-do (rejected formulas) in the terminal, errors.html and the banner, not in a published
page's header; a --series typo answered with a suggestion."""

from __future__ import annotations

import html
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kexue_anthology.core.locations import root_of, shown
from tests.helpers import run_cli


def builds(test):
    """A test that builds a site: it runs MathJax and pandoc."""
    return pytest.mark.engine(pytest.mark.pandoc(test))


# The bad formula stands after front matter, escapes (`\*`, `\_`) and an entity, whose characters the
# body read from the file no longer has one for one: its column is the file's, not the body's.
BAD_LINE = r"一些文字 \*强调\* 和 &amp; 公式 $a+b$ 以及 \_下划线\_，这里有一个坏公式 $\frac{1}{2} + \foo{x}$ 结束。"
BAD = f"""---
title: 熵的故事（二）
date: 2020-01-02
series: 熵的故事
id: "e2"
---

# 小节

{BAD_LINE}
"""
GOOD = """---
title: 熵的故事（一）
date: 2020-01-01
series: 熵的故事
id: "e1"
---

正文 $x^2$。
"""
FAULT = f"posts/entropy-2.md:10:{BAD_LINE.index(chr(92) + 'foo') + 1}"      # where `\foo` stands in the file


def git(folder: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                   check=True, capture_output=True)


def repository(tmp_path: Path, bad: bool = True) -> Path:
    if not shutil.which("git"):
        pytest.skip("needs git")
    repo = tmp_path / "repo"
    (repo / "posts").mkdir(parents=True)
    (repo / "posts" / "entropy-1.md").write_text(GOOD, encoding="utf-8")
    (repo / "posts" / "entropy-2.md").write_text(GOOD.replace("e1", "e2").replace("（一）", "（二）"), encoding="utf-8")
    git(repo, "init", "-q", ".")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "first")
    if bad:
        (repo / "posts" / "entropy-2.md").write_text(BAD, encoding="utf-8")
    return repo


def test_paths_are_shown_from_the_repository_top_else_the_content_folder(tmp_path, monkeypatch):
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "repo" / "blog" / "posts").mkdir(parents=True)
    post = tmp_path / "repo" / "blog" / "posts" / "a.md"
    assert root_of([tmp_path / "repo" / "blog"]) == tmp_path / "repo"
    assert shown(str(post), tmp_path / "repo") == "blog/posts/a.md"
    (tmp_path / "book" / "posts").mkdir(parents=True)
    project = tmp_path / "book" / "anthology.toml"
    assert root_of([tmp_path / "book" / "posts"], project) == tmp_path / "book"       # no git: the content folder
    monkeypatch.chdir(tmp_path)
    assert root_of([tmp_path / "book" / "posts"]) == tmp_path                     # neither: the working folder
    assert shown("book/posts/a.md", tmp_path) == "book/posts/a.md"
    assert shown("/elsewhere/a.md", tmp_path) == "/elsewhere/a.md"                # outside: as given


@pytest.mark.engine
def test_github_annotations_name_the_path_relative_to_the_repository(tmp_path, monkeypatch):
    repo = repository(tmp_path)
    monkeypatch.chdir(repo / "posts")                    # run from below the top: still the top's path
    status, out, err = run_cli("check", "--changed", "HEAD", "--format", "github", "--cache-dir", tmp_path / "c")
    assert status == 1, err
    line = next(x for x in out.splitlines() if x.startswith("::error "))
    assert line.startswith(f"::error file=posts/entropy-2.md,line=10,col={FAULT.rsplit(':', 1)[1]},"), line
    assert str(tmp_path) not in out


@builds
def test_one_fault_has_one_location_in_every_output(tmp_path, monkeypatch):
    from kexue_anthology.cli.serve import Live, Site, _build, banner
    from kexue_anthology.engine.options import EngineOptions

    repo = repository(tmp_path)
    text = (repo / "posts" / "entropy-2.md").read_text(encoding="utf-8").splitlines()[9]
    assert text[int(FAULT.rsplit(":", 1)[1]) - 1:].startswith("\\foo")          # the expected place is the file's
    monkeypatch.chdir(tmp_path)                           # not the repository: paths still from its top
    cache = ["--cache-dir", tmp_path / "cache"]
    status, out, _ = run_cli("check", repo / "posts", *cache)
    assert status == 1 and f"{FAULT}: error: TeX parse error: Undefined control sequence \\foo" in out
    status, out, _ = run_cli("check", repo / "posts", "--format", "json", *cache)
    [d] = json.loads(out)["diagnostics"]
    assert f"{d['path']}:{d['line']}:{d['col']}" == FAULT
    assert {p["path"] for p in json.loads(out)["posts"]} == {"posts/entropy-1.md", "posts/entropy-2.md"}
    status, out, _ = run_cli("check", repo / "posts", "--format", "github", *cache)
    line, col = FAULT.split(":")[1:]
    assert f"::error file=posts/entropy-2.md,line={line},col={col}," in out
    status, out, err = run_cli("build", "html", repo / "posts", "--out", tmp_path / "site", *cache)
    assert status == 1, err
    # the terminal's summary names the count and where the list is
    assert f"1 shown as source (MathJax rejects them, listed in {tmp_path / 'site' / 'errors.html'})" in out
    errors = (tmp_path / "site" / "errors.html").read_text(encoding="utf-8")
    assert f'<span class="where">{FAULT}</span>' in errors and "1 个公式未能排版" in errors
    for page in [tmp_path / "site" / "index.html", *(tmp_path / "site" / "posts").glob("*.html")]:
        header = re.search(r'<header class="site-header">.*?</header>', page.read_text(encoding="utf-8"), re.S)
        assert header and "未能排版" not in header.group() and "errors.html" not in header.group(), page
    live = Live(tmp_path / "served")
    served, err = io.StringIO(), io.StringIO()
    engine = EngineOptions(cache_dir=tmp_path / "cache")
    _build(Site(paths=[str(repo / "posts")], engine=engine), live, served, err, lambda: "LOG", first=True)
    assert f"{FAULT}: error:" in err.getvalue()
    assert "1 formula shown as source (errors.html)" in served.getvalue()
    shown_banner = html.unescape(banner(live.outcome))
    assert f"{FAULT}: error:" in shown_banner and '<a href="/errors.html">1 个公式未能排版</a>' in shown_banner


@pytest.mark.parametrize("yaml, where, context", [
    ('title: "never closed\ndate: 2020-01-01\n', "2:8", "while scanning a quoted scalar"),
    ("title: {a\n", "2:8", "while parsing a flow mapping"),
    ("title: a: b\n", "2:9", ""),
])
def test_a_yaml_error_is_reported_at_its_own_line(tmp_path, yaml, where, context):
    post = tmp_path / "a.md"
    post.write_text(f"---\n{yaml}---\n\n正文。\n", encoding="utf-8")
    status, _, err = run_cli("list", post, "--no-project")
    assert status == 1
    line = next(x for x in err.splitlines() if "front matter is not valid YAML" in x)
    assert line.startswith(f"{post}:{where}: error:") and context in line, line


def test_a_series_prefix_is_suggested_with_punctuation(tmp_path):
    (tmp_path / "posts").mkdir()
    for n, name in ((1, "熵的故事"), (2, "最小熵原理")):
        (tmp_path / "posts" / f"{n}.md").write_text(
            GOOD.replace("熵的故事", name).replace('"e1"', f'"s{n}"'), encoding="utf-8")
    status, _, err = run_cli("list", tmp_path / "posts", "--series", "熵", "--no-project")
    assert status == 2
    assert err.strip() == 'anthology: error: no series "熵"; did you mean "熵的故事"? series found: 最小熵原理, 熵的故事'
    status, _, err = run_cli("list", tmp_path / "posts", "--series", "原理", "--no-project")
    assert 'no series "原理"; did you mean "最小熵原理"? series found:' in err
    status, _, err = run_cli("list", tmp_path / "posts", "--series", "xyz", "--no-project")
    assert err.strip() == 'anthology: error: no series "xyz"; series found: 最小熵原理, 熵的故事'
