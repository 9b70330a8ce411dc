"""The document model: each post as a pandoc AST with its formulas in place, nothing of the
text lost between source and AST."""

from __future__ import annotations

import html
import re

import pytest
from kexue_anthology.check.extract import extract
from kexue_anthology.core.diagnostics import Diagnostics
from kexue_anthology.documents import pandoc_ast
from kexue_anthology.documents.document import build, fallback, too_deep
from kexue_anthology.documents.pandoc_ast import walk
from kexue_anthology.read import read

from tests.conftest import SEEDS
from tests.helpers import case_source

LINK_TARGET = re.compile(r"\]\((?:[^()\s]|\([^()]*\))*(?:\s+\"[^\"]*\")?\)")
FENCE_INFO = re.compile(r"^(\s*(?:```|~~~)+)[^\n]*", re.M)


def words(text: str) -> str:
    return "".join(re.findall(r"\w", text))


def source_words(post) -> str:
    """The words of the source body: formulas as their TeX; for Markdown bodies link targets,
    fence info strings and entities are markup, not text."""
    text, parts, pos = post.body.text, [], 0
    for f in post.formulas:
        parts += [text[pos:f.start], f"\0{f.index}\0"]
        pos = f.end
    prose = "".join(parts) + text[pos:]
    if post.body_format == "markdown":
        prose = html.unescape(FENCE_INFO.sub(r"\1", LINK_TARGET.sub("]", prose)))
    return words(re.sub(r"\0(\d+)\0", lambda m: post.formulas[int(m.group(1))].tex, prose))


def posts_of(*paths):
    d = Diagnostics()
    return extract(read([str(p) for p in paths], d), d)


def assert_nothing_lost(posts):
    lost = []
    for post in posts:
        ast = build(post)
        maths = [n for n in walk(ast["blocks"]) if n["t"] == "Math"]
        if len(maths) != len(post.formulas) or words(pandoc_ast.text(ast["blocks"])) != source_words(post):
            lost.append((post.id, post.path))
    assert lost == []


@pytest.mark.pandoc
def test_seeds_lose_nothing():
    assert_nothing_lost(posts_of(SEEDS))


@pytest.mark.corpus
@pytest.mark.pandoc
def test_corpus_loses_nothing(corpus):
    assert_nothing_lost(posts_of(corpus))


@pytest.mark.pandoc
def test_formulas_stand_in_place_with_their_index(tmp_path):
    src = tmp_path / "p.md"
    src.write_text("---\ntitle: t\nid: '7'\n---\n第一行$a$文字\n第二行**粗体**$$b$$\n\n- 列表\\eqref{x}\n", encoding="utf-8")
    post = posts_of(src)[0]
    blocks = build(post)["blocks"]
    para = blocks[0]["c"]
    # CJK line break kept without a space; formulas as Span.math around Math, in order
    assert para[0] == {"t": "Str", "c": "第一行"}
    assert para[1] == {"t": "Span", "c": [["", ["math"], [["data-formula", "0"]]],
                                          [{"t": "Math", "c": [{"t": "InlineMath"}, "a"]}]]}
    assert para[2] == {"t": "Str", "c": "文字"}
    assert not any(n["t"] == "Space" for n in para[:6])
    kinds = [(n["c"][0]["t"], n["c"][1]) for n in walk(blocks) if n["t"] == "Math"]
    assert kinds == [("InlineMath", "a"), ("DisplayMath", "b"), ("InlineMath", "\\eqref{x}")]
    assert blocks[1]["t"] == "BulletList"


@pytest.mark.pandoc
def test_scraped_markdown_structure(tmp_path):
    path = tmp_path / "9005.txt"
    path.write_text(case_source("scraped.txt"), encoding="utf-8")
    ast = build(posts_of(path)[0])
    types = [b["t"] for b in ast["blocks"]]
    assert types == ["Para", "Header", "Para", "Para"]
    header = ast["blocks"][1]
    assert pandoc_ast.text(header) == "第一节"
    assert any(n["t"] == "Code" and n["c"][1] == "x\\_1 = $y$" for n in walk(ast["blocks"]))


def assert_fallback_loses_nothing(posts):
    """The document given without pandoc: every word and every formula, in order, each as
    `build` places it."""
    for post in posts:
        blocks = fallback(post)["blocks"]
        spans = [n for n in walk(blocks) if n["t"] == "Span" and "math" in n["c"][0][1]]
        assert [s["c"][0][2] for s in spans] == [[["data-formula", str(f.index)]] for f in post.formulas]
        text, pos, parts = post.body.text, 0, []
        for f in post.formulas:
            parts += [text[pos:f.start], f.tex]
            pos = f.end
        assert words(pandoc_ast.text(blocks)) == words("".join(parts) + text[pos:]), post.id
        assert all(b["t"] == "Para" for b in blocks)


@pytest.mark.pandoc                   # pandoc.api_version() asks pandoc
def test_the_fallback_of_the_seeds_loses_nothing():
    posts = posts_of(SEEDS)
    assert all(too_deep(post) is None for post in posts)         # and none of them needs it
    assert_fallback_loses_nothing(posts)


@pytest.mark.corpus
@pytest.mark.pandoc
def test_the_fallback_of_the_corpus_loses_nothing(corpus):
    posts = posts_of(corpus)
    assert all(too_deep(post) is None for post in posts)
    assert_fallback_loses_nothing(posts)


def test_walking_a_deep_ast_keeps_no_python_stack():
    tree: dict = {"t": "Str", "c": "leaf"}
    for _ in range(100_000):
        tree = {"t": "BlockQuote", "c": [tree]}
    kinds = [n["t"] for n in walk(tree)]
    assert len(kinds) == 100_001 and kinds[-1] == "Str"
