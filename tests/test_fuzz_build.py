"""Whole builds of small random posts, random TeX included: exit status 0 or 1, the output
written, never a traceback (exit 3).  A fixed seed and a small budget in `make test`;
`make fuzz` sets ANTHOLOGY_FUZZ_EXAMPLES for a long run."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import run_cli

pytestmark = [pytest.mark.engine, pytest.mark.pandoc]

EXAMPLES = int(os.environ.get("ANTHOLOGY_FUZZ_EXAMPLES", "0")) or None
FUZZ = settings(max_examples=EXAMPLES or 6, derandomize=True, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))

TEX = st.sampled_from([
    "x", "y_1", "^", "_", "{", "}", "\\frac", "\\sqrt", "\\\\", "&", " ", "\n", "\\left(", "\\right)",
    "\\begin{aligned}", "\\end{aligned}", "\\begin{array}{c}", "\\end{array}", "\\label{a}", "\\label{b}",
    "\\eqref{a}", "\\ref{b}", "\\tag{1}", "\\tag*{x}", "\\nonumber", "\\newcommand{\\R}{\\mathbb{R}}", "\\R",
    "\\text{中文}", "\\mathbb{E}", "\\boldsymbol{v}", "\\style{color:red;background:url(http://127.0.0.1:9/x)}{x}",
    "\\bbox[5px,border:1px solid red]{x}", "\\class{eq-tag}{x}", "\\unicode{xD800}", "\\unicode{x1F600}",
    "\\href{javascript:alert(1)}{x}", "\\color{red}", "\\require{cancel}", "\\cancel{x}", "\\xrightarrow{f}",
    "\\def\\a{b}", "\\a", "\\undefinedmacro", "%", "#", "\\$", "<", "&amp;", "\\operatorname{tr}",
])
FORMULA = st.tuples(st.sampled_from([("$", "$"), ("$$", "$$"), ("\\(", "\\)"), ("\\[", "\\]"),
                                     ("\\begin{equation}", "\\end{equation}"), ("\\begin{align}", "\\end{align}"),
                                     ("", "")]),
                    st.lists(TEX, max_size=12)).map(lambda t: t[0][0] + "".join(t[1]) + t[0][1])
TEXT = st.sampled_from(["中文", "文字，", "。", " ", "\n", "\n\n", "# 标题\n", "## 小节\n", "> 引用 ", "- 列表 ",
                        "1. 第一 ", "`code`", "```\ncode $x$\n```\n", "[链接](https://kexue.fm/archives/2)",
                        "![图](http://x/y.png)", "<script>alert(1)</script>", "**粗**", "\\", "$", "*", "_",
                        "[", "]", "|a|b|\n|-|-|\n"])
BODY = st.lists(st.one_of(TEXT, FORMULA), min_size=1, max_size=25).map("".join)


def write_posts(folder: Path, bodies: list[str]) -> list[Path]:
    paths = []
    for n, body in enumerate(bodies, 1):
        path = folder / f"{n}.md"
        title = f"随机（{'一二三'[n % 3]}）：第{n}篇" if n % 2 else f"随机文章{n}"
        path.write_text(f"---\ntitle: {title}\nid: '{n}'\ndate: 2022-01-{n:02d}\n---\n{body}\n", encoding="utf-8")
        paths.append(path)
    return paths


def build_ok(fmt: str, bodies: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "posts").mkdir()
        write_posts(folder / "posts", bodies)
        out = folder / ("site" if fmt == "html" else f"book.{fmt}")
        status, _, err = run_cli("build", fmt, folder / "posts", "--out", out, "--cache-dir", folder / "cache")
        assert status in (0, 1), err
        assert "Traceback" not in err and out.exists()


@FUZZ
@given(st.lists(BODY, min_size=1, max_size=6))
def test_html_builds_of_random_posts(bodies):
    build_ok("html", bodies)


@settings(FUZZ, max_examples=max(2, (EXAMPLES or 6) // 3))
@given(st.lists(BODY, min_size=1, max_size=4))
def test_epub_builds_of_random_posts(bodies):
    build_ok("epub", bodies)


@pytest.mark.weasyprint
@settings(FUZZ, max_examples=max(2, (EXAMPLES or 6) // 3))
@given(st.lists(BODY, min_size=1, max_size=4))
def test_pdf_builds_of_random_posts(bodies):
    build_ok("pdf", bodies)
