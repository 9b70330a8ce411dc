"""Incremental site and EPUB builds: a rebuild takes each post's converted text from the cache
and writes only what changed, and what it leaves is what a build from scratch writes."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
from kexue_anthology.config.settings import Settings
from kexue_anthology.documents.lazy import Documents
from kexue_anthology.formats import EMITTERS
from kexue_anthology.stages import BuildRequest, Run, run_stages

from tests.conftest import DATA, SEEDS
from tests.helpers import run_cli

pytestmark = [pytest.mark.engine, pytest.mark.pandoc]

SAMPLES = ("000_27ec21b6173187ce.txt", "001_1152e35417b002c3.txt", "003_06397c2c2041babb.txt")


@pytest.fixture
def posts(tmp_path) -> Path:
    """A small collection of real posts: three of the sample, and two that link to each other."""
    folder = tmp_path / "posts"
    folder.mkdir()
    for name in SAMPLES:
        shutil.copy(SEEDS / name, folder / name)
    for name in ("901.md", "902.md"):
        shutil.copy(DATA / "links" / name, folder / name)
    return folder


def build(kind: str, posts: Path, out: Path, cache: Path, *extra: str) -> None:
    status, _, err = run_cli("build", kind, str(posts), "--out", str(out), "--cache-dir", str(cache), *extra)
    assert status in (0, 1) and "Traceback" not in err, err


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def members(book: Path) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(book) as z:
        return [(info.filename, z.read(info)) for info in z.infolist()]


def stamps(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(folder).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file()}


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def edit_a_post(posts: Path) -> None:
    """One post's text changed in a sentence (its id and formulas stay)."""
    edit(posts / "901.md", "抓取损坏的文字", "改过的一句话。抓取损坏的文字")


def test_a_site_rebuilt_writes_only_what_changed_and_equals_a_build_from_scratch(posts, tmp_path):
    site, cache = tmp_path / "site", tmp_path / "cache"
    build("html", posts, site, cache)
    before = stamps(site)
    build("html", posts, site, cache)
    assert stamps(site) == before                    # nothing changed: no file rewritten
    edit_a_post(posts)
    build("html", posts, site, cache)
    after = stamps(site)
    changed = {name for name in before if after.get(name) != before[name]}
    # the edited post's page (and what indexes its text, such as a search index), no other page
    assert "posts/901.html" in changed and not {name for name in changed if name.endswith(".html")} - {"posts/901.html"}
    build("html", posts, tmp_path / "fresh", tmp_path / "fresh-cache")
    assert tree(site) == tree(tmp_path / "fresh")


def test_a_site_loses_the_pages_of_posts_it_no_longer_has(posts, tmp_path):
    site, cache = tmp_path / "site", tmp_path / "cache"
    build("html", posts, site, cache)
    (posts / SAMPLES[0]).unlink()
    build("html", posts, site, cache)
    build("html", posts, tmp_path / "fresh", tmp_path / "fresh-cache")
    assert tree(site) == tree(tmp_path / "fresh")


@pytest.mark.parametrize("math", ["mathml", "svg"])
def test_an_epub_rebuilt_equals_a_build_from_scratch(posts, tmp_path, math):
    book, cache = tmp_path / "book.epub", tmp_path / "cache"
    build("epub", posts, book, cache, "--math", math)
    written = book.stat().st_mtime_ns, book.stat().st_ino
    build("epub", posts, book, cache, "--math", math)
    assert (book.stat().st_mtime_ns, book.stat().st_ino) == written     # the same book: not written again
    edit_a_post(posts)
    build("epub", posts, book, cache, "--math", math)      # run_cli has epubcheck read every book written
    fresh = tmp_path / "fresh.epub"
    build("epub", posts, fresh, tmp_path / "fresh-cache", "--math", math)
    assert members(book) == members(fresh)
    assert book.read_bytes() == fresh.read_bytes()


