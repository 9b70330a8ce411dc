"""Reading scraped Markdown as the blog shows it (issue 11): headings glued to the sentence
before them, block-quote markers inside formulas and list items, the scraper's backslash runs,
and a scraped article that lost its heading.  The TeX of each case is pinned in
tests/data/cases; here the documents pandoc makes of them."""

from __future__ import annotations

import time

import pytest
from kexue_anthology.check.extract import extract
from kexue_anthology.core.diagnostics import Diagnostics
from kexue_anthology.core.sourcetext import SourceFile
from kexue_anthology.documents import pandoc_ast
from kexue_anthology.documents.document import build
from kexue_anthology.documents.pandoc_ast import walk
from kexue_anthology.read import read
from kexue_anthology.read.markup import unescape
from kexue_anthology.read.scraped import headless

from tests.helpers import case_source


def post_of(tmp_path, case: str, name: str | None = None):
    path = tmp_path / (name or case)
    path.write_text(case_source(case), encoding="utf-8")
    d = Diagnostics()
    posts = extract(read([str(path)], d), d)
    assert len(posts) == 1
    return posts[0], d


def headers(ast: dict) -> list[tuple[int, str]]:
    return [(n["c"][0], pandoc_ast.text(n)) for n in walk(ast["blocks"]) if n["t"] == "Header"]


def maths(ast: dict) -> list[str]:
    return [n["c"][1] for n in walk(ast["blocks"]) if n["t"] == "Math"]


def unescaped(s: str) -> str:
    return unescape(SourceFile("x", s).slice(0, len(s)), markdown=True).text


@pytest.mark.pandoc
def test_a_heading_glued_to_a_sentence_is_a_heading(tmp_path):
    post, _ = post_of(tmp_path, "scraped_glued_heading.txt")
    ast = build(post)
    assert headers(ast) == [(2, "第一节"), (3, "粘在句末的标题"), (2, "第二个标题")]
    text = pandoc_ast.text(ast["blocks"])
    assert text.count("##") == 2 and "x。## y" in text and "行首的###" in text
    # the sentence before it stays a paragraph of its own, with its text
    assert "第一段写到这里就结束了。" in text and "问号之后也一样？" in text
    # `#` that is no heading: C#, 第#1, an escaped \#, a URL, code, formulas, a line start after text
    for kept in ("C#", "第#1", "转义的#号", "x。## y", "行首的###"):
        assert kept in text, kept
    assert maths(ast) == ["a_1", "\\text{。}\\#\\,b", "\\begin{equation}\\text{。}\\# c\\end{equation}"]
    # the heading keeps its place in the source: the line and column of its `#`
    i = post.body.text.index("### 粘在句末的标题")
    assert post.body.text[i - 1] == "\n"
    assert (post.body.position(i).line, post.body.position(i).col) == (19, 13)


@pytest.mark.pandoc
def test_formulas_in_block_quotes_lose_the_quote_markers(tmp_path):
    post, d = post_of(tmp_path, "scraped_quoted_display.txt")
    assert d.sorted() == []
    ast = build(post)
    assert all("\n>" not in tex and not tex.startswith(">") for tex in maths(ast)[:3])
    assert maths(ast)[3] == "p\n> q"            # a `>` of the formula itself (`\>` escaped) stays
    quotes = [n for n in walk(ast["blocks"]) if n["t"] == "BlockQuote"]
    assert len(quotes) >= 3
    # a formula spanning quoted lines is one formula, found at its opening delimiter
    lines = [(f.position.line, f.position.col) for f in post.formulas]
    assert lines == [(10, 11), (12, 3), (20, 5), (25, 11)]


@pytest.mark.pandoc
def test_quotes_in_list_items_and_nested_quotes(tmp_path):
    post, _ = post_of(tmp_path, "quoted_display.md")
    ast = build(post)
    texs = maths(ast)
    assert texs[0] == "\\begin{aligned}\na =&\\, b \\\\\n\\leq&\\, c\n\\end{aligned}"
    assert texs[1] == "x\n> y"                  # two levels of quote taken, the third `>` is TeX
    assert texs[2] == "u\nv"                    # a lazy continuation line has no marker to lose
    assert texs[3] == "\\begin{aligned}p =&\\, q \\\\\n=&\\, r\\end{aligned}"
    assert texs[4] == "m\n加上 n"               # inline math across the lines of a quoted paragraph
    assert texs[5] == "s\n> t"                  # not in a quote: nothing taken
    kinds = [b["t"] for b in ast["blocks"]]
    assert kinds[:2] == ["Para", "BlockQuote"]   # the quote right after a paragraph line is one
    items = [b for b in ast["blocks"] if b["t"] in ("BulletList", "OrderedList")]
    assert [b["t"] for b in items] == ["BulletList", "OrderedList"]
    for lst in items:
        first_item = lst["c"][0] if lst["t"] == "BulletList" else lst["c"][1][0]
        assert first_item[0]["t"] == "BlockQuote"    # `- > …` is a quote inside the item


