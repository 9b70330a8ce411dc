"""The EPUB rebuilt after an edit to a post's text only: the edited chapter is written in a small
book of its own and the rest copied from the last book (formats/epub/rebuild.py, rezip.py), and
the book is byte for byte the one a build from scratch writes; an edit to what the book around
the chapters is made of (a title, a post added) goes through the run over the whole book."""

from __future__ import annotations

import io
import json
import os
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
from kexue_anthology.formats.epub import rezip

from tests.test_incremental import build, edit, edit_a_post, posts  # noqa: F401  (posts: a fixture)


def zipped(entries: list[tuple[str, bytes, int]], comment: bytes) -> bytes:
    """What zipfile writes for `entries` (name, data, compression), as the emitter writes a book."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.comment = comment
        for name, data, method in entries:
            info = zipfile.ZipInfo(name, (2023, 11, 14, 22, 13, 20))
            info.external_attr = 0o644 << 16
            z.writestr(info, data, compress_type=method)
    return buffer.getvalue()


def test_a_zip_written_again_with_an_entry_replaced_is_what_zipfile_writes():
    entries = [("mimetype", b"application/epub+zip", zipfile.ZIP_STORED),
               ("EPUB/text/ch001.xhtml", "<p>第一章</p>".encode() * 50, zipfile.ZIP_DEFLATED),
               ("EPUB/text/ch002.xhtml", b"<p>two</p>" * 80, zipfile.ZIP_DEFLATED),
               ("EPUB/media/é.svg", b"", zipfile.ZIP_DEFLATED)]
    old = zipped(entries, b"mark")
    read, comment = rezip.read(old)
    assert comment == b"mark" and [e.name for e in read] == [e[0] for e in entries]
    assert rezip.written(read, {}, comment) == old
    new = "<p>改过的第一章，长了一些</p>".encode() * 70
    want = zipped([entries[0], (entries[1][0], new, zipfile.ZIP_DEFLATED), *entries[2:]], b"mark")
    assert rezip.written(read, {"EPUB/text/ch001.xhtml": new}, comment) == want
    assert rezip.written(read, {"mimetype": b"application/epub+zip!"}, comment) == zipped(
        [("mimetype", b"application/epub+zip!", zipfile.ZIP_STORED), *entries[1:]], b"mark")


def test_a_damaged_zip_is_not_read():
    old = zipped([("a.txt", b"some text " * 100, zipfile.ZIP_DEFLATED)], b"")
    damaged = bytearray(old)
    damaged[40] ^= 0xFF                                      # inside the deflated data
    for bad in (bytes(damaged), old[:-10], old + b"tail", b"not a zip"):
        with pytest.raises(rezip.BadZip):
            rezip.read(bad)


@pytest.fixture
def runs(monkeypatch) -> list[int]:
    """How many posts (chapter headings) each pandoc run of the EPUB writer was given."""
    from kexue_anthology.documents import pandoc

    given: list[int] = []
    run = pandoc.run

    def counted(args: list[str], *rest: Any, **options: Any) -> Any:
        if "--to=epub3" in args:
            source = json.loads(Path(args[0]).read_text(encoding="utf-8"))
            given.append(sum(1 for block in source["blocks"]
                             if block["t"] == "Header" and "post-title" in block["c"][1][1]))
        return run(args, *rest, **options)

    monkeypatch.setattr(pandoc, "run", counted)
    return given


def fresh_equals(book: Path, posts_folder: Path, tmp_path: Path, *extra: str) -> None:
    fresh = tmp_path / "fresh.epub"
    shutil.rmtree(tmp_path / "fresh-cache", ignore_errors=True)
    build("epub", posts_folder, fresh, tmp_path / "fresh-cache", *extra)
    assert book.read_bytes() == fresh.read_bytes()


@pytest.mark.engine
@pytest.mark.pandoc
@pytest.mark.parametrize("math", ["mathml", "svg"])
def test_an_edit_to_a_posts_text_rebuilds_without_the_whole_book(posts, tmp_path, runs, math):  # noqa: F811
    book, cache = tmp_path / "book.epub", tmp_path / "cache"
    build("epub", posts, book, cache, "--math", math)
    whole = max(runs)                                         # the first build: runs over every post
    # its batches and the book's own run, and no small book of every post tried first
    assert len(runs) <= 1 + (min(2, os.cpu_count() or 1) if math == "mathml" else 0)
    runs.clear()
    edit_a_post(posts)
    build("epub", posts, book, cache, "--math", math)
    assert runs and max(runs) < whole                         # the edited post in a small book, nothing more
    fresh_equals(book, posts, tmp_path, "--math", math)
    runs.clear()
    edit(posts / "901.md", "改过的一句话。", "又改了一次。")     # and again, from the book the last rebuild wrote
    build("epub", posts, book, cache, "--math", math)
    assert runs and max(runs) < whole
    fresh_equals(book, posts, tmp_path, "--math", math)


@pytest.mark.engine
@pytest.mark.pandoc
def test_an_edit_to_a_title_or_a_post_added_goes_through_the_whole_book(posts, tmp_path, runs):  # noqa: F811
    book, cache = tmp_path / "book.epub", tmp_path / "cache"
    build("epub", posts, book, cache)
    whole = max(runs)
    text = (posts / "901.md").read_text(encoding="utf-8")
    title = next(line for line in text.splitlines() if line.startswith("title:") or line.startswith("# "))
    runs.clear()
    edit(posts / "901.md", title, title + "（改）")              # the contents change
    build("epub", posts, book, cache)
    assert runs and max(runs) == whole
    fresh_equals(book, posts, tmp_path)
    runs.clear()
    added = (posts / "902.md").read_text(encoding="utf-8").replace("902", "903").replace("另一篇", "第三篇")
    (posts / "903.md").write_text(added.replace("结论", "结语"), encoding="utf-8")
    build("epub", posts, book, cache)
    assert runs and max(runs) == whole + 1
    fresh_equals(book, posts, tmp_path)
