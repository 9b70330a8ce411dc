"""The accessible PDF: tagged (PDF/UA-1 as WeasyPrint writes it) through the merge of its parts,
every formula a /Formula with its TeX as alt text and the same TeX in the text layer, and the
title page and metadata from the project file.

The sample is built once for the module (its parts cached); the structure tree is walked with
pikepdf, the text read with poppler's pdftotext."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pikepdf
import pytest
from kexue_anthology.formats.pdf.merge import PAGE_NUMBER_ARTIFACT
from kexue_anthology.formats.pdf.tags import elements

from tests.helpers import run_cli

pytestmark = [pytest.mark.engine, pytest.mark.pandoc, pytest.mark.weasyprint]

SAMPLE = Path(__file__).resolve().parent.parent / "pipeline" / "kexue_anthology" / "sample"
FOOTER = re.compile(re.escape(PAGE_NUMBER_ARTIFACT.encode()) + rb" q /AnthologyPageNumber\d+ Do Q EMC")


def needs_poppler() -> None:
    if not shutil.which("pdftotext") or not shutil.which("pdfinfo"):
        pytest.skip("needs poppler-utils (pdftotext, pdfinfo)")


def text_of(pdf: Path) -> str:
    return subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[Path, Path]:
    """The sample's book and the folder of its HTML (--keep-build)."""
    work = tmp_path_factory.mktemp("access")
    status, _, stderr = run_cli("build", "pdf", SAMPLE, "--out", work / "book.pdf", "--cache-dir", work / "cache",
                                "--keep-build", work / "build")
    assert status == 0, stderr
    return work / "book.pdf", work / "build"


def _kids(item: pikepdf.Object) -> list[pikepdf.Object]:
    kids = item.get("/K")
    return [] if kids is None else list(kids) if isinstance(kids, pikepdf.Array) else [kids]


def _contents(page: pikepdf.Page) -> bytes:
    contents = page.obj.get("/Contents")
    if contents is None:
        return b""
    return b"".join(s.read_bytes() for s in ([contents] if isinstance(contents, pikepdf.Stream) else contents))


def check_tagged(pdf_path: Path) -> dict[str, list[str]]:
    """Every marked content and link of every page resolves to an element of the one tree,
    holding it; returns the elements' alt texts by type."""
    with pikepdf.open(pdf_path) as pdf:
        root = pdf.Root.StructTreeRoot
        assert [str(kid.S) for kid in _kids(root)] == ["/Document"]
        tree = list(elements(root))
        reachable = {e.objgen for e in tree}
        pages = {page.obj.objgen for page in pdf.pages}
        assert all(e.Pg.objgen in pages for e in tree if "/Pg" in e)        # no element on a page of a part
        parents = pikepdf.NumberTree(root.ParentTree)
        marked = links = 0
        for n, page in enumerate(pdf.pages):
            mcids = [int(m) for m in re.findall(rb"/MCID\s+(\d+)", _contents(page))]
            assert len(mcids) == len(set(mcids)), f"page {n + 1}: an MCID used twice"
            if mcids:
                held = parents[int(page.obj.StructParents)]
                for mcid in mcids:
                    element = held[mcid]
                    assert isinstance(element, pikepdf.Dictionary) and element.objgen in reachable, \
                        f"page {n + 1}: MCID {mcid} in no element of the tree"
                    assert mcid in [int(k) for k in _kids(element) if isinstance(k, int)]
                marked += len(mcids)
            for annotation in page.obj.get("/Annots") or []:
                link = parents[int(annotation.StructParent)]
                assert link.S == "/Link" and link.objgen in reachable
                assert any(k.get("/Type") == "/OBJR" and k.Obj.objgen == annotation.objgen
                           for k in _kids(link) if isinstance(k, pikepdf.Dictionary))
                links += 1
        assert marked > 100 and links > 10
        assert str(pdf.Root.Lang) and pdf.Root.MarkInfo.Marked and pdf.Root.ViewerPreferences.DisplayDocTitle
        by_type: dict[str, list[pikepdf.Object]] = {}
        for e in tree:
            by_type.setdefault(str(e.S), []).append(e)
        figures = by_type.get("/Figure", [])
        assert all("/Alt" in f for f in figures)
        # each formula: a /Formula with the drawing's alt text, holding the drawing and the invisible TeX
        assert all(f.P.S == "/Formula" and str(f.P.Alt) == str(f.Alt) for f in figures)
        return {kind: [str(e.get("/Alt", "")) for e in found] for kind, found in by_type.items()}


def test_the_sample_book_is_tagged_with_an_alt_text_for_every_formula(sample):
    needs_poppler()
    pdf, build = sample
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Tagged:\s+yes$", info, re.M)
    tags = check_tagged(pdf)
    drawn = (build / "book.html").read_text(encoding="utf-8").count('class="math-img"')
    assert drawn > 50 and len(tags["/Formula"]) == len(tags["/Figure"]) == drawn
    assert r"\frac{d^n y}{dx^n}" in tags["/Formula"]                # the TeX as written
    assert {"/H1", "/H2", "/P", "/Link", "/Art"} <= tags.keys()
    with pikepdf.open(pdf) as book:
        assert str(book.Root.Lang) == "zh-Hans"
        meta = book.open_metadata()
        assert meta.get("pdfuaid:part") == "1"                    # PDF/UA-1, as WeasyPrint declares it
        numbered = [n for n, page in enumerate(book.pages) if b"/AnthologyPageNumber" in _contents(page)]
        assert numbered and all(FOOTER.search(_contents(book.pages[n])) for n in numbered)


