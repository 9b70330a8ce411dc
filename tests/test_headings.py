"""Every heading of the blog, at the level its page gives it (issue 23): a heading the blog's
anchor marks is one wherever the scrape glued it, a `标题 # ` run of page text is one where the
mark is unambiguous, and a post's headings start right under its title with no level skipped."""

from __future__ import annotations

import itertools
import re
import shutil

import pytest
from kexue_anthology.check.extract import extract
from kexue_anthology.collection.levels import settle_levels
from kexue_anthology.core.diagnostics import Diagnostics
from kexue_anthology.documents import pandoc_ast
from kexue_anthology.documents.document import build
from kexue_anthology.documents.pandoc_ast import Header, Para, Str
from kexue_anthology.read import read

from tests.conftest import DATA
from tests.helpers import run_cli
from tests.test_markdown_reading import headers, post_of

PLAIN = DATA / "headings" / "plain_headings.txt"


def posts_of(*paths):
    d = Diagnostics()
    return extract(read([str(p) for p in paths], d), d), d


# --- scraped Markdown: the anchor makes it a heading ----------------------------------------------
@pytest.mark.pandoc
def test_a_heading_the_anchor_marks_is_one_wherever_the_scrape_glued_it(tmp_path):
    post, _ = post_of(tmp_path, "scraped_anchored_headings.txt")
    assert headers(build(post)) == [(2, "紧贴署名的标题"), (3, "引用后的标题"), (2, "没有标点的标题"),
                                     (3, "含公式y_{1的标题"), (2, "行首的标题"), (2, "引用里的标题")]
    body = post.body.text
    # each broken off after a blank line; the quote keeps its line, the heading leaves the quote
    assert "> ------ 引用里的一行说明\n\n### 引用后的标题\n" in body
    assert "紧接着标题\n\n## 没有标点的标题\n" in body
    assert "> ## 引用里的标题" in body          # a heading inside a quote stays where Markdown has it
    # `##` in a formula or code, `C#` and an escaped `\##` are text
    text = pandoc_ast.text(build(post)["blocks"])
    for kept in ("c ## d", "C# 语言", "##"):
        assert kept in text, kept
    assert [f.tex for f in post.formulas][-1] == "a ## b"
    # a heading keeps its place in the source: its `#` and the formula after the break
    i = body.index("### 含公式")
    assert (post.body.position(i).line, post.body.position(i).col) == (19, 25)
    f = next(f for f in post.formulas if f.tex == "y_{1")
    assert (f.position.line, f.position.col) == (19, 32)


@pytest.mark.engine
@pytest.mark.pandoc
def test_a_formula_error_after_the_break_names_its_line_and_column(tmp_path):
    path = tmp_path / "anchored.txt"
    shutil.copy(DATA / "cases" / "scraped_anchored_headings.txt", path)
    path.write_text(path.read_text(encoding="utf-8").partition("%%% expected\n")[0], encoding="utf-8")
    status, out, err = run_cli("check", path, "--no-cache")
    assert status == 1
    assert f"{path}:19:36: error: TeX parse error: Extra open brace or missing close brace [braces]" in out + err
    assert f"{path}:17:26: error:" in out + err


# --- page text: `标题 # 正文` ---------------------------------------------------------------------------
@pytest.mark.pandoc
def test_title_hash_runs_of_page_text_are_headings():
    (post,), d = posts_of(PLAIN)
    assert d.sorted() == []
    assert headers(build(post)) == [(2, "起因"), (2, "English Title Here"), (2, "公式之后"),
                                     (2, "又一个小节：补充"), (2, "小结")]
    where = [(post.body.position(a).line, post.body.position(a).col) for a, _, _ in post.headings]
    assert where == [(2, 18), (2, 46), (4, 2), (4, 20), (9, 2)]
    # the formulas are where they were, those holding `#` included
    assert [(f.position.line, f.position.col, f.tex) for f in post.formulas] == [
        (2, 32, "x > 0"), (3, 1, "\\begin{equation}y = 1\\end{equation}"), (5, 9, "a # b"), (5, 19, "c # d")]


@pytest.mark.pandoc
def test_hash_marks_that_are_no_heading_stay_text():
    (post,), _ = posts_of(PLAIN)
    text = pandoc_ast.text(build(post)["blocks"])
    for kept in ("C# 语言", "用 C # 写的程序", "双井号 ## 不算", "vh # exact result",
                 "'data.corpus' # 语料保存的文件", "说明写得很长很长超过二十个字了： # 频数过滤"):
        assert kept in text, kept


# --- levels ----------------------------------------------------------------------------------------
def _doc(*levels: int) -> list:
    return [Header.new(level, ["", [], []], [Str.new(f"h{n}")]) if level else Para.new([Str.new("p")])
            for n, level in enumerate(levels)]


@pytest.mark.parametrize(("written", "top", "given"), [
    ((3, 0, 4, 3), 2, [2, 3, 2]),               # a post starting at `###` gets h2 under the page's h1
    ((2, 4, 4, 2, 3), 2, [2, 3, 3, 2, 3]),      # `##` then `####`: h2 then h3, nesting kept
    ((3, 2, 3), 2, [2, 2, 3]),                  # a first heading deeper than a later one
    ((2, 3, 4, 5, 6), 3, [3, 4, 5, 6, 6]),      # under a book's h2 title, never past h6
    ((), 2, []),
])
def test_levels_start_under_the_title_and_skip_none(written, top, given):
    blocks = _doc(*written)
    settle_levels(blocks, top)
    assert [Header(b).level for b in blocks if Header.of(b)] == given


# --- the corpus ----------------------------------------------------------------------------------
# The headings the scrape glued to the sentence before them (anchor and all) in ../shared/corpus.
GLUED = {"7292": "想Finetune？", "8397": "标准答案"}


@pytest.mark.pandoc
def test_the_corpus_glued_headings_are_headings(corpus):
    posts, _ = posts_of(*(corpus / f"{pid}.txt" for pid in GLUED))
    for post in posts:
        assert GLUED[post.id] in [title for _, title in headers(build(post))], post.id


def test_the_corpus_page_text_headings(corpus):
    posts, _ = posts_of(corpus)
    plain = [p for p in posts if p.form == "plain-text"]
    found = {p.id: [p.body.text[a:b] for a, b, _ in p.headings] for p in plain}
    assert found["7695"] == ["背景", "分析", "最小化熵", "采样近似", "分布假设", "结果对比", "近似估计", "小结"]
    assert "Word Rotator's Distance" in found["7388"] and "token - token" in found["7476"]
    # the code comments of 6920 and 11059 (`x = … # 注释`) are not headings
    assert len(found["6920"]) == 5 and len(found["11059"]) == 8
    assert sum(map(len, found.values())) == 123
    assert all(len(t) <= 30 and not re.search(r"[。！？=()]", t) for ts in found.values() for t in ts)


@pytest.mark.pandoc
def test_no_page_of_the_corpus_site_skips_a_heading_level(corpus_site):
    work, status, _, _ = corpus_site
    assert status in (0, 1)
    skips = {}
    for page in sorted((work / "site" / "posts").glob("*.html")):
        html = page.read_text(encoding="utf-8")
        levels = [int(n) for n in re.findall(r"<h([1-6])[\s>]", html)]
        bad = [(a, b) for a, b in itertools.pairwise(levels) if b > a + 1]
        if bad or (levels and levels[0] != 1):
            skips[page.stem] = levels
    assert skips == {}
