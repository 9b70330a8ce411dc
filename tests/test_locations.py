"""One place for locations (issue 24): every output that names a place in a source — text, JSON and
GitHub diagnostics, the site's errors.html, serve's banner — names the same path (relative to the
repository's top, else the content folder) and the same line:column; YAML errors at their own line;
the author's to-do (rejected formulas) in the terminal, errors.html and the banner, not in a published
page's header; a --series typo answered with a suggestion."""

from __future__ import annotations

import html
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from kexue_anthology.core.locations import content_folder, root_of, shown

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


PERMALINKS = r"""---
title: 标题
date: 2020-01-01
id: "700"
---

## 第一节

\begin{equation}E = mc^2\label{eq:e}\end{equation}
"""
# The page in an iframe, measured from outside: the permalinks' opacity as laid out (headless Chromium
# matches `(hover: none)`, where they used to show grey), whether a rule with :hover shows them on their
# heading (:hover itself cannot be had without a pointer: it is read as matching), then after focus.
PROBE = """<!DOCTYPE html><html><body><iframe id="f" src="700.html" style="width:1280px;height:900px"></iframe>
<script>document.getElementById('f').addEventListener('load', () => {
 const doc = document.getElementById('f').contentDocument, link = doc.querySelector('h2 .permalink');
 const rules = [];
 for (const sheet of doc.styleSheets) for (const r of sheet.cssRules)
   if (r.selectorText && r.selectorText.includes(':hover') && r.style.opacity === '1') rules.push(r.selectorText);
 const seen = {heading: getComputedStyle(link).opacity, equation: getComputedStyle(doc.querySelector('.eq-tag .permalink')).opacity,
   hoverless: matchMedia('(hover: none)').matches, tab: link.tabIndex,
   onHover: rules.some(s => link.matches(s.replaceAll(':hover', ':is(*)')) && !link.matches(s))};
 link.focus();
 seen.focused = getComputedStyle(link).opacity;
 const pre = document.createElement('pre'); pre.id = 'kx'; pre.textContent = JSON.stringify(seen);
 document.body.appendChild(pre); });</script></body></html>"""


@builds
@pytest.mark.browser
def test_permalinks_show_only_on_hover_or_keyboard_focus(tmp_path):
    from tests.test_html import chromium
    browser = chromium()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "p.md").write_text(PERMALINKS, encoding="utf-8")
    status, _, err = run_cli("build", "html", tmp_path / "src", "--out", tmp_path / "site", "--no-project",
                             "--cache-dir", tmp_path / "cache")
    assert status == 0, err
    (tmp_path / "site" / "posts" / "probe.html").write_text(PROBE, encoding="utf-8")
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          f"--user-data-dir={tmp_path / 'profile'}", "--allow-file-access-from-files",
                          "--virtual-time-budget=5000", "--dump-dom",
                          (tmp_path / "site" / "posts" / "probe.html").as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    m = re.search(r'<pre id="kx">(.*?)</pre>', dom, re.S)
    assert m, dom[-2000:]
    seen = json.loads(html.unescape(m.group(1)))
    assert seen["hoverless"] and seen["heading"] == "0" and seen["equation"] == "0", seen   # no grey ¶ anywhere
    assert seen["onHover"], seen
    assert seen["tab"] == 0 and seen["focused"] == "1", seen             # reached and shown by the keyboard


ROOT = Path(__file__).resolve().parent.parent


def make(tmp_path: Path, *targets: str) -> subprocess.CompletedProcess[str]:
    """The checkout's Makefile run in `tmp_path` (its out/ there), `setup` taken as done and $(BIN)
    a folder whose `anthology` runs this checkout's code with this Python."""
    if not shutil.which("make"):
        pytest.skip("needs make")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "anthology").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m kexue_anthology "$@"\n')
    (bin_dir / "anthology").chmod(0o755)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "pipeline"), "ANTHOLOGY_CACHE": str(tmp_path / "cache")}
    return subprocess.run(["make", "--no-print-directory", "-f", str(ROOT / "Makefile"), "-o", "setup",
                           "-o", "system", f"BIN={bin_dir}", *targets], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)


def test_make_names_the_book_as_the_command_does(tmp_path):
    """One default name however the book is built: the Makefile's targets pass no --out, so the
    tool's rule holds (the project file's [outputs], else out/site, out/TITLE.epub, out/TITLE.pdf)."""
    dry = make(tmp_path, "-n", "html", "epub", "pdf", "CONTENT=posts")
    assert dry.returncode == 0, dry.stderr
    commands = [line for line in dry.stdout.splitlines() if " build " in line]
    assert len(commands) == 3 and not any("--out" in line for line in commands), commands
    status, out, _ = run_cli("build", "pdf", "--help")
    assert status == 0 and "NAME the book's title" in " ".join(out.split())
    assert "`make pdf` writes the same file" in " ".join(out.split())


@pytest.mark.engine
@pytest.mark.pandoc
def test_build_without_out_writes_the_title_s_name(tmp_path, monkeypatch):
    (tmp_path / "posts").mkdir()
    (tmp_path / "posts" / "a.md").write_text(GOOD, encoding="utf-8")
    (tmp_path / "anthology.toml").write_text('[book]\ntitle = "我的文集"\nauthor = "某人"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    status, _, err = run_cli("build", "epub", "posts", "--cache-dir", tmp_path / "cache")
    assert status == 0, err
    assert (tmp_path / "out" / "我的文集.epub").is_file()
    status, _, err = run_cli("build", "epub", "posts", "--series", "熵的故事", "--cache-dir", tmp_path / "cache")
    assert status == 0 and (tmp_path / "out" / "熵的故事.epub").is_file(), err


@pytest.mark.engine
@pytest.mark.pandoc
@pytest.mark.weasyprint
def test_make_series_builds_both_books_then_fails_on_errors(tmp_path):
    """Slow (an EPUB and a PDF through the Makefile): a bad formula does not stop the PDF."""
    (tmp_path / "posts").mkdir()
    (tmp_path / "posts" / "entropy-1.md").write_text(GOOD, encoding="utf-8")
    (tmp_path / "posts" / "entropy-2.md").write_text(BAD, encoding="utf-8")
    done = make(tmp_path, "series", "SERIES=熵的故事", "CONTENT=posts")
    assert done.returncode != 0, done.stdout + done.stderr
    assert (tmp_path / "out" / "熵的故事.epub").is_file() and (tmp_path / "out" / "熵的故事.pdf").is_file()
    assert done.stdout.count("1 shown as source") == 2, done.stdout


def test_the_content_folder_is_the_project_files_when_it_holds_every_path(tmp_path):
    (tmp_path / "posts" / "a").mkdir(parents=True)
    (tmp_path / "posts" / "b").mkdir()
    post = tmp_path / "posts" / "a" / "1.md"
    post.write_text("x", encoding="utf-8")
    project = tmp_path / "anthology.toml"
    assert content_folder([tmp_path / "posts" / "a", tmp_path / "posts" / "b"], project) == tmp_path.resolve()
    assert content_folder([post], None) == (tmp_path / "posts" / "a").resolve()        # a file: its folder
    assert content_folder([tmp_path / "posts" / "a", tmp_path / "posts" / "b"], None) == (tmp_path / "posts").resolve()
    elsewhere = tmp_path / "other" / "anthology.toml"                                  # not above the posts
    assert content_folder([post], elsewhere) == (tmp_path / "posts" / "a").resolve()