def test_the_formulas_are_in_the_text_layer_and_stay_invisible(sample, tmp_path):
    needs_poppler()
    pdf, build = sample
    text = re.sub(r"\s+", "", text_of(pdf))
    assert "我们考虑方程x=f(y)" in text                               # in its place in the sentence
    assert r"求出y的n阶导数\frac{d^ny}{dx^n}" in text
    # the TeX over the drawings is no ink: a part typeset without it looks the same
    from kexue_anthology.formats.pdf.typeset import write_pdf
    part = max((p for p in build.glob("part-*.html")), key=lambda p: p.read_text(encoding="utf-8").count("math-tex"))
    html = part.read_text(encoding="utf-8")
    assert html.count('class="math-tex"') > 5
    bare = build / "bare.html"
    bare.write_text(re.sub(r'<span class="math-tex"[^>]*>[^<]*</span>', "", html), encoding="utf-8")
    pages = []
    for name, source in (("with", part), ("without", bare)):
        write_pdf(source, tmp_path / f"{name}.pdf", b"test")
        subprocess.run(["pdftoppm", "-r", "60", "-png", str(tmp_path / f"{name}.pdf"), str(tmp_path / name)], check=True)
        pages.append(sorted(tmp_path.glob(f"{name}-*.png")))
    assert len(pages[0]) == len(pages[1]) > 0
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(*pages, strict=True))
    assert text_of(tmp_path / "with.pdf").count("\\") > text_of(tmp_path / "without.pdf").count("\\")


def test_volumes_are_tagged_alike(sample, tmp_path):
    pdf, _ = sample
    out = tmp_path / "book.pdf"
    status, _, stderr = run_cli("build", "pdf", SAMPLE, "--out", out, "--cache-dir", pdf.parent / "cache",
                                "--volumes", "2")
    assert status == 0, stderr
    formulas = [len(check_tagged(tmp_path / f"book-{n}.pdf").get("/Formula", [])) for n in (1, 2)]
    assert all(formulas) and sum(formulas) == len(check_tagged(pdf)["/Formula"])


def test_a_rebuild_from_the_cache_is_byte_identical(sample, tmp_path):
    pdf, _ = sample
    again = tmp_path / "again.pdf"
    status, _, stderr = run_cli("build", "pdf", SAMPLE, "--out", again, "--cache-dir", pdf.parent / "cache")
    assert status == 0, stderr
    assert again.read_bytes() == pdf.read_bytes()


PROJECT = """[book]
title = "测试文集"
subtitle = "副标题在此"
author = "张三"
language = "zh-Hans"
source_name = "测试站"
source_url = "https://example.org"
licence = "本书采用 CC BY 4.0 许可"
"""


def test_the_project_file_makes_the_title_page_and_metadata(tmp_path):
    needs_poppler()
    content = tmp_path / "content"
    content.mkdir()
    for post in sorted(SAMPLE.glob("*.txt"))[:2]:
        shutil.copy(post, content)
    (content / "anthology.toml").write_text(PROJECT, encoding="utf-8")
    out = tmp_path / "book.pdf"
    status, _, stderr = run_cli("build", "pdf", content, "--out", out, "--cache-dir", tmp_path / "cache")
    assert status == 0, stderr
    title_page = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(out), "-"], capture_output=True, text=True,
                                check=True).stdout
    for line in ("测试文集", "副标题在此", "张三", "测试站 · example.org", "本书采用 CC BY 4.0 许可"):
        assert line in title_page
    assert "苏剑林" not in title_page and "科学空间" not in title_page and "kexue.fm" not in title_page
    with pikepdf.open(out) as pdf:
        assert str(pdf.docinfo.Title) == "测试文集" and str(pdf.docinfo.Author) == "张三"
        meta = pdf.open_metadata()
        assert meta.get("dc:title") == "测试文集" and list(meta.get("dc:creator")) == ["张三"]
    check_tagged(out)


def test_the_formulas_of_7006_are_in_its_text(corpus, tmp_path):
    """The issue's example: 「假设目前 的频数为，总频数为」 (post 5476) before, its formulas now;
    and two of 7006's (最小熵原理（五）)."""
    needs_poppler()
    out = tmp_path / "book.pdf"
    status, _, stderr = run_cli("build", "pdf", corpus / "5476.txt", corpus / "7006.txt", "--out", out,
                                "--cache-dir", tmp_path / "cache")
    assert status == 0, stderr
    text = re.sub(r"\s+", "", text_of(out))              # a display formula's TeX wraps at its spaces
    assert "假设目前i的频数为N_i，总频数为N" in text
    assert r"\begin{equation}H(P)=-\sum_{i=1}^np_i\log_2p_i\end{equation}" in text
    assert r"\frac{q_{i\curvearrowright}}{q_{\curvearrowright}}" in text   # no letter lost to poppler's duplicate test
    check_tagged(out)
