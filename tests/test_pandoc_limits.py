"""pandoc never takes a build down: hostile Markdown, a pandoc that fails or runs out of its
limits, and one post's failure leaves the others as they are.  The hostile inputs are big
enough that unbounded work on them would take minutes (pandoc's Markdown reader alone needs
more than a minute for 20 open brackets) or end in RecursionError."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from kexue_anthology.check.extract import extract
from kexue_anthology.core.diagnostics import Diagnostics
from kexue_anthology.documents import document, pandoc, pandoc_ast
from kexue_anthology.read import read

from tests.helpers import run_cli

NORMAL = "正常的文章，**粗体**，公式 $a+b$ 与\n\n$$c=d$$\n\n结束。\n"
HOSTILE = {
    "list": "".join("  " * i + f"- 第{i}项\n" for i in range(2000)),
    "brackets": "括号 " + "[" * 10000 + " 未闭合\n",
    "quote": "> " * 5000 + "很深的引用\n",
}


def post_file(path: Path, post_id: str, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\ntitle: 文章{post_id}\nid: '{post_id}'\ndate: 2020-01-0{post_id}\n---\n{body}",
                    encoding="utf-8")
    return path


def posts_of(*paths: Path):
    d = Diagnostics()
    return extract(read([str(p) for p in paths], d), d)


def assert_normal(page: str) -> None:
    assert "<strong>粗体</strong>" in page and page.count('class="math') >= 2 and "math-error" not in page


@pytest.mark.engine
@pytest.mark.pandoc
@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_a_hostile_post_beside_a_normal_one(kind, tmp_path):
    normal = post_file(tmp_path / "posts" / "normal.md", "1", NORMAL)
    hostile = post_file(tmp_path / "posts" / "hostile.md", "2",
                        f"开头 $x^2$ 文字\n\n{HOSTILE[kind]}\n结尾 $y$ 完\n")
    site = tmp_path / "site"
    status, _stdout, stderr = run_cli("build", "html", tmp_path / "posts", "--out", site, "--no-cache")
    assert status == 1, stderr
    assert "Traceback" not in stderr
    assert re.search(re.escape(str(hostile)) + r":\d+:\d+: error: .*\[too-deep\]", stderr), stderr
    assert str(normal) not in stderr
    assert (site / "index.html").exists()
    page = (site / "posts" / "2.html").read_text(encoding="utf-8")
    assert "开头" in page and "结尾" in page and page.count('class="math inline"') == 2
    assert {"list": "第1999项", "brackets": "[[[[[[[[", "quote": "很深的引用"}[kind] in page
    assert_normal((site / "posts" / "1.html").read_text(encoding="utf-8"))


@pytest.mark.pandoc
def test_the_line_of_the_deep_structure_is_named(tmp_path):
    path = post_file(tmp_path / "deep.md", "1", "第一段\n\n" + HOSTILE["list"])
    post = posts_of(path)[0]
    d = Diagnostics()
    ast = document.build(post, diagnostics=d)
    [item] = d.items
    assert (item.code, item.position.path) == ("too-deep", str(path))
    assert item.position.line == 6 + 2 + 50      # front matter, first paragraph, 50 levels
    assert "第1999项" in pandoc_ast.text(ast["blocks"])


@pytest.mark.pandoc
def test_pandocs_json_is_measured_before_it_is_read(tmp_path, monkeypatch):
    """Nesting the scan lets through is caught in pandoc's answer, before json.loads."""
    assert pandoc.json_depth('{"a": "[[[{{\\"[", "b": [[1, {}]]}') == 4
    monkeypatch.setattr(document, "NESTING_LIMIT", 10 ** 6)
    post = posts_of(post_file(tmp_path / "q.md", "1", "> " * 200 + "引用 $q$\n"))[0]
    d = Diagnostics()
    ast = document.build(post, diagnostics=d)
    assert [(i.code, i.position) for i in d.items] == [("too-deep", post.position)]
    assert [n["c"][1] for n in pandoc_ast.walk(ast["blocks"]) if n["t"] == "Math"] == ["q"]


@pytest.mark.pandoc
def test_the_cpu_limit_stops_pandoc(monkeypatch):
    monkeypatch.setattr(pandoc, "CPU_SECONDS", 1)
    # the wall-clock backstop far off: on a loaded machine pandoc may take long to get its second of
    # CPU time, and it is the CPU limit that is tested (a slow answer is not a wrong one)
    monkeypatch.setattr(pandoc, "WALL_FACTOR", 300)
    with pytest.raises(pandoc.PandocError, match="more than 1 s of CPU time"):
        pandoc.run(["--from=markdown", "--to=json"], "括号 " + "[" * 40)


