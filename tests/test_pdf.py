"""The printed anthology: text, contents page numbers, bookmarks, fonts, equation numbers,
links, the golden page, and what WeasyPrint may read."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from kexue_anthology.formats.pdf.typeset import LocalFetcher
from PIL import Image, ImageChops

from tests.conftest import DATA
from tests.helpers import run_cli

pytestmark = [pytest.mark.engine, pytest.mark.pandoc, pytest.mark.weasyprint]

pypdf = pytest.importorskip("pypdf", reason="needs pypdf (pip install -e '.[test]')")
GOLDEN = DATA / "pdf" / "numbering-page.png"
MAX_DIFFERENT = 0.005


def needs_poppler() -> None:
    if not shutil.which("pdftotext") or not shutil.which("pdffonts") or not shutil.which("pdftoppm"):
        pytest.skip("needs poppler-utils (pdftotext, pdffonts, pdftoppm)")


def build(*args, out: Path, cache: Path) -> tuple[int, str, str]:
    return run_cli("build", "pdf", *args, "--out", out, "--cache-dir", cache)


def page_text(pdf: Path, first: int, last: int | None = None) -> str:
    return subprocess.run(["pdftotext", "-f", str(first), "-l", str(last or first), "-layout", str(pdf), "-"],
                          capture_output=True, text=True, check=True).stdout


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def bookmarks(reader) -> list[tuple[int, str, int]]:
    out = []

    def walk(items, depth):
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
            else:
                out.append((depth, item.title, reader.get_destination_page_number(item) + 1))
    walk(reader.outline, 1)
    return out


def contents(pdf: Path, pages: int) -> list[tuple[str, int]]:
    """(entry, printed page number) from the contents pages: entries end in dots and a number."""
    text = page_text(pdf, 2, min(pages, 6))
    text = text[text.index("目录") + 2:]
    entries, pending = [], ""
    for line in text.splitlines():
        m = re.match(r"^\s*(.*?)\s*\.{3,}\s*(\d+)\s*$", line)
        if m:
            entries.append((squeeze(pending + m.group(1)), int(m.group(2))))
            pending = ""
        elif line.strip() and not re.fullmatch(r"\s*\d+\s*", line):
            pending += line.strip()
    return entries


def check_book(pdf: Path, titles: list[str]) -> pypdf.PdfReader:
    reader = pypdf.PdfReader(str(pdf))
    pages = len(reader.pages)
    text = page_text(pdf, 1, pages)
    assert "\ufffd" not in text
    whole = squeeze(text)
    marks = bookmarks(reader)
    marked = {squeeze(t): page for _, t, page in marks}
    for title in titles:                                  # in the text and in the bookmarks
        assert squeeze(title) in whole, title
        assert squeeze(title) in marked, title
    entries = dict(contents(pdf, pages))
    for title in titles:                                  # the contents' number is the title's page
        n = entries[squeeze(title)]
        assert n == marked[squeeze(title)], title
        assert squeeze(title) in squeeze(page_text(pdf, n)), (title, n)
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    rows = fonts.splitlines()[2:]
    assert any("NotoSerifCJK" in r.replace("-", "") for r in rows), fonts
    assert all(" yes " in r for r in rows), fonts                 # every font embedded
    names = set(reader.named_destinations)
    links = [a.get_object() for p in reader.pages for a in (p.get("/Annots") or [])]
    internal = [str(a["/Dest"]) for a in links if a.get("/Subtype") == "/Link" and "/Dest" in a]
    assert internal and set(internal) <= names                    # contents, \eqref, between posts
    meta = reader.metadata
    assert meta.author == "苏剑林" and meta.title
    return reader


@pytest.fixture(scope="module")
def seed_book(tmp_path_factory):
    needs_poppler()
    work = tmp_path_factory.mktemp("seed-pdf")
    status, _stdout, stderr = build(out=work / "anthology.pdf", cache=work / "cache")
    assert status == 0, stderr
    return work / "anthology.pdf"


def test_the_seed_anthology(seed_book):
    _status, out, _ = run_cli("list", "--format", "json")
    titles = [p["title"] for p in json.loads(out)]
    reader = check_book(seed_book, titles)
    marks = bookmarks(reader)
    series = [(d, squeeze(t)) for d, t, _ in marks if d == 1]
    assert ("最小熵原理" in dict((t, d) for d, t in series)) and squeeze("其他文章") in [t for _, t in series]
    assert len([m for m in marks if m[0] == 2]) == 39               # series → posts
    assert str(reader.trailer["/Root"].get("/Lang")) == "zh-Hans"


def test_formula_glyphs_are_filled_and_never_stroked(seed_book):
    """A stroke on a glyph outline is drawn at least a device pixel wide by viewers and printers:
    formulas printed bolder than the text.  Glyphs are filled only (MathJax's SVG, drawn by
    WeasyPrint as paths in the page; the text is text, not paths)."""
    import pikepdf
    painted: dict[str, int] = {}
    with pikepdf.open(seed_book) as pdf:
        for page in pdf.pages:
            for op in pikepdf.parse_content_stream(page):
                name = str(op.operator)
                if name in ("f", "f*", "B", "B*", "b", "b*", "S", "s"):
                    painted[name] = painted.get(name, 0) + 1
    assert painted.get("f", 0) > 400, painted           # the sample's formulas: some 480 glyphs and bars
    assert not {"B", "B*", "b", "b*", "S", "s"} & set(painted), painted


def test_the_minimum_entropy_series(corpus, tmp_path):
    needs_poppler()
    pdf = tmp_path / "最小熵原理.pdf"
    status, _stdout, stderr = build(corpus, "--series", "最小熵原理", out=pdf, cache=tmp_path / "cache")
    assert status == 0, stderr
    titles = [f"最小熵原理（{n}）" for n in "一二三四五六"]
    reader = pypdf.PdfReader(str(pdf))
    full = [t for _, t, _ in bookmarks(reader) if t.startswith("最小熵原理（")]
    assert [t[:8] for t in full] == titles                             # parts in order
    check_book(pdf, full)
    start = dict((squeeze(t), p) for _, t, p in bookmarks(reader))
    five = start[squeeze(full[4])]
    text = page_text(pdf, five, start[squeeze(full[5])] - 1)
    numbers = re.findall(r"\((\d+)\)\s*$", text, re.M)             # numbers at the right edge
    assert [int(n) for n in numbers][:15] == list(range(1, 16))
    dests = reader.named_destinations
    eq_links = [str(a.get_object()["/Dest"]) for p in reader.pages[five - 1:]
                for a in (p.get("/Annots") or []) if "/Dest" in a.get_object()]
    assert sum(1 for d in eq_links if d.startswith("eq-7006-")) > 10 and all(d in dests for d in eq_links)


def test_golden_page(tmp_path, update_golden):
    needs_poppler()
    pdf = tmp_path / "numbering.pdf"
    status, _, stderr = build(DATA / "numbering.md", "--paper", "a5", out=pdf, cache=tmp_path / "cache")
    assert status == 1 and "double-script" in stderr                 # the fixture's broken formula
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    assert "419.528 x 595.276" in info                               # A5
    reader = pypdf.PdfReader(str(pdf))
    dests = [str(a.get_object().get("/Dest")) for p in reader.pages for a in (p.get("/Annots") or [])]
    assert "eq-n1-l-eq.3a.row1" in dests             # the \eqref inside a formula: a link over the image
    subprocess.run(["pdftoppm", "-r", "60", "-gray", "-png", "-f", "3", "-l", "3", "-singlefile", str(pdf),
                    str(tmp_path / "page")], check=True)
    got = Image.open(tmp_path / "page.png").convert("L")
    if update_golden:
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        got.save(GOLDEN)
        pytest.skip(f"rewrote {GOLDEN}: look at it")
    assert GOLDEN.exists(), "no golden page: run `make update-golden`"
    want = Image.open(GOLDEN).convert("L")
    assert got.size == want.size
    different = sum(ImageChops.difference(got, want).histogram()[65:]) / (got.size[0] * got.size[1])
    assert different <= MAX_DIFFERENT, f"{different:.2%} of the pixels differ from {GOLDEN}; see {tmp_path}"


def test_weasyprint_reads_only_files_below_the_build(tmp_path):
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "a.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (tmp_path / "secret.txt").write_text("secret")
    fetch = LocalFetcher((tmp_path / "build").resolve()).fetcher
    assert fetch((tmp_path / "build" / "a.svg").as_uri()).status in (None, 200)
    for url in ((tmp_path / "secret.txt").as_uri(), "https://kexue.fm/favicon.ico",
                (tmp_path / "build" / ".." / "secret.txt").as_uri()):
        with pytest.raises(ValueError):
            fetch(url)


def test_images_are_placeholders_with_their_address(tmp_path):
    needs_poppler()
    (tmp_path / "p.md").write_text("---\ntitle: 图片\nid: '88'\n---\n正文。\n\n![示意图](https://kexue.fm/usr/a.png)\n\n"
                                   "![本地](/etc/hostname)\n", encoding="utf-8")
    status, _, stderr = build(tmp_path / "p.md", out=tmp_path / "p.pdf", cache=tmp_path / "cache")
    assert status == 0, stderr
    text = squeeze(page_text(tmp_path / "p.pdf", 1, 3))
    assert "示意图" in text and "https://kexue.fm/usr/a.png" in text and "/etc/hostname" in text


def test_no_cjk_font_stops_the_build(tmp_path):
    conf = tmp_path / "fonts.conf"
    conf.write_text('<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
                    f"<cachedir>{tmp_path / 'fc'}</cachedir></fontconfig>")
    result = subprocess.run([sys.executable, "-m", "kexue_anthology", "build", "pdf", "--out", str(tmp_path / "x.pdf"),
                             "--cache-dir", str(tmp_path / "cache")],
                            env=dict(os.environ, FONTCONFIG_FILE=str(conf)), capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parent.parent)
    assert result.returncode == 2 and "fonts-noto-cjk" in result.stderr, result.stderr
    assert not (tmp_path / "x.pdf").exists()


def test_a_title_with_math_is_plain_text_in_contents_and_bookmarks(tmp_path):
    needs_poppler()
    (tmp_path / "m.md").write_text("---\ntitle: 关于$\\alpha_i$与$\\frac{1}{2}$的笔记\nid: '99'\n---\n正文$x$。\n",
                                   encoding="utf-8")
    status, _, stderr = build(tmp_path / "m.md", out=tmp_path / "m.pdf", cache=tmp_path / "cache")
    assert status == 0, stderr
    reader = pypdf.PdfReader(str(tmp_path / "m.pdf"))
    assert [t for _, t, _ in bookmarks(reader)][-1] == "关于α_i与1/2的笔记"
    assert "关于α_i与1/2的笔记" in squeeze(page_text(tmp_path / "m.pdf", 2))


JUSTIFY = """---
title: 两端对齐
date: 2024-05-04
id: "9950"
---
{paragraph}
"""


def _lines(pdf: Path, page: int) -> list[tuple[float, float, list[tuple[float, float]]]]:
    """Each text line of a page as (left, right, [(xMin, xMax) of each word]), from poppler."""
    xml = subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), "-bbox-layout", str(pdf), "-"],
                         capture_output=True, text=True, check=True).stdout
    lines = []
    for line in re.findall(r"<line [^>]*>(.*?)</line>", xml, re.S):
        words = [(float(a), float(b)) for a, b in re.findall(r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)"', line)]
        if words:
            lines.append((words[0][0], words[-1][1], words))
    return lines


def test_chinese_paragraphs_are_flush_on_both_sides_without_holes(tmp_path):
    """Every full line of a Chinese paragraph ends at the same right edge, and a line with a
    single Latin space gets no hole: the slack goes between the characters (clreq)."""
    needs_poppler()
    sentence = "在这里我们讨论信息熵与编码长度的关系，以及 Huffman Softmax 这样的名字如何排进中文的行里。"
    text = "".join(sentence if i % 3 else sentence.replace(" ", "") + "（注：见前文。）" for i in range(12))
    src = tmp_path / "justify.md"
    src.write_text(JUSTIFY.format(paragraph=text), encoding="utf-8")
    pdf = tmp_path / "book.pdf"
    status, _, stderr = build(str(src), out=pdf, cache=tmp_path / "cache")
    assert status == 0, stderr
    body = [line for line in _lines(pdf, 3) if line[1] - line[0] > 200]     # the paragraph's lines
    assert len(body) >= 8, body
    right = max(line[1] for line in body)
    full = body[:-1]                                   # the paragraph's last line stays short
    ragged = [line for line in full if right - line[1] > 1.0]
    assert not ragged, f"lines short of the right edge {right}: {ragged}"
    for _, _, words in full:                           # no gap wider than two spaces' worth
        gaps = [b[0] - a[1] for a, b in itertools.pairwise(words)]
        assert max(gaps, default=0) < 8.0, words