@pytest.mark.parametrize("math", ["mathml", "svg"])
def test_an_epub_whose_chapters_are_converted_in_batches_equals_one_converted_whole(posts, tmp_path, monkeypatch,
                                                                                   math):
    """The first build converts the chapters ahead in batches side by side (formats/epub/batches.py),
    each with the others as stand-ins; the book is the one a single pandoc run over it writes,
    links between posts of different batches and the media pandoc names by their order in the
    whole book (drawings of `--math svg`, figures) included."""
    from kexue_anthology.formats.epub import batches

    monkeypatch.setattr(batches, "_SMALLEST", 10**6)        # no batches: one pandoc for the whole book
    whole = tmp_path / "whole.epub"
    build("epub", posts, whole, tmp_path / "cache", "--math", math)
    made: list[list[str]] = []
    ahead = batches.ahead

    def planned(*args: Any) -> list[list[Any]]:
        found = ahead(*args)
        made.append([post.id for batch in found for post in batch])
        return found

    monkeypatch.setattr(batches, "_SMALLEST", 2)
    monkeypatch.setattr(batches, "ahead", planned)
    for kept in ("epub-chapters", "epub-books", "epub-media"):         # the formulas' verdicts and drawings stay cached
        shutil.rmtree(tmp_path / "cache" / kept, ignore_errors=True)
    book = tmp_path / "batched.epub"
    build("epub", posts, book, tmp_path / "cache", "--jobs", "2", "--math", math)
    assert made and {"901", "902"} <= set(made[0])      # the two that link to each other converted ahead
    assert book.read_bytes() == whole.read_bytes()


def test_a_cached_text_is_not_taken_when_what_it_links_to_changes(posts, tmp_path):
    site, cache = tmp_path / "site", tmp_path / "cache"
    book = tmp_path / "book.epub"
    build("html", posts, site, cache)
    build("epub", posts, book, cache)
    assert "902.html#%E7%BB%93%E8%AE%BA" in (site / "posts" / "901.html").read_text(encoding="utf-8")
    edit(posts / "902.md", "## 结论", "## 总结")         # 901 links to 902#结论, which is gone
    build("html", posts, site, cache)
    build("epub", posts, book, cache)
    page = (site / "posts" / "901.html").read_text(encoding="utf-8")
    assert "902.html#" not in page and "../posts/902.html" in page
    build("html", posts, tmp_path / "fresh", tmp_path / "fresh-cache")
    build("epub", posts, tmp_path / "fresh.epub", tmp_path / "fresh-cache")
    assert tree(site) == tree(tmp_path / "fresh")
    assert members(book) == members(tmp_path / "fresh.epub")


@pytest.mark.parametrize("kind", ["html", "epub"])
def test_a_cached_text_is_not_taken_for_other_math(posts, tmp_path, kind):
    out, cache = tmp_path / ("site" if kind == "html" else "book.epub"), tmp_path / "cache"
    fresh = tmp_path / ("fresh" if kind == "html" else "fresh.epub")
    build(kind, posts, out, cache)
    build(kind, posts, out, cache, "--math", "svg")
    build(kind, posts, fresh, tmp_path / "fresh-cache", "--math", "svg")
    if kind == "html":
        assert tree(out) == tree(fresh)
        assert "<svg" in (out / "posts" / "901.html").read_text(encoding="utf-8")
    else:
        assert members(out) == members(fresh)


@pytest.fixture
def rendered(monkeypatch) -> list[str]:
    """The post pages the site emitter renders (each its `post_file`), in order, as builds run."""
    from kexue_anthology.formats.html import emitter

    made: list[str] = []
    contents = emitter.contents

    def counted(ast: Any, *args: Any) -> Any:
        made.append(ast)
        return contents(ast, *args)
    monkeypatch.setattr(emitter, "contents", counted)     # called once for each post page rendered
    return made


def test_a_site_rebuilt_with_nothing_changed_renders_no_page_of_a_post(posts, tmp_path, rendered):
    site, cache = tmp_path / "site", tmp_path / "cache"
    build("html", posts, site, cache)
    assert len(rendered) == len(list((site / "posts").iterdir())) > 5
    before = stamps(site)
    rendered.clear()
    build("html", posts, site, cache)
    assert rendered == [] and stamps(site) == before


