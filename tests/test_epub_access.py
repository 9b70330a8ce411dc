"""The accessible EPUB: EPUB Accessibility 1.1 metadata true of the book in each math mode, alt
text on every image and formula, the title page and contents, and every book-level word taken
from the project (kexue_anthology.config.project) — each book through epubcheck."""

from __future__ import annotations

import io
import re
import shutil
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest
from kexue_anthology.config.project import Project
from kexue_anthology.config.settings import Settings
from kexue_anthology.core.errors import SetupError
from kexue_anthology.formats.epub.emitter import EMITTER
from kexue_anthology.stages import BuildRequest, Run, run_stages
from PIL import Image

from tests.helpers import epubcheck, run_cli

pytestmark = [pytest.mark.engine, pytest.mark.pandoc]

PLAIN = """---
title: 勾股定理
id: 'a1'
date: 2020-01-01
---
行内公式 $E=mc^2$ 与显示公式

$$\\begin{equation}a^2+b^2=c^2\\label{eq:p}\\end{equation}$$

由 $\\eqref{eq:p}$ 可知。
"""

# a formula with a link inside is drawn as SVG even in MathML mode (formulas/mathhtml.py); an
# image of the blog is not fetched: a placeholder with its caption stands in its place
LINKED = PLAIN.replace("id: 'a1'", "id: 'a2'").replace("title: 勾股定理", "title: 图与链接") + """
于是 $y=\\eqref{eq:p}+1$，如图 ![损失曲线随步数下降](https://example.org/loss.png) 所示。
"""


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> Path:
    """The formulas' verdicts and drawings, shared by the tests here (each book has its own
    cache of EPUB parts): the same few formulas are checked and drawn once."""
    return tmp_path_factory.mktemp("engine-cache")


def build(posts: list[Path], out: Path, cache: Path, engine: Path, math: str = "mathml", title: str = "科学空间文集",
          project: Project | None = None) -> dict[str, str]:
    """The EPUB built in-process with these options (the project as the command line will give
    it), checked by epubcheck: its files' text.  `cache` holds the book's parts, `engine` the
    formulas' verdicts and drawings."""
    run = Run(paths=[str(p) for p in posts],
              settings=Settings(title=title, math=math, cache_dir=cache, project=project or Project()))
    run.engine.cache_dir = engine
    run.build = BuildRequest(EMITTER, out)
    run_stages(run, "emit")
    epubcheck(out)
    with zipfile.ZipFile(out) as z:
        return {n: z.read(n).decode("utf-8", "replace") for n in z.namelist()}


def post(tmp_path: Path, text: str, name: str = "p.md") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def properties(opf: str, name: str) -> list[str]:
    return re.findall(rf'<meta property="schema:{name}">([^<]*)</meta>', opf)


def cover(files: dict[str, str], book: Path) -> tuple[str, bytes]:
    """The cover image's media type and bytes, as the package document names it."""
    item = re.search(r'<item [^>]*properties="cover-image"[^>]*>', files["EPUB/content.opf"]).group(0)
    href = re.search(r'href="([^"]+)"', item).group(1)
    with zipfile.ZipFile(book) as z:
        return re.search(r'media-type="([^"]+)"', item).group(1), z.read("EPUB/" + href)


def without_alt(files: dict[str, str]) -> list[str]:
    """Every image and formula of the book's XHTML files with no text alternative: an <img>
    without alt, a <math> without alttext, an outermost <svg> without a label (and with a role
    other than img), a link with no text and no name, an image placeholder without its caption."""
    found = []
    for name, text in files.items():
        if not name.endswith(".xhtml"):
            continue
        root = ElementTree.fromstring(text.encode("utf-8"))
        parents = {child: parent for parent in root.iter() for child in parent}
        for el in root.iter():
            tag = el.tag.split("}")[-1]
            where = f"{name}: {ElementTree.tostring(el, encoding='unicode')[:120]}"
            if tag == "img" and not el.get("alt", "").strip():
                found.append(where)
            elif tag == "math" and not el.get("alttext", "").strip():
                found.append(where)
            elif tag == "svg" and not parents.get(el, root).tag.endswith("}svg"):
                titles = [t for t in el if t.tag.endswith("}title") and (t.text or "").strip()]
                if el.get("role", "img") != "img" or not (el.get("aria-label", "").strip() or titles):
                    found.append(where)
            elif tag == "a" and not "".join(el.itertext()).strip() \
                    and not (el.get("aria-label", "").strip() or el.get("title", "").strip()):
                found.append(where)              # a link over or inside a drawing: named
            elif "image-placeholder" in el.get("class", "").split():
                caption = [c for c in el.iter() if "image-caption" in c.get("class", "").split()]
                if not caption or not "".join(caption[0].itertext()).strip():
                    found.append(where)
    return found


