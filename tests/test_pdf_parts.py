"""The book typeset in parts: the same book as one document, cached parts, what a part depends on.

The fast tests check the plan (where parts end, what an edit or a new post changes), the page
layout (blank pages before series), links across parts and the fonts' glyph lists; the slow
ones build the bundled sample with `--jobs 2` and compare it with WeasyPrint typesetting the
whole book as one document, page by page, link by link, bookmark by bookmark."""

from __future__ import annotations

import dataclasses
import io
import shutil
import subprocess
from pathlib import Path

import pikepdf
import pytest
from kexue_anthology.collection.collection import Collection, Series
from kexue_anthology.core.model import Post
from kexue_anthology.core.sourcetext import Position, SourceFile
from kexue_anthology.formats.pdf import parts as pdf_parts
from kexue_anthology.formats.pdf.fonts import STUB, _glyphs
from kexue_anthology.formats.pdf.merge import CROSS_PART, page_layout

from tests.helpers import run_cli

SAMPLE = Path(__file__).resolve().parent.parent / "pipeline" / "kexue_anthology" / "sample"


def post(n: int, series: str | None = None) -> Post:
    return Post(id=str(1000 + n), title=f"第{n}篇", date=f"2020-01-{n % 28 + 1:02d}", readers=None,
                body=SourceFile("x.md", "正文").slice(0, 2), body_format="markdown", form="markdown",
                position=Position("x.md", 1, 1), series=series, part=None)


def collection(posts: list[Post], series: list[Series] | None = None) -> Collection:
    return Collection("书", posts, series or [], {}, {})


def boundaries(parts: list[pdf_parts.Part]) -> list[list[str]]:
    return [[p.id for p in part.posts] for part in parts]


def test_parts_are_runs_of_at_most_max_run_posts_that_start_series_on_their_part_page():
    loose = [post(n) for n in range(40)]
    series = [post(100 + n, "甲") for n in range(10)]
    book = collection(series + loose, [Series("甲", series)])
    parts = pdf_parts.plan(book)
    assert [p.id for part in parts for p in part.posts] == [p.id for p in series] + [p.id for p in loose]
    assert all(1 <= len(part.posts) <= pdf_parts.MAX_RUN for part in parts)
    assert len(parts) > 50 / pdf_parts.MAX_RUN
    assert [part.starts_right for part in parts].count(True) == 2           # 甲 and 其他文章 open on their page
    assert parts[0].starts_right and not parts[0].nested
    assert all(part.nested for part in parts if not part.starts_right)


def test_an_edit_changes_no_boundary_and_a_new_post_only_those_around_it():
    posts = [post(n) for n in range(60)]
    before = boundaries(pdf_parts.plan(collection(posts)))
    edited = [dataclasses.replace(p, title="改过的标题") if n == 30 else p for n, p in enumerate(posts)]
    assert boundaries(pdf_parts.plan(collection(edited))) == before
    added = boundaries(pdf_parts.plan(collection([*posts[:30], post(999), *posts[30:]])))
    changed = [run for run in added if run not in before]
    assert len(changed) <= 2 and any("1999" in run for run in changed)


def test_a_series_part_page_falls_on_a_right_hand_page():
    starts, blanks = page_layout([3, 5, 2, 4], [False, True, True, False])
    assert starts == [0, 4, 10, 12] and blanks == [3, 9]      # pages 4 and 10 (1-based) are left blank
    assert page_layout([2, 1], [False, True]) == ([0, 2], [])


def test_links_to_anchors_outside_a_part_go_out_by_name():
    text = ('<a href="#post-1">a</a><h2 id="post-1">t</h2><a href="#eq-%E4%B8%80">b</a>'
            '<a href="#post-2">c</a><a href="https://kexue.fm/">d</a><span id="eq-一"></span>')
    out = pdf_parts.cross_part_links(text)
    assert out.count(f'href="{CROSS_PART}') == 1 and f'href="{CROSS_PART}post-2"' in out
    assert 'href="#post-1"' in out and 'href="#eq-%E4%B8%80"' in out and 'href="https://kexue.fm/"' in out


def test_the_glyphs_a_font_lists():
    assert list(_glyphs(pikepdf.Array([3, [500, 600], 10, 12, 1000]))) == [3, 4, 10, 11, 12]


# ---- the sample, typeset in parts and as one document --------------------------------------------

def page_texts(pdf: Path) -> list[str]:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout.split("\f")[:-1]