def test_an_edit_rewrites_exactly_the_files_that_show_the_edited_post(posts, tmp_path, rendered):
    """A title changed: the post's page, the pages that show its title (its neighbours by date,
    the index, the search index) are written again, and nothing else; the site then equals a
    build from scratch."""
    site, cache = tmp_path / "site", tmp_path / "cache"
    build("html", posts, site, cache)
    before, old = stamps(site), tree(site)
    edit(posts / "901.md", "title:", "title: 改过的")
    rendered.clear()
    build("html", posts, site, cache)
    after, new = stamps(site), tree(site)
    changed = {name for name in after if after[name] != before.get(name)}
    assert changed == {name for name in new if new[name] != old.get(name)}
    assert {"posts/901.html", "index.html", "assets/search-index.js"} <= changed
    pages = {name for name in changed if name.startswith("posts/")}
    assert len(rendered) == len(pages) < len(list((site / "posts").iterdir())) // 2
    build("html", posts, tmp_path / "fresh", tmp_path / "fresh-cache")
    assert new == tree(tmp_path / "fresh")


@pytest.mark.parametrize("how", ["appended", "deleted", "replaced"])
def test_a_page_changed_by_hand_is_written_again(posts, tmp_path, how):
    site, cache = tmp_path / "site", tmp_path / "cache"
    build("html", posts, site, cache)
    page = site / "posts" / "901.html"
    right = page.read_bytes()
    if how == "appended":
        with page.open("ab") as f:
            f.write(b"<!-- mine -->")
    elif how == "deleted":
        page.unlink()
    else:                                 # the same size, another file (an editor's save)
        other = page.with_suffix(".new")
        other.write_bytes(right.replace(b"<h1>", b"<h2>", 1))
        other.replace(page)
    build("html", posts, site, cache)
    assert page.read_bytes() == right


def held_documents(posts: Path, site: Path, cache: Path) -> tuple[set[str], Run]:
    """The site built in-process: the posts whose documents it read (post id), and the run."""
    run = Run(paths=[str(posts)], settings=Settings(cache_dir=cache))
    run.engine.cache_dir = cache
    run.build = BuildRequest(EMITTERS["html"], site)
    run_stages(run, "emit")
    assert isinstance(run.asts, Documents)
    return {post_id for post_id in run.asts if run.asts.is_held(post_id)}, run


def test_a_rebuild_reads_only_the_documents_it_shows_anew(posts, tmp_path):
    """A cached document is read when its post's page is made again, or to report its links
    that lead nowhere (at every build); the others are known by their outlines."""
    site, cache = tmp_path / "site", tmp_path / "cache"
    build("html", posts, site, cache)
    read, run = held_documents(posts, site, cache)
    assert read == {"901", "902"}                    # both have links that lead nowhere
    codes = [d.code for d in run.diagnostics.items]
    assert codes.count("dangling-link") == 4
    edit(posts / SAMPLES[0], "菜谱一览", "今天的菜谱一览")
    again, run = held_documents(posts, site, cache)
    edited = {post.id for post in run.posts if "今天的菜谱一览" in post.body.text}
    assert len(edited) == 1 and again == {"901", "902"} | edited
    assert [d.code for d in run.diagnostics.items] == codes
    build("html", posts, tmp_path / "fresh", tmp_path / "fresh-cache")
    assert tree(site) == tree(tmp_path / "fresh")


def test_damaged_cached_documents_and_outlines_are_made_again(posts, tmp_path):
    site, cache = tmp_path / "site", tmp_path / "cache"
    build("html", posts, site, cache)
    entries = [p for p in (cache / "documents").rglob("*.json")]
    assert len(entries) > 2 * len(list(posts.iterdir()))        # pandoc's answers, documents, outlines
    for entry in entries:
        entry.write_bytes(entry.read_bytes()[:40])
    edit_a_post(posts)
    build("html", posts, site, cache)
    build("html", posts, tmp_path / "fresh", tmp_path / "fresh-cache")
    assert tree(site) == tree(tmp_path / "fresh")
