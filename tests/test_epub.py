"""EPUB 3 books: epubcheck on every book built, structure, metadata, math in both modes."""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
import zipfile
from pathlib import Path

import pytest
from kexue_anthology.core.diagnostics import Diagnostics
from kexue_anthology.read import read

from tests.conftest import SEEDS
from tests.helpers import epubcheck, run_cli

pytestmark = [pytest.mark.engine, pytest.mark.pandoc]


def build(*args, out: Path, cache: Path) -> tuple[int, str, str]:
    return run_cli("build", "epub", *args, "--out", out, "--cache-dir", cache)


def entries(book: Path) -> dict[str, str]:
    with zipfile.ZipFile(book) as z:
        return {n: z.read(n).decode("utf-8", "replace") for n in z.namelist()}


def test_the_seed_collection(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    book = tmp_path / "seeds.epub"
    status, _stdout, stderr = build(out=book, cache=tmp_path / "cache")
    assert status == 0, stderr
    epubcheck(book)
    files = entries(book)
    assert next(iter(files)) == "mimetype" and files["mimetype"] == "application/epub+zip"
    opf = files["EPUB/content.opf"]
    assert "<dc:title" in opf and "科学空间文集" in opf and "<dc:language>zh-Hans</dc:language>" in opf
    assert re.search(r"<dc:creator[^>]*>苏剑林</dc:creator>", opf) and "urn:uuid:" in opf
    assert re.search(r"<dc:date[^>]*>2023-11-14</dc:date>", opf)            # SOURCE_DATE_EPOCH
    assert 'properties="cover-image"' in opf
    chapters = [n for n in files if re.match(r"EPUB/text/ch\d+\.xhtml", n)]
    titles = [t for n in chapters for t in re.findall(r'class="post-title"[^>]*>([^<]+)<', files[n])]
    assert len(titles) == 39                                 # each chapter's heading is its post's title, as text
    assert sorted(titles) == sorted(html.escape(p.title, quote=False) for p in read([str(SEEDS)], Diagnostics()))
    nav = files["EPUB/nav.xhtml"]
    parts = [unicodedata.normalize("NFKC", p) for p in re.findall(r">(最小熵原理[^<]*)<", nav)]
    assert parts[0] == "最小熵原理" and "(四)" in parts[1] and "(五)" in parts[2]      # series, its parts
    assert "其他文章" in nav and '<h1 id="toc-title">目录</h1>' in nav
    page = files["EPUB/text/title_page.xhtml"]                 # ours, as the PDF's title page
    assert '<h1 class="book-title">科学空间文集</h1>' in page and ">39 篇文章 · 2023<" in page
    assert '<meta property="schema:accessibilityFeature">MathML</meta>' in opf
    meta = r'class="post-title".*?</h\d>\s*<div class="post-meta">\s*<p>([^<]*)<'
    heads = [head for n in chapters for head in re.findall(meta, files[n], re.S)]    # the date under each title
    assert len(heads) == 39 and all(re.match(r"\d{4}-\d\d-\d\d", head) for head in heads), heads
    again = tmp_path / "again.epub"
    build(out=again, cache=tmp_path / "cache")
    assert hashlib.sha256(book.read_bytes()).digest() == hashlib.sha256(again.read_bytes()).digest()


@pytest.mark.parametrize("math", ["mathml", "svg"])
def test_the_minimum_entropy_series(corpus, math, tmp_path):
    book = tmp_path / f"series-{math}.epub"
    status, _stdout, stderr = build(corpus, "--series", "最小熵原理", "--math", math, out=book,
                                   cache=tmp_path / "cache")
    assert status == 0, stderr
    epubcheck(book)
    files = entries(book)
    nav = files["EPUB/nav.xhtml"]
    order = re.findall(r"最小熵原理（(.)）", nav)
    assert order == ["一", "二", "三", "四", "五", "六"]
    chapters = {n: t for n, t in files.items() if re.match(r"EPUB/text/ch\d+\.xhtml", n)}
    assert len(chapters) == 6
    assert sorted(re.search(r"<title>(.*?)</title>", t).group(1)[:8] for t in chapters.values()) == \
        sorted(f"最小熵原理（{n}）" for n in "一二三四五六")       # a chapter's title is its post's
    for name, text in chapters.items():                      # \eqref and numbers in the same file
        ids = set(re.findall(r'\bid="([^"]+)"', text))
        for target in re.findall(r'href="#(eq-[^"]+)"', text):
            assert target in ids, (name, target)
    five = next(t for t in chapters.values() if "post-7006" in t)
    assert five.count('class="eq-tag"') == 15 and five.count('class="eqref"') > 10
    if math == "mathml":
        assert "<math" in five and 'properties="mathml"' in files["EPUB/content.opf"]
    else:
        assert "<math" not in "".join(chapters.values())
        tags = re.findall(r'<img class="math-img"[^>]*>', "".join(chapters.values()))
        images = [(re.search(r'src="\.\./media/([^"]+)"', t).group(1), re.search(r'alt="([^"]*)"', t).group(1))
                  for t in tags]
        svgs = [n for n in files if n.startswith("EPUB/media/") and n.endswith(".svg")]
        assert images and all(alt for _, alt in images)
        assert len(svgs) == len({src for src, _ in images})   # each distinct formula once


def test_the_whole_corpus(corpus, tmp_path):
    book = tmp_path / "corpus.epub"
    status, stdout, _stderr = build(corpus, out=book, cache=tmp_path / "cache")
    assert status == 1 and "131 posts" in stdout            # 14 formulas shown as their source
    epubcheck(book)
    files = entries(book)
    assert sum(len(re.findall(r'class="post-title"', t)) for t in files.values()) == 131
    assert sum(t.count('class="math-error') for t in files.values()) == 14


def test_a_title_is_text_never_markup(tmp_path):
    """The title reaches pandoc as a literal string, not as Markdown that may carry HTML."""
    post = tmp_path / "p.md"
    post.write_text("---\ntitle: 一篇\nid: '1'\ndate: 2020-01-01\n---\n正文 $a$\n", encoding="utf-8")
    book = tmp_path / "t.epub"
    title = 'x<script>alert(1)</script> & "q"'
    status, _stdout, stderr = run_cli("build", "epub", post, "--out", book, "--title", title, "--no-cache")
    assert status == 0, stderr
    epubcheck(book)
    files = entries(book)
    assert not [n for n, t in files.items() if n.endswith(".xhtml") and re.search(r"<script\b", t, re.I)]
    shown = "x&lt;script&gt;alert(1)&lt;/script&gt; &amp; "
    assert shown in files["EPUB/text/title_page.xhtml"] and shown in files["EPUB/nav.xhtml"]
    assert re.search(r"<dc:title[^>]*>" + re.escape(shown), files["EPUB/content.opf"])


@pytest.mark.parametrize("math", ["mathml", "svg"])
def test_empty_attributes_never_reach_the_book(tmp_path, math):
    """`\\begin{array}{}` gives an empty `columnalign`, spacing alone an empty alt text: pandoc
    writes an empty attribute bare, which is no XML, so none may reach it."""
    post = tmp_path / "e.md"
    post.write_text("---\ntitle: 空属性\nid: 'e1'\ndate: 2020-01-01\n---\n"
                    "数组$$\\begin{array}{}a\\\\b\\end{array}$$空$\\,$格$\\quad$。\n", encoding="utf-8")
    book = tmp_path / "e.epub"
    status, _, err = build(post, "--math", math, out=book, cache=tmp_path / "cache")
    assert status == 0, err
    epubcheck(book)
    chapters = "".join(v for k, v in entries(book).items() if k.endswith(".xhtml"))
    assert not re.search(r'<(?:math|mtable|img)\b[^>]*\s(?:alttext|columnalign|alt)(?=[\s/>])', chapters)


def test_the_suite_checks_every_book_it_builds(tmp_path, monkeypatch):
    """run_cli (tests/helpers.py) puts every EPUB a `build epub` writes through epubcheck: a
    book with a link to a missing file fails the test that built it."""
    from kexue_anthology.formats.epub import emitter as epub

    from tests.helpers import epubcheck_command
    if epubcheck_command(tmp_path) is None:
        pytest.skip("needs epubcheck (Debian: apt-get install epubcheck, with java)")
    post = tmp_path / "p.md"
    post.write_text("---\ntitle: 一篇\nid: '1'\ndate: 2020-01-01\n---\n正文。\n", encoding="utf-8")
    real = epub.well_formed
    monkeypatch.setattr(epub, "well_formed", lambda text, name="": real(
        text.replace("</body>", '<p><a href="nowhere.xhtml">x</a></p></body>'), name))
    with pytest.raises(AssertionError, match=r"(?s)epubcheck on .*RSC-007"):
        build(post, out=tmp_path / "bad.epub", cache=tmp_path / "cache")
