"""Figures in every output (issue 23): a writer's own images beside a post and web images the store
holds are in the site (<img> with a local source, the file there), the EPUB (manifest, epubcheck in both
math modes) and the PDF (pdfimages); the others are placeholders, with a warning at the image for a
local one and one warning for the build for the web ones; the blog's caption line is drawn once."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from kexue_anthology.images.store import ImageStore
from PIL import Image

from tests.helpers import epubcheck, run_cli

pytestmark = [pytest.mark.engine, pytest.mark.pandoc]

STORED = "https://kexue.fm/usr/uploads/2020/10/1.png"
NOT_STORED = "https://kexue.fm/usr/uploads/2020/10/2.png"
POST = f"""---
title: 图的文章
id: "9001"
date: 2024-01-02
---

第一段文字，公式 $x^2$。

![一张图](fig.png)

照片如下：

[![照片说明](photo.jpg)](photo.jpg)

照片说明

动图 ![动](anim.gif) 在句中。

![](d.svg)

矢量图的说明

![不存在](missing.png)

![越界](../secret.png)

[![远程的图]({STORED})]({STORED})

远程的图

![没取的图]({NOT_STORED})
"""
LOCAL = 4          # fig.png, photo.jpg, anim.gif, d.svg
RASTERS = 4        # the local PNG, JPEG, GIF and the stored PNG (the SVG is drawn as vectors in the PDF)


def png(size: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def put(cache: Path, url: str, size: tuple[int, int] = (800, 500)) -> None:
    ImageStore(cache).put(url, png(size, (20, 160, 90)), "image/png", *size, "2026-01-01T00:00:00Z")


@pytest.fixture
def content(tmp_path) -> tuple[Path, Path]:
    """(the posts' folder, the cache) with the post, its images, a file outside and one web image stored."""
    posts = tmp_path / "posts"
    posts.mkdir()
    (posts / "fig.png").write_bytes(png((400, 300), (200, 30, 30)))
    Image.new("RGB", (320, 200), (30, 30, 200)).save(posts / "photo.jpg")
    frames = [Image.new("P", (120, 80), c) for c in (1, 2, 3)]
    frames[0].save(posts / "anim.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    (posts / "d.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100">'
                                 '<rect width="200" height="100" fill="green"/></svg>', encoding="utf-8")
    (tmp_path / "secret.png").write_bytes(png((10, 10), (0, 0, 0)))
    (posts / "a.md").write_text(POST, encoding="utf-8")
    cache = tmp_path / "cache"
    put(cache, STORED)
    return posts, cache


def warnings_of(stderr: str) -> list[tuple[str, str]]:
    return re.findall(r"^(\S+): warning: .*\[(image[^\]]*)\]$", stderr, re.MULTILINE)


def test_site_draws_each_figure_once(content, tmp_path):
    posts, cache = content
    status, _out, stderr = run_cli("build", "html", posts, "--out", tmp_path / "site", "--cache-dir", cache)
    assert status == 0, stderr
    page = (tmp_path / "site" / "posts" / "9001.html").read_text(encoding="utf-8")
    sources = re.findall(r'<img\b[^>]*\bsrc="([^"]+)"', page)
    assert len(sources) == LOCAL + 1
    for src in sources:
        assert src.startswith("../images/") and (tmp_path / "site" / "posts" / src).resolve().is_file()
    for img in re.findall(r"<img\b[^>]*>", page):
        assert 'loading="lazy"' in img and re.search(r'width="\d+" height="\d+"', img)
    for caption in ("一张图", "照片说明", "矢量图的说明", "远程的图"):
        assert page.count(f"<figcaption>\n{caption}\n</figcaption>") == 1
        assert page.count(caption) == 2                 # the caption and the alt text, no second paragraph
    assert 'alt="矢量图的说明"' in page                   # no alt: the caption line is the alt text
    assert page.count('class="image-placeholder"') == 3   # missing, escaping, not fetched
    assert NOT_STORED in page
    found = warnings_of(stderr)
    assert sorted(code for _, code in found) == ["image-missing", "image-missing", "images-not-fetched"]
    assert sorted(where.rsplit("a.md:", 1)[-1] for where, code in found if code == "image-missing") == \
        ["23:1", "25:1"]                                     # at the `!` of each image
    assert stderr.count("[images-not-fetched]") == 1 and "1 web image(s) not fetched" in stderr


def test_rebuild_keeps_unchanged_images(content, tmp_path):
    posts, cache = content
    site = tmp_path / "site"
    run_cli("build", "html", posts, "--out", site, "--cache-dir", cache)
    before = {p.name: p.stat().st_ino for p in (site / "images").iterdir()}
    (posts / "a.md").write_text(POST.replace("第一段文字", "第一段新的文字"), encoding="utf-8")
    run_cli("build", "html", posts, "--out", site, "--cache-dir", cache)
    assert {p.name: p.stat().st_ino for p in (site / "images").iterdir()} == before


@pytest.mark.parametrize("math", ["mathml", "svg"])
def test_epub_lists_the_figures(content, tmp_path, math):
    posts, cache = content
    book = tmp_path / "book.epub"
    status, _out, stderr = run_cli("build", "epub", posts, "--math", math, "--out", book, "--cache-dir", cache)
    assert status == 0, stderr
    epubcheck(book)
    with zipfile.ZipFile(book) as z:
        opf = z.read("EPUB/content.opf").decode()
        chapter = next(z.read(n).decode() for n in z.namelist() if re.fullmatch(r"EPUB/text/ch\d+\.xhtml", n))
    types = [t for item, t in re.findall(r'(<item [^>]*href="media/[^"]+" media-type="(image/[^"]+)")', opf)
             if "cover-image" not in item]
    formulas = ["image/svg+xml"] if math == "svg" else []          # $x^2$ drawn as a file of its own
    assert sorted(types) == sorted(["image/png", "image/jpeg", "image/gif", "image/svg+xml", "image/png", *formulas])
    assert chapter.count('<figure class="figure">') == 4 and "<a class=\"figure-link\"" not in chapter
    assert 'loading="lazy"' not in chapter


@pytest.mark.weasyprint
def test_pdf_embeds_the_figures(content, tmp_path, monkeypatch):
    """Each raster figure once (the GIF as its first frame), and the same bytes from a second build
    in another cache and build folder (WeasyPrint names an image by its URL: data: URLs)."""
    if not shutil.which("pdfimages"):
        pytest.skip("needs poppler's pdfimages")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    posts, cache = content
    book, again = tmp_path / "book.pdf", tmp_path / "again.pdf"
    status, _out, stderr = run_cli("build", "pdf", posts, "--out", book, "--cache-dir", cache)
    assert status == 0, stderr
    put(tmp_path / "other-cache", STORED)
    run_cli("build", "pdf", posts, "--out", again, "--cache-dir", tmp_path / "other-cache")
    assert book.read_bytes() == again.read_bytes()
    listing = subprocess.run(["pdfimages", "-list", str(book)], capture_output=True, text=True, check=True).stdout
    rows = [line.split() for line in listing.splitlines()[2:]]
    assert sorted((int(r[3]), int(r[4])) for r in rows) == sorted([(400, 300), (320, 200), (120, 80), (800, 500)])


def test_corpus_post_with_its_figures(corpus, tmp_path):
    """7818 as scraped, its five figures put in the store: five figures, each caption once."""
    posts = tmp_path / "posts"
    posts.mkdir()
    shutil.copy(corpus / "7818.txt", posts / "7818.txt")
    text = (posts / "7818.txt").read_text(encoding="utf-8")
    urls = sorted(set(re.findall(r"\]\((https://kexue\.fm/usr/uploads/[^)\s]+\.png)", text)))
    assert len(urls) == 5
    cache = tmp_path / "cache"
    for n, url in enumerate(urls):
        put(cache, url, (600 + 10 * n, 300))
    status, _out, stderr = run_cli("build", "html", posts, "--out", tmp_path / "site", "--cache-dir", cache)
    assert status in (0, 1), stderr
    assert "[images-not-fetched]" not in stderr
    page = next((tmp_path / "site" / "posts").glob("*.html")).read_text(encoding="utf-8")
    assert page.count('<figure class="figure">') == 5
    captions = re.findall(r"<figcaption>\n(.*?)\n</figcaption>", page)
    assert len(captions) == 5
    for caption in captions:
        assert page.count(f"<p>{caption}</p>") == 0           # the repeated line is the caption, not a paragraph
    assert "image-placeholder" not in page


GLUED = """---
title: 粘在一起的图
id: "9003"
date: 2024-01-03
---

三者的对比如下：
[![第一张图](https://kexue.fm/usr/uploads/g/1.png)](https://kexue.fm/usr/uploads/g/1.png)
第一张图
[![第二张\\_图](https://kexue.fm/usr/uploads/g/2.png)](https://kexue.fm/usr/uploads/g/2.png)
第二张\\_图
之后的文字。

剩下的工作：\\
\\
[![第三张图](https://kexue.fm/usr/uploads/g/3.png)](https://kexue.fm/usr/uploads/g/3.png "点击查看原图")\\
\\
第三张图\\
\\
[![第四张图](https://kexue.fm/usr/uploads/g/4.png)](https://kexue.fm/usr/uploads/g/4.png)
"""


def test_figures_the_scrape_glued_to_the_text_are_figures(tmp_path):
    """As in the corpus's 7292 and 7343: no blank line around the figures (a soft or a hard line break),
    the caption on its line after: each is one figure with its caption, the text around kept."""
    posts = tmp_path / "posts"
    posts.mkdir()
    (posts / "g.md").write_text(GLUED, encoding="utf-8")
    cache = tmp_path / "cache"
    for n in range(1, 5):
        put(cache, f"https://kexue.fm/usr/uploads/g/{n}.png", (300 + n, 200))
    status, _out, stderr = run_cli("build", "html", posts, "--out", tmp_path / "site", "--cache-dir", cache)
    assert status == 0, stderr
    page = (tmp_path / "site" / "posts" / "9003.html").read_text(encoding="utf-8")
    assert page.count('<figure class="figure">') == 4 and "inline-image" not in page
    assert re.findall(r"<figcaption>\n(.*?)\n</figcaption>", page) == ["第一张图", "第二张_图", "第三张图", "第四张图"]
    for caption in ("第一张图", "第二张_图", "第三张图"):
        assert page.count(caption) == 2                  # the caption and the alt: no second line of it
    assert "<p>三者的对比如下：</p>" in page and "<p>之后的文字。</p>" in page and "<p>剩下的工作：</p>" in page