@pytest.mark.parametrize("math", ["mathml", "svg"])
def test_the_accessibility_metadata_is_true_of_the_book(engine, tmp_path, math):
    files = build([post(tmp_path, PLAIN)], tmp_path / "a.epub", tmp_path / "cache", engine, math)
    opf = files["EPUB/content.opf"]
    features = properties(opf, "accessibilityFeature")
    assert {"tableOfContents", "readingOrder", "structuralNavigation", "alternativeText", "describedMath"} <= set(features)
    assert properties(opf, "accessibilityHazard") == ["none"]
    assert "textual" in properties(opf, "accessModeSufficient")
    [summary] = properties(opf, "accessibilitySummary")
    if math == "mathml":           # no drawing: text alone
        assert properties(opf, "accessMode") == ["textual"] and "MathML" in features
        assert "MathML" in summary and "SVG" not in summary
    else:                          # the formulas are pictures, each with its TeX as alt text
        assert properties(opf, "accessMode") == ["textual", "visual", "mathOnVisual"]
        assert "MathML" not in features and "MathML" not in summary
        assert properties(opf, "accessModeSufficient") == ["textual", "textual,visual"]
        assert "SVG 图片" in summary
    assert "图片未收录" not in summary            # this book has none
    assert not re.search(r"conformsTo|certifiedBy", opf)    # no conformance is claimed (README)
    assert without_alt(files) == []


@pytest.mark.parametrize("math", ["mathml", "svg"])
def test_every_image_and_formula_has_a_text_alternative(engine, tmp_path, math):
    files = build([post(tmp_path, LINKED)], tmp_path / "b.epub", tmp_path / "cache", engine, math)
    chapter = next(t for n, t in files.items() if n.startswith("EPUB/text/ch"))
    assert ("<math" in chapter) == (math == "mathml")
    assert "<svg" in chapter or 'class="math-img"' in chapter        # the linked formula is drawn
    assert "损失曲线随步数下降" in chapter
    assert without_alt(files) == []
    alts = re.findall(r'\s(?:alttext|alt|aria-label)="([^"]*)"', chapter)
    assert any("a^2+b^2=c^2" in a for a in alts) and any("E=mc^2" in a for a in alts)     # the TeX itself
    assert re.search(r'<svg [^>]*role="img" aria-label="封面：科学空间文集，苏剑林"', files["EPUB/text/cover.xhtml"])
    opf = files["EPUB/content.opf"]
    assert "visual" in properties(opf, "accessMode")                # a drawing remains in both modes
    [summary] = properties(opf, "accessibilitySummary")
    assert "原文的图片未收录，以其图注和地址代替" in summary
    # the walk finds what it looks for
    broken = {"EPUB/text/x.xhtml": chapter.replace('alttext="', 'data-x="').replace(' alt="', ' data-y="')
              .replace('aria-label="', 'data-z="').replace(' title="', ' data-t="')}
    assert without_alt(broken)
    if math == "mathml":           # the linked formula's SVG: no `img` holding links, each link named
        svg = re.search(r"<svg [^>]*>", chapter).group(0)
        assert "aria-label=" in svg and 'role="img"' not in svg
        assert re.search(r'<a class="mjx-svg-href"[^>]* aria-label="公式 \(1\)"', chapter)   # what it shows


def test_a_chapter_from_the_cache_says_the_same(engine, tmp_path):
    """A chapter taken from the cache is seen by pandoc as a placeholder: what the metadata says
    of it (its MathML, drawings and images) must not change, nor the book's bytes."""
    source = post(tmp_path, LINKED)
    first = tmp_path / "first.epub"
    build([source], first, tmp_path / "cache", engine)
    shutil.rmtree(tmp_path / "cache" / "epub-books")            # the chapters stay cached
    again = tmp_path / "again.epub"
    build([source], again, tmp_path / "cache", engine)
    assert first.read_bytes() == again.read_bytes()


def test_the_title_page_and_the_contents(engine, tmp_path):
    files = build([post(tmp_path, PLAIN), post(tmp_path, LINKED, "q.md")], tmp_path / "c.epub", tmp_path / "cache", engine)
    page = files["EPUB/text/title_page.xhtml"]
    section = re.search(r'<section epub:type="titlepage" class="title-page"[^>]*>(.*?)</section>', page, re.S).group(1)
    shown = [(c, t) for c, t in re.findall(r'class="(book-[a-z]+)">([^<]*)<', section)]
    assert shown == [("book-title", "科学空间文集"), ("book-author", "苏剑林"), ("book-source", "科学空间 · kexue.fm"),
                     ("book-date", "2 篇文章 · 2020"), ("book-licence", "文章版权归原作者所有（科学空间 kexue.fm）")]
    nav = files["EPUB/nav.xhtml"]
    assert re.search(r'<nav epub:type="toc"[^>]*><h1 id="toc-title">目录</h1>', nav)
    landmarks = re.search(r'<nav epub:type="landmarks".*?</nav>', nav, re.S).group(0)
    assert re.findall(r'epub:type="(\w+)">([^<]+)<', landmarks) == [
        ("cover", "封面"), ("titlepage", "扉页"), ("toc", "目录"), ("bodymatter", "正文")]
    assert 'href="text/ch001.xhtml" epub:type="bodymatter"' in landmarks and "EPUB/text/ch001.xhtml" in files
    assert '<reference type="cover" title="封面" href="text/cover.xhtml" />' in files["EPUB/content.opf"]
    css = files["EPUB/styles/stylesheet1.css"]
    assert ".title-page" in css and "nav#toc" in css


