"""Every figure of the corpus, end to end: fetched through the mirror map from a local server, then in
the site, in the EPUB (both math modes, epubcheck clean) and in the PDF.

A copy of ../shared/corpus (in tmp_path) gets a project file whose [images] allows 127.0.0.1 and sends
`https://kexue.fm/usr/uploads/` to a server here, which makes an image for any address (PNG, JPEG or GIF
as the address's extension says; a size and colour of its own, so that no two are alike) and counts
every request.  One fetch and one build per format: the site and the EPUBs of the whole copy; the PDF
of the posts with figures only (given as PATHs), since the whole corpus's PDF takes minutes more and
its other posts hold no figure.
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from tests.helpers import Answer, LocalServer, epubcheck, run_cli

pytestmark = [pytest.mark.engine, pytest.mark.pandoc]

UPLOADS = "https://kexue.fm/usr/uploads/"
FIGURE = re.compile(r"!\[[^\]\n]*\]\((" + re.escape(UPLOADS) + r"[^)\s]+)\)")   # as the blog writes them
FORMATS = {"png": ("PNG", "image/png"), "jpg": ("JPEG", "image/jpeg"), "jpeg": ("JPEG", "image/jpeg"),
           "gif": ("GIF", "image/gif")}


def picture(path: str) -> tuple[bytes, str]:
    """An image for `path`: its format from the extension, a plausible size and a colour from its hash."""
    digest = hashlib.sha256(path.encode()).digest()
    fmt, kind = FORMATS[path.rsplit(".", 1)[-1].lower()]
    size = (400 + digest[0] * 3, 240 + digest[1] * 2)                     # 400–1165 × 240–750
    image = Image.new("RGB", size, (digest[2], digest[3], digest[4]))
    for x in range(0, size[0], 40):                                       # a pattern, so that JPEG is no flat file
        image.paste((255 - digest[2], digest[5], 90), (x, 0, x + 8, size[1]))
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue(), kind


def uploads(path: str, _times: int) -> Answer:
    """An image made for every path under /uploads/ with a known extension, else a 404."""
    if not path.startswith("/uploads/") or path.rsplit(".", 1)[-1].lower() not in FORMATS:
        return 404, {}, b""
    body, kind = picture(path)
    return 200, {"Content-Type": kind}, body


@dataclass
class Fetched:
    """The corpus copy after one `anthology fetch`."""
    posts: Path
    cache: Path
    server: LocalServer
    figures: dict[str, list[str]]       # post id → its figures' addresses, in order
    out: str
    err: str
    status: int

    @property
    def addresses(self) -> set[str]:
        return {a for found in self.figures.values() for a in found}

    def with_figures(self) -> list[Path]:
        return [self.posts / f"{post_id}.txt" for post_id in sorted(self.figures)]


def figures_of(folder: Path) -> dict[str, list[str]]:
    """Each post's figure addresses, read straight from the scrape (not through the tool)."""
    found = {}
    for path in sorted(folder.glob("*.txt")):
        addresses = FIGURE.findall(path.read_text(encoding="utf-8"))
        if addresses:
            found[path.stem] = addresses
    return found


def write_project(folder: Path, port: int) -> None:
    (folder / "anthology.toml").write_text(
        '[images]\nhosts = ["kexue.fm", "127.0.0.1"]\n'
        f'mirror = {{ "{UPLOADS}" = "http://127.0.0.1:{port}/uploads/" }}\n', encoding="utf-8")


def copy_corpus(corpus: Path, folder: Path) -> Path:
    shutil.copytree(corpus, folder, ignore=shutil.ignore_patterns("*.md", "anthology.toml"))
    return folder


@pytest.fixture(scope="module")
def fetched(corpus, tmp_path_factory) -> Iterator[Fetched]:
    work = tmp_path_factory.mktemp("figures-corpus")
    posts = copy_corpus(corpus, work / "posts")
    server = LocalServer(uploads)
    write_project(posts, server.port)
    cache = work / "cache"
    status, out, err = run_cli("fetch", posts, "--cache-dir", cache, "--quiet")
    yield Fetched(posts, cache, server, figures_of(posts), out, err, status)
    server.close()


def test_fetch_asks_once_for_every_figure_and_then_nothing(fetched):
    addresses = fetched.addresses
    assert len(addresses) >= 20 and len(fetched.figures) >= 10       # 30 figures in 12 posts when written
    assert fetched.status == 0, fetched.err
    assert f"images: {len(addresses)} fetched, 0 cached, 0 refused, 0 failed" in fetched.out
    assert "[image-" not in fetched.err, fetched.err
    asked = {"https://kexue.fm/usr" + path for path in fetched.server.counts}
    assert asked == addresses and set(fetched.server.counts.values()) == {1}
    before = fetched.server.total
    status, out, _err = run_cli("fetch", fetched.posts, "--cache-dir", fetched.cache, "--quiet")
    assert status == 0 and f"images: 0 fetched, {len(addresses)} cached" in out
    assert fetched.server.total == before