def structure(path: Path) -> dict[str, object]:
    """Each link as (page, target page, target height), the outline as (depth, title, page),
    and the page labels."""
    with pikepdf.open(path) as pdf:
        index = {page.obj.objgen: n for n, page in enumerate(pdf.pages)}
        names = {str(k): (index[v[0].objgen], round(float(v[3])))
                 for k, v in pikepdf.NameTree(pdf.Root.Names.Dests).items()}
        links = []
        for n, page in enumerate(pdf.pages):
            for annot in page.obj.get("/Annots", []):
                if "/Dest" in annot:
                    links.append((n, names.get(str(annot.Dest))))
                elif annot.A.S == pikepdf.Name.URI:
                    links.append((n, str(annot.A.URI)))
                else:                                                # another volume
                    links.append((n, (str(annot.A.F.UF), int(annot.A.D[0]))))
        outline: list[tuple[int, str, int]] = []

        def walk(items, depth):
            for item in items:
                outline.append((depth, item.title, index[item.destination[0].objgen]))
                walk(item.children, depth + 1)
        with pdf.open_outline() as tree:
            walk(tree.root, 1)
        return {"links": links, "outline": outline, "labels": "/PageLabels" in pdf.Root,
                "title": str(pdf.docinfo.get("/Title")), "author": str(pdf.docinfo.get("/Author")),
                "lang": str(pdf.Root.get("/Lang"))}


def fonts(pdf: Path) -> list[str]:
    rows = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    return [row.split()[0].split("+")[-1] for row in rows.splitlines()[2:]]


@pytest.fixture(scope="module")
def sample_books(tmp_path_factory):
    if not shutil.which("pdftotext") or not shutil.which("pdffonts"):
        pytest.skip("needs poppler-utils (pdftotext, pdffonts)")
    from kexue_anthology.formats.pdf.typeset import write_pdf
    work = tmp_path_factory.mktemp("parts")
    status, _, err = run_cli("build", "pdf", "--jobs", "2", "--out", work / "parts.pdf", "--cache-dir",
                             work / "cache", "--keep-build", work / "build")
    assert status == 0, err
    write_pdf(work / "build" / "book.html", work / "one.pdf", b"one")
    return work




@pytest.mark.engine
@pytest.mark.pandoc
@pytest.mark.weasyprint
def test_the_book_in_parts_is_the_book_in_one_piece(sample_books):
    parts, one = sample_books / "parts.pdf", sample_books / "one.pdf"
    assert page_texts(parts) == page_texts(one)                   # the same text on every page, numbers included
    merged, whole = structure(parts), structure(one)
    assert merged["links"] == whole["links"]                      # every link lands where it does in one piece
    assert all(target is not None for _, target in merged["links"])
    assert sum(1 for _, t in merged["links"] if isinstance(t, tuple)) > 100
    assert merged["outline"] == whole["outline"]                   # series → posts, pages and depths
    assert max(depth for depth, _, _ in merged["outline"]) == 2
    assert merged["labels"] and merged["title"] == whole["title"] and merged["author"] == "苏剑林"
    assert merged["lang"] == "zh-Hans"
    listed = fonts(parts)
    assert len(listed) == len(set(listed)), listed                  # each font once, not once per part
    assert parts.stat().st_size <= 1.5 * one.stat().st_size


def font_programs(path: Path) -> list[bytes]:
    with pikepdf.open(path) as pdf:
        return [o[slot].read_bytes() for o in pdf.objects if isinstance(o, pikepdf.Dictionary)
                for slot in ("/FontFile2", "/FontFile3") if slot in o]


@pytest.mark.engine
@pytest.mark.pandoc
@pytest.mark.weasyprint
def test_parts_embed_stubs_that_the_book_replaces_by_one_subset_per_face(sample_books):
    from fontTools.ttLib import TTFont
    cached = sorted((sample_books / "cache" / "pdf-parts").rglob("*.pdf"))
    stubs = [data for part in cached for data in font_programs(part) if data[4:4 + len(STUB)] == STUB]
    assert len(stubs) >= len(cached)                                # each part names its faces, subsets none
    assert all(len(data) < 200 for data in stubs)
    book = font_programs(sample_books / "parts.pdf")
    assert book and not any(STUB in data for data in book)
    for data in book:                                               # real fonts, each with its glyphs
        assert TTFont(io.BytesIO(data))["maxp"].numGlyphs > 1