def test_every_word_of_the_book_is_the_projects(engine, tmp_path):
    """A project of another site: its words in the metadata, on the title page and the cover,
    and none of 科学空间's left anywhere in the book."""
    source = post(tmp_path, PLAIN)
    plain = tmp_path / "plain.epub"
    before = build([source], plain, tmp_path / "cache", engine)
    project = Project(title="测试文集", subtitle="一个副标题", author="张三", language="zh-Hans", source_name="测试站",
                      source_url="https://example.org/", licence="CC BY 4.0 张三")
    book = tmp_path / "test.epub"
    files = build([source], book, tmp_path / "cache", engine, title="测试文集", project=project)
    opf = files["EPUB/content.opf"]
    assert re.search(r'<dc:title id="([^"]+)">测试文集</dc:title>', opf)
    subtitle = re.search(r'<dc:title id="([^"]+)">一个副标题</dc:title>', opf).group(1)
    assert re.search(rf'<meta refines="#{subtitle}" property="title-type">subtitle</meta>', opf)
    assert re.search(r"<dc:creator[^>]*>张三</dc:creator>", opf)
    assert "<dc:rights>CC BY 4.0 张三</dc:rights>" in opf
    assert "<dc:description>1 篇文章，选自测试站（example.org）</dc:description>" in opf
    page = files["EPUB/text/title_page.xhtml"]
    for shown in ("测试文集", "一个副标题", "张三", "测试站 · example.org", "1 篇文章 · 2020", "CC BY 4.0 张三"):
        assert f">{shown}</" in page, shown
    assert 'aria-label="封面：测试文集，一个副标题，张三"' in files["EPUB/text/cover.xhtml"]
    assert cover(files, book)[1] != cover(before, plain)[1]
    left = [(n, w) for n, t in files.items() for w in ("苏剑林", "科学空间", "kexue.fm") if w in t]
    assert left == []


@pytest.mark.parametrize("kind", ["PNG", "JPEG"])
def test_the_projects_cover_image(engine, tmp_path, kind):
    image = tmp_path / f"cover.{kind.lower()}"
    data = io.BytesIO()
    Image.new("RGB", (600, 900), (20, 90, 160)).save(data, format=kind)
    image.write_bytes(data.getvalue())
    book = tmp_path / "d.epub"
    files = build([post(tmp_path, PLAIN)], book, tmp_path / "cache", engine, project=Project(cover=image))
    media, got = cover(files, book)
    assert got == image.read_bytes() and media == f"image/{kind.lower()}"
    assert 'viewBox="0 0 600 900"' in files["EPUB/text/cover.xhtml"]


@pytest.mark.parametrize("given, complaint", [
    ("gif", "is GIF, not PNG or JPEG"), ("text", "not a PNG or JPEG image"), ("nothing", "does not exist")])
def test_a_cover_that_is_no_png_or_jpeg_stops_the_build(engine, tmp_path, given, complaint):
    image = tmp_path / "cover.png"
    if given == "gif":
        Image.new("RGB", (60, 90)).save(image, format="GIF")
    elif given == "text":
        image.write_text("not an image at all", encoding="utf-8")
    with pytest.raises(SetupError, match=re.escape(complaint)) as e:
        build([post(tmp_path, PLAIN)], tmp_path / "e.epub", tmp_path / "cache", engine, project=Project(cover=image))
    assert str(image) in str(e.value)
    assert not (tmp_path / "e.epub").exists()


def test_a_content_folder_with_its_project_file(engine, tmp_path):
    """`build epub` on a folder holding anthology.toml: its title and author are the book's."""
    folder = tmp_path / "posts"
    folder.mkdir()
    post(folder, PLAIN)
    (folder / "anthology.toml").write_text('[book]\ntitle = "测试文集"\nauthor = "张三"\n', encoding="utf-8")
    book = tmp_path / "f.epub"
    status, _, err = run_cli("build", "epub", folder, "--out", book, "--cache-dir", engine)   # epubcheck'd
    assert status == 0, err
    with zipfile.ZipFile(book) as z:
        opf, page = z.read("EPUB/content.opf").decode(), z.read("EPUB/text/title_page.xhtml").decode()
    assert re.search(r"<dc:title[^>]*>测试文集</dc:title>", opf) and re.search(r"<dc:creator[^>]*>张三</dc:creator>", opf)
    assert '<h1 class="book-title">测试文集</h1>' in page and '<p class="book-author">张三</p>' in page
