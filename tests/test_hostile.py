"""Formulas and posts that once took a whole build down or made it run without end: every
output is still written, each problem is a diagnostic on its line, nothing else is lost."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from tests.helpers import run_cli

pytestmark = pytest.mark.engine

HEADER = "---\ntitle: {title}\nid: '{id}'\ndate: 2021-03-0{day}\n---\n"

# Formulas whose drawing is empty or odd; each must be drawn (or linked), never an error.
ODD = (r"定义$\newcommand{foo}{\mathop{\text{foo}}}\newcommand{bar}{\mathop{\text{bar}}}$之后。" "\n\n"
       "$$\n\\eqref{eq:x}$$\n\n"
       "$$\\\\ \\eqref{eq:x}$$\n\n"
       "\\begin{equation}a=b\\label{eq:x}\\end{equation}\n\n"
       "代理$\\unicode{xD800}$字符。\n")


def deep() -> str:
    sup = "x^{" * 2000 + "x" + "}" * 2000
    frac = "x"
    for _ in range(2000):
        frac = "\\frac{" + frac + "}{2}"
    return "\n\n".join([
        f"上标$${sup}$$",                                        # line 6
        "括号$$" + "{" * 10000 + "x" + "}" * 10000 + "$$",         # line 8
        f"分式$${frac}$$",                                       # line 10
        "$$" + "\\left(" * 3000 + "x" + "\\right)" * 3000 + "$$",  # line 12
        "正常$a+b$。",                                            # line 14
    ]) + "\n"


def labels() -> str:
    return "\n\n".join(f"\\begin{{equation}}a_{{{i}}}\\label{{same}}\\end{{equation}}" for i in range(1000)) \
        + "\n\n见$\\eqref{same}$。\n"


@pytest.fixture(scope="module")
def posts(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    for n, (name, body) in enumerate([("odd", ODD), ("deep", deep()), ("labels", labels())], 1):
        (folder / f"{name}.md").write_text(HEADER.format(title=name, id=f"h{n}", day=n) + body, encoding="utf-8")
    return folder


def codes(err: str, name: str) -> list[tuple[int, str]]:
    return [(int(m.group(1)), m.group(2)) for m in
            re.finditer(rf"{name}\.md:(\d+):\d+: (?:error|warning): .*?\[([a-z-]+)\]", err)]


@pytest.mark.pandoc
@pytest.mark.parametrize("fmt", ["html", "epub", pytest.param("pdf", marks=pytest.mark.weasyprint)])
def test_every_output_is_written_with_each_problem_on_its_line(posts, tmp_path, fmt):
    out = tmp_path / ("site" if fmt == "html" else f"book.{fmt}")
    status, _stdout, err = run_cli("build", fmt, posts, "--out", out, "--cache-dir", tmp_path / "cache")
    assert status == 1, err
    assert "Traceback" not in err and out.exists()
    assert codes(err, "odd") == []                       # drawn, not errors
    assert codes(err, "deep") == [(n, "too-complex") for n in (6, 8, 10, 12)]
    found = codes(err, "labels")
    assert len(found) == 999 and {c for _, c in found} == {"duplicate-label"}
    if fmt == "html":
        page = (out / "posts" / "h1.html").read_text(encoding="utf-8")
        links = page.count('href="#eq-h1-l-eq.3a.x"') - page.count('class="permalink" href="#eq-h1-l-eq.3a.x"')
        assert links == 2 and "math-error" not in page
        assert "&#xFFFD;" in page                        # the lone surrogate, replaced
        anchors = re.findall(r'id="(eq-[^"]+)"', (out / "posts" / "h3.html").read_text(encoding="utf-8"))
        assert anchors and len(anchors) == len(set(anchors))
    if fmt == "epub":
        with zipfile.ZipFile(out) as z:
            chapters = [z.read(n).decode() for n in z.namelist() if n.endswith(".xhtml")]
        assert any("a+b" in c or "<mi>a</mi><mo>+</mo>" in c for c in chapters)


def test_the_empty_drawing_of_definitions_is_zero_width(posts, tmp_path):
    from kexue_anthology.stages import Run, run_stages

    run = Run(paths=[str(posts / "odd.md")])
    run_stages(run, "render")
    assert not run.diagnostics.items
    empty = run.renders[("h1", 0)]
    assert empty.width == 0 and empty.svg.startswith("<svg")


@pytest.mark.pandoc
@pytest.mark.weasyprint
def test_a_post_weasyprint_fails_on_is_left_out_and_the_book_is_written(tmp_path, monkeypatch):
    """WeasyPrint failing on one post (injected: it raises on a marker word) costs that post
    only: a diagnostic on its title, a marked page in its place, every other post typeset."""
    from kexue_anthology.formats.pdf import parts as pdf_parts
    from kexue_anthology.formats.pdf import typeset

    real = typeset.write_pdf

    def failing(html, target, identifier, extra_css=""):
        if "毒药标记" in html.read_text(encoding="utf-8"):
            raise ValueError("injected typesetting fault")
        real(html, target, identifier, extra_css)

    monkeypatch.setattr(typeset, "write_pdf", failing)
    monkeypatch.setattr(pdf_parts, "IN_PROCESS", True)       # so that the injected fault applies
    for n, text in enumerate(["好的文章$x^2$。", "毒药标记$y$。", "另一篇$z$。"], 1):
        (tmp_path / f"{n}.md").write_text(HEADER.format(title=f"第{n}篇", id=f"w{n}", day=n) + text + "\n",
                                          encoding="utf-8")
    out = tmp_path / "book.pdf"
    status, _, err = run_cli("build", "pdf", *(tmp_path / f"{n}.md" for n in (1, 2, 3)), "--out", out,
                             "--cache-dir", tmp_path / "cache", "--jobs", "1")
    assert err.count("[pdf-failed]") == 1
    assert status == 1
    assert f"{tmp_path / '2.md'}:1:1: error: WeasyPrint could not typeset this post: ValueError" in err
    from pypdf import PdfReader
    text = "".join(page.extract_text() for page in PdfReader(str(out)).pages)
    assert "好的文章" in text and "另一篇" in text and "无法排版" in text and "毒药标记" not in text