@pytest.mark.engine
@pytest.mark.pandoc
@pytest.mark.weasyprint
def test_an_edit_typesets_one_part_again_and_gives_the_book_built_from_scratch(sample_books, tmp_path):
    content = tmp_path / "content"
    shutil.copytree(SAMPLE, content)
    cache = tmp_path / "cache"
    shutil.copytree(sample_books / "cache", cache)                # the sample typeset already
    typeset = cache / "pdf-parts"
    before = set(typeset.rglob("*.pdf"))
    status, _, err = run_cli("build", "pdf", content, "--jobs", "2", "--out", tmp_path / "same.pdf",
                             "--cache-dir", cache)
    assert status == 0, err
    assert set(typeset.rglob("*.pdf")) == before                   # nothing typeset again
    edited = sorted(content.glob("*.txt"))[len(list(content.glob("*.txt"))) // 2]
    edited.write_text(edited.read_text(encoding="utf-8") + "\n\n新加的一段，带一个公式 $x^2$。\n", encoding="utf-8")
    status, _, err = run_cli("build", "pdf", content, "--jobs", "2", "--out", tmp_path / "edited.pdf",
                             "--cache-dir", cache)
    assert status == 0, err
    new = set(typeset.rglob("*.pdf")) - before
    assert 1 <= len(new) <= 3, new                                 # its part, and the contents if a number moved
    status, _, err = run_cli("build", "pdf", content, "--jobs", "1", "--out", tmp_path / "scratch.pdf",
                             "--cache-dir", tmp_path / "fresh")
    assert status == 0, err
    assert (tmp_path / "edited.pdf").read_bytes() == (tmp_path / "scratch.pdf").read_bytes()


@pytest.mark.engine
@pytest.mark.pandoc
@pytest.mark.weasyprint
def test_volumes_are_books_of_their_own_that_link_to_each_other(sample_books, tmp_path):
    cache = tmp_path / "cache"
    shutil.copytree(sample_books / "cache", cache)
    status, out, err = run_cli("build", "pdf", "--volumes", "2", "--out", tmp_path / "book.pdf", "--cache-dir", cache)
    assert status == 0, err
    volumes = [tmp_path / "book-1.pdf", tmp_path / "book-2.pdf"]
    assert all(v.is_file() for v in volumes) and not (tmp_path / "book.pdf").exists()
    assert "book-1.pdf" in out and "book-2.pdf" in out
    texts, places = [], []
    for n, volume in enumerate(volumes, 1):
        pages = page_texts(volume)
        texts.append(pages)
        assert f"第 {n} 卷（共 2 卷）" in pages[0]
        assert pages[2].split()[-1] == "3"                        # numbered from 1 in each volume
        with pikepdf.open(volume) as pdf:
            index = {page.obj.objgen: i for i, page in enumerate(pdf.pages)}
            places.append({(index[v[0].objgen], round(float(v[3])))
                           for v in pikepdf.NameTree(pdf.Root.Names.Dests).values()})
    def posts(path: Path) -> list[str]:
        return [title for depth, title, _ in structure(path)["outline"] if title != "目录" and
                not any(title == name for d, name, _ in structure(sample_books / "one.pdf")["outline"] if d == 1)]
    first, second = posts(volumes[0]), posts(volumes[1])
    assert first and second and not set(first) & set(second)      # every post in one volume, in order
    assert first + second == posts(sample_books / "one.pdf")
    remote = 0
    for n, volume in enumerate(volumes, 1):
        with pikepdf.open(volume) as pdf:
            for page in pdf.pages:
                for annot in page.obj.get("/Annots", []):
                    action = annot.get("/A")
                    if action is not None and action.S == pikepdf.Name.GoToR:
                        other = volumes.index(tmp_path / str(action.F.UF)) + 1
                        assert other != n
                        assert (int(action.D[0]), round(float(action.D[3]))) in places[other - 1]
                        remote += 1
    assert remote > 0                                              # posts of one volume cite posts of the other



@pytest.mark.engine
@pytest.mark.pandoc
@pytest.mark.weasyprint
def test_parts_halved_for_two_workers_still_make_the_book_in_one_piece(sample_books, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    shutil.copytree(sample_books / "cache", cache)                 # the sample typeset already: only halves are new
    before = set((cache / "pdf-parts").rglob("*.pdf"))
    monkeypatch.setattr(pdf_parts, "SPLIT_COST", 40_000)           # the longer parts of the sample halved
    status, _, err = run_cli("build", "pdf", "--jobs", "2", "--out", tmp_path / "halved.pdf", "--cache-dir", cache)
    assert status == 0, err
    assert len(set((cache / "pdf-parts").rglob("*.pdf")) - before) >= 2
    halved, one = tmp_path / "halved.pdf", sample_books / "one.pdf"
    assert page_texts(halved) == page_texts(one)
    merged, whole = structure(halved), structure(one)
    assert merged["links"] == whole["links"] and merged["outline"] == whole["outline"]