@pytest.mark.pandoc
def test_the_memory_limit_stops_pandoc(monkeypatch):
    if not pandoc._takes_rts_options():
        pytest.skip("this pandoc takes no RTS options, so it has no heap limit to test")
    monkeypatch.setattr(pandoc, "HEAP_MB", 8)
    with pytest.raises(pandoc.PandocError, match="memory"):
        pandoc.run(["--from=markdown", "--to=json"], "一段文字。\n\n" * 100_000)


def poisoned(args: list[str], text: str | None) -> bool:
    """The input a pretend pandoc fails on: a post holding **KXFAIL**, as Markdown or as a
    Strong node of JSON (never in its fallback, where the asterisks stay text)."""
    if text is None and args and args[0].endswith(".json"):
        text = Path(args[0]).read_text(encoding="utf-8")
    if "--from=json" in args:
        return bool(re.search(r'"Strong",\s*"c":\s*\[\{"t":\s*"Str",\s*"c":\s*"KXFAIL"', text or ""))
    return "**KXFAIL**" in (text or "")


@pytest.mark.engine
@pytest.mark.pandoc
@pytest.mark.parametrize("stage", ["--to=json", "--to=html5", "--to=epub3"])
def test_pandoc_failing_on_one_post_spares_the_others(stage, tmp_path, monkeypatch):
    real = pandoc.run

    def run(args, text=None, **kw):
        if stage in args and poisoned(args, text):
            raise pandoc.PandocError("pandoc failed (exit status 1): simulated")
        return real(args, text, **kw)

    monkeypatch.setattr(pandoc, "run", run)
    post_file(tmp_path / "posts" / "good.md", "1", NORMAL)
    bad = post_file(tmp_path / "posts" / "bad.md", "2", "坏的 **KXFAIL** 文章 $e^x$ 在此\n\n第二段\n")
    fmt = "epub" if stage == "--to=epub3" else "html"
    out = tmp_path / ("book.epub" if fmt == "epub" else "site")
    status, _stdout, stderr = run_cli("build", fmt, tmp_path / "posts", "--out", out, "--no-cache")
    assert status == 1 and "Traceback" not in stderr, stderr
    assert re.search(re.escape(str(bad)) + r":\d+:\d+: error: .*\[document-failed\]", stderr), stderr
    assert stderr.count("[document-failed]") == 1
    if fmt == "html":
        bad_page, good_page = ((out / "posts" / f"{n}.html").read_text(encoding="utf-8") for n in "21")
    else:
        import zipfile
        with zipfile.ZipFile(out) as z:
            texts = [z.read(n).decode() for n in z.namelist() if re.match(r"EPUB/text/ch\d+\.xhtml", n)]
        bad_page = next(t for t in texts if "KXFAIL" in t)
        good_page = next(t for t in texts if "粗体" in t)
    assert "**KXFAIL**" in bad_page and "第二段" in bad_page and 'class="math inline"' in bad_page
    assert_normal(good_page)


@pytest.mark.engine
@pytest.mark.pandoc
def test_a_missing_pandoc_is_a_setup_error(monkeypatch, tmp_path):
    def missing() -> str:
        raise OSError("No pandoc was found")

    monkeypatch.setattr(pandoc.pypandoc, "get_pandoc_path", missing)
    pandoc.binary.cache_clear()
    try:
        post_file(tmp_path / "p.md", "1", NORMAL)
        status, _stdout, stderr = run_cli("build", "html", tmp_path / "p.md", "--out", tmp_path / "site",
                                         "--no-cache")
    finally:
        pandoc.binary.cache_clear()
    assert status == 2 and "make setup" in stderr and "Traceback" not in stderr


def test_backtick_runs_of_many_lengths_are_refused_before_pandoc(tmp_path):
    from kexue_anthology.documents.document import too_deep
    from kexue_anthology.stages import Run, run_stages

    path = tmp_path / "ticks.md"
    path.write_text("---\ntitle: t\nid: '7'\n---\n前文\n\n" + " ".join("`" * n for n in range(1, 3001))
                    + " $x$\n\n`a` ``b`` 正常\n", encoding="utf-8")
    run = run_stages(Run(paths=[str(path)]), "extract")
    offset, message = too_deep(run.posts[0])
    assert "different lengths" in message
    assert run.posts[0].body.position(offset).line == 7