def test_site_shows_every_figure_from_a_plain_build(fetched, tmp_path):
    before = fetched.server.total
    site = tmp_path / "site"
    status, _out, err = run_cli("build", "html", fetched.posts, "--out", site, "--cache-dir", fetched.cache,
                                "--quiet")
    assert status in (0, 1), err                     # the corpus has posts with errors of their own
    assert fetched.server.total == before            # a plain build asks nothing
    assert "[images-not-fetched]" not in err and "[image-missing]" not in err
    for post_id, addresses in fetched.figures.items():
        page = next((site / "posts").glob(f"{post_id}*.html")).read_text(encoding="utf-8")
        figures = re.findall(r'<figure class="figure"><a class="figure-link" href="([^"]+)"><img\b[^>]*'
                             r'\bsrc="([^"]+)"', page)
        assert len(figures) == len(addresses), post_id
        for href, src in figures:
            assert href == src and src.startswith("../images/"), src
            assert (site / "posts" / src).resolve().is_file(), src
        assert len(set(figures)) == len(set(addresses)), post_id
        assert "image-placeholder" not in page and UPLOADS not in re.sub(r"<a [^>]*>", "", page), post_id
        assert "inline-image" not in page, post_id      # 7292, 7343: figures glued to the text are figures too
        for caption in re.findall(r"<figcaption>\n(.*?)\n</figcaption>", page):
            assert f"<p>{caption}</p>" not in page, (post_id, caption)    # the caption is drawn once
    assert len(list((site / "images").iterdir())) == len(fetched.addresses)


@pytest.mark.parametrize("math", ["mathml", "svg"])
def test_epub_holds_every_figure(fetched, tmp_path, math, monkeypatch):
    book = tmp_path / f"corpus-{math}.epub"
    before = fetched.server.total
    monkeypatch.setenv("ANTHOLOGY_TEST_EPUBCHECK", "0")     # checked once, below (skipped with a reason if absent)
    status, _out, err = run_cli("build", "epub", fetched.posts, "--math", math, "--out", book,
                                "--cache-dir", fetched.cache, "--quiet")
    assert status in (0, 1), err
    assert fetched.server.total == before
    epubcheck(book)
    with zipfile.ZipFile(book) as z:
        opf = z.read("EPUB/content.opf").decode()
        chapters = "".join(z.read(n).decode() for n in z.namelist() if n.startswith("EPUB/text/"))
        media = {n for n in z.namelist() if n.startswith("EPUB/media/")}
    rasters = [href for item, href in re.findall(r'(<item [^>]*href="(media/[^"]+)" media-type="image/(?:png|jpeg|gif)"'
                                                 r'[^>]*>)', opf) if "cover-image" not in item]
    assert len(rasters) == len(fetched.addresses)
    assert {"EPUB/" + href for href in rasters} <= media
    sources = re.findall(r'<figure class="figure"><img\b[^>]*\bsrc="([^"]+)"', chapters)
    assert len(sources) == sum(len(a) for a in fetched.figures.values())
    assert {s.removeprefix("../") for s in sources} == set(rasters)


@pytest.mark.weasyprint
def test_pdf_embeds_every_figure(fetched, tmp_path, monkeypatch):
    if not shutil.which("pdfimages"):
        pytest.skip("needs poppler's pdfimages")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    book = tmp_path / "figures.pdf"
    before = fetched.server.total
    status, _out, err = run_cli("build", "pdf", *fetched.with_figures(), "--out", book,
                                "--cache-dir", fetched.cache, "--quiet")
    assert status in (0, 1), err
    assert fetched.server.total == before
    listing = subprocess.run(["pdfimages", "-list", str(book)], capture_output=True, text=True, check=True).stdout
    rows = [line.split() for line in listing.splitlines()[2:]]
    images = [r for r in rows if r[2] == "image"]
    assert len(images) == len(fetched.addresses)
    assert len({r[10] for r in images}) == len(images)                    # distinct objects
    sizes = sorted((int(r[3]), int(r[4])) for r in images)
    expected = []
    for address in fetched.addresses:
        with Image.open(io.BytesIO(picture("/uploads/" + address.removeprefix(UPLOADS))[0])) as im:
            expected.append(im.size)
    assert sizes == sorted(expected)