@pytest.mark.parametrize("scraped, meant", [
    ("a \\\\\\\n=&\\, b", "a \\\\\n=&, b"),         # at a line end: already right
    ("a \\\\\\=&b", "a \\\\=&b"),                    # `\\` then `=`: not `\=`
    ("U\\\\\\-U", "U\\\\-U"),
    ("x \\\\\\&y", "x \\\\&y"),                       # a row break, not a literal `\&`
    ("\\\\\\{a\\\\\\}", "\\\\{a\\\\}"),
    ("a\\\\\\_b \\\\\\|x\\\\\\|", "a\\_b \\|x\\|"),  # characters the scraper escapes: as before
    ("\\\\\\\\[5pt\\]", "\\\\[5pt]"),
    ("\\&\\-\\=", "&-="),                             # a lone escape: as before
])
def test_backslash_runs_are_undone_as_the_scraper_meant(scraped, meant):
    assert unescaped(scraped) == meant


def test_backslash_runs_are_read_in_linear_time():
    for n in (200_000, 400_000):
        text = "\\" * n + "&"
        t = time.perf_counter()
        unescaped(text)
        elapsed = time.perf_counter() - t
        assert elapsed < 5, (n, elapsed)


@pytest.mark.pandoc
def test_a_scraped_body_without_its_heading_is_read_by_its_escapes(tmp_path):
    post, d = post_of(tmp_path, "scraped_headless.txt", "9005.txt")
    assert post.form == "scraped-markdown" and post.body_format == "markdown"
    assert (post.id, post.title) == ("9005", "测试系列（三）：转义_的标题")
    assert [f.tex for f in post.formulas][:2] == ["\\boldsymbol{x}_i^{\\top}", "a*b"]
    assert [x.code for x in d.sorted()] == ["no-heading", "no-date"]
    ast = build(post)
    assert headers(ast) == [(2, "第一节")]
    assert "SEARCH" not in pandoc_ast.text(ast["blocks"]) and "发表你的看法" not in pandoc_ast.text(ast["blocks"])


@pytest.mark.pandoc
def test_a_bare_scraped_body_takes_its_title_from_the_file_name(tmp_path):
    post, _ = post_of(tmp_path, "scraped_headless_bare.txt", "9200.txt")
    assert (post.id, post.title, post.form) == ("9200", "9200", "scraped-markdown")
    assert [f.tex for f in post.formulas][-2:] == ["\\mathcal{D}", "\\mathbb{E}[x]"]
    assert headers(build(post)) == [(2, "第一节")]


@pytest.mark.parametrize("text, expected", [
    ("公式$\\\\frac{a}{b}$、$\\\\alpha$、$\\\\beta$、$\\\\gamma$与$\\\\mathcal{D}$。", True),
    ("公式$\\frac{a}{b}$、$\\alpha$、$\\beta$、$\\gamma$与$\\mathcal{D}$。", False),
    # raw TeX with row breaks before letters is no scrape
    ("$$\\begin{pmatrix}p_1\\\\p_2\\\\q\\end{pmatrix}$$ $\\alpha$ $\\beta$ $\\gamma$ $\\delta$", False),
    ("$\\\\frac{a}{b}$ $\\\\alpha$", False),          # too few to tell
])
def test_the_escape_statistic(text, expected):
    assert headless(text) is expected


@pytest.mark.pandoc
def test_quote_lines_glued_or_split_by_the_scraper_are_one_quote(tmp_path):
    post, _ = post_of(tmp_path, "scraped_glued_quote.txt")
    ast = build(post)
    blocks = [(b["t"], pandoc_ast.text(b)) for b in ast["blocks"]]
    assert [t for t, _ in blocks] == ["Para", "BlockQuote", "Para", "BlockQuote", "Para", "BulletList", "OrderedList"]
    assert blocks[0][1] == "下载地址为：" and blocks[2][1] == "运行结果："
    # the quote's line markers the scraper put into link texts and after links are gone
    assert ">" not in blocks[1][1]
    links = [n for n in walk(ast["blocks"]) if n["t"] == "Link"]
    assert [pandoc_ast.text(n["c"][1]).strip() for n in links] == [
        "https://example.com/files", "镜像"]
    # a Python prompt in a quote is text, not three more quote levels
    assert blocks[3][1].count(">>>") == 2
    assert not any(n["t"] == "BlockQuote" for q in ast["blocks"][3]["c"] for n in walk(q))
    # `>` after punctuation that is no quote marker: in formulas, and without a space after it
    assert "a：>b" in blocks[4][1] and [f.tex for f in post.formulas][1:3] == ["x>0", "y> 1"]
    for lst in ast["blocks"][5:]:
        item = lst["c"][0] if lst["t"] == "BulletList" else lst["c"][1][0]
        assert item[0]["t"] == "BlockQuote"
