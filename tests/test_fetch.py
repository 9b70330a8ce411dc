"""`anthology fetch`: remote images through one safe fetcher, against a local server on 127.0.0.1.

The server serves images made here (Pillow) and hostile ones (a truncated PNG, a 30,000×30,000 PNG
bomb, SVG with a script or an outside reference, HTML served as image/png, a redirect to 127.0.0.2, a
404, a 500 before a 200) and counts every request, so that "nothing was asked" can be asserted.
"""

from __future__ import annotations

import io
import shutil
import ssl
import struct
import subprocess
import threading
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from kexue_anthology.images.check import check_image
from kexue_anthology.images.fetcher import Fetcher, FetchPolicy
from kexue_anthology.images.store import FAILED, FETCHED, REFUSED, ImageStore
from PIL import Image

from tests.helpers import Answer, LocalServer, run_cli

UPLOADS = "https://kexue.fm/usr/uploads/"


def raster(fmt: str, size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, fmt)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(side: int = 30_000) -> bytes:
    """A PNG whose header says side×side pixels, with a small zlib stream: 900 Mpx never allocated here."""
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)          # 8-bit greyscale
    rows = zlib.compress(b"\0" * (side + 1) * 16, 9)                      # a few rows' worth
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", rows) + _chunk(b"IEND", b"")


CLEAN_SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" width="120" height="80" viewBox="0 0 120 80">'
             b'<rect x="10" y="10" width="100" height="60" fill="#36c"/></svg>')
GOOD = {"good.png": (raster("PNG"), "image/png"), "good.jpg": (raster("JPEG"), "image/jpeg"),
        "good.gif": (raster("GIF"), "image/gif"), "good.webp": (raster("WEBP"), "image/webp"),
        "good.svg": (CLEAN_SVG, "image/svg+xml"), "flaky.png": (raster("PNG", (30, 20)), "image/png")}
HOSTILE = {"truncated.png": (raster("PNG", (300, 200))[:400], "image/png"),
           "bomb.png": (png_bomb(), "image/png"),
           "script.svg": (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "image/svg+xml"),
           "href.svg": (b'<svg xmlns="http://www.w3.org/2000/svg"><image href="https://evil.example/x.png"/></svg>',
                        "image/svg+xml"),
           "page.png": (b"<!DOCTYPE html><html><body>Not found</body></html>", "image/png")}


def _name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


@pytest.fixture
def server() -> Iterator[LocalServer]:
    """The images above under /uploads/ (counted by file name); redirect.png leads to 127.0.0.2, flaky.png
    fails once with a 500, anything else is a 404."""
    port: list[int] = []

    def answer(path: str, times: int) -> Answer:
        name = _name(path)
        if name == "redirect.png":
            return 302, {"Location": f"http://127.0.0.2:{port[0]}/uploads/good.png"}, b""
        if name == "flaky.png" and times == 1:
            return 500, {}, b""
        found = GOOD.get(name) or HOSTILE.get(name)
        return (404, {}, b"") if found is None else (200, {"Content-Type": found[1]}, found[0])

    s = LocalServer(answer, key=_name)
    port.append(s.port)
    yield s
    s.close()


def figure(name: str, alt: str = "图") -> str:
    """A figure as the blog writes it, caption repeated below."""
    return f"[![{alt}]({UPLOADS}{name})]({UPLOADS}{name})\n\n{alt}\n\n"


def post(folder: Path, post_id: str, body: str) -> Path:
    path = folder / f"{post_id}.md"
    path.write_text(f'---\ntitle: 第{post_id}篇\ndate: 2024-01-01\nid: "{post_id}"\n---\n一段文字。\n\n{body}',
                    encoding="utf-8")
    return path


def content(tmp_path: Path, mirror: str, hosts: str = '["kexue.fm", "127.0.0.1"]') -> Path:
    folder = tmp_path / "content"
    folder.mkdir()
    (folder / "anthology.toml").write_text(f'[images]\nhosts = {hosts}\nmirror = {{ "{UPLOADS}" = "{mirror}" }}\n',
                                           encoding="utf-8")
    post(folder, "9001", "".join(figure(n) for n in GOOD) + "![徽章](https://kexue.fm/usr/themes/geekg/badge.png)\n")
    post(folder, "9002", "".join(figure(n) for n in [*HOSTILE, "redirect.png", "missing.png"])
         + "外站的图：![外](https://evil.example/x.png)\n\n`![代码](https://kexue.fm/usr/uploads/code.png)`\n")
    return folder


def place(path: Path, name: str) -> str:
    """`path:line:col` of the image (its `!`) whose address ends with `name`, the path as every output
    shows it: relative to the content folder (the project file's; no git repository here)."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if name in line:
            return f"{path.name}:{number}:{line.index('![') + 1}"
    raise AssertionError(name)


@pytest.mark.pandoc
def test_fetch_keeps_good_images_refuses_hostile_ones_and_asks_nothing_twice(tmp_path, server):
    folder = content(tmp_path, f"http://127.0.0.1:{server.port}/uploads/")
    cache = tmp_path / "cache"
    status, out, err = run_cli("fetch", folder, "--cache-dir", cache)
    assert status == 0, err                                     # warnings do not fail the run
    assert "images: 6 fetched, 0 cached, 7 refused, 1 failed" in out
    store = ImageStore(cache)
    for name, (body, kind) in GOOD.items():
        image = store.lookup(UPLOADS + name)                    # recorded under the address the post wrote
        assert image is not None and image.media_type == kind, name
        expected = (120, 80) if kind == "image/svg+xml" else (30, 20) if name == "flaky.png" else (64, 48)
        assert (image.width, image.height) == expected, name
        assert kind == "image/svg+xml" or image.path.read_bytes() == body    # rasters kept byte for byte
    assert server.counts["flaky.png"] == 2                      # a 500, then tried again
    hostile = folder / "9002.md"
    reasons = {"truncated.png": "truncated", "bomb.png": "too large", "script.svg": "<script>",
               "href.svg": "outside itself", "page.png": "not an image: HTML (served as image/png)",
               "redirect.png": "127.0.0.2", "x.png": "evil.example is not among"}
    for name, reason in reasons.items():
        url = f"https://evil.example/{name}" if name == "x.png" else UPLOADS + name
        line = next(x for x in err.splitlines() if f"image {url} " in x)
        assert line.startswith(f"{place(hostile, name)}: warning: ") and line.endswith("[image-refused]"), line
        assert reason in line, line
        record = store.record(url)
        assert record is not None and record.status == REFUSED
    failed = next(x for x in err.splitlines() if "missing.png" in x)
    assert failed.startswith(f"{place(hostile, 'missing.png')}: warning: ") and "HTTP 404" in failed
    assert failed.endswith("[image-failed]")
    assert "code.png" not in err and "badge.png" not in err and server.counts["badge.png"] == 0
    assert {a.split()[0] for a in server.agents} == {"kexue-anthology/0.1.0"}

    before = server.counts.copy()
    status, out, err = run_cli("fetch", folder, "--cache-dir", cache)
    assert status == 0
    assert "images: 0 fetched, 6 cached, 7 refused, 1 failed" in out
    asked = server.counts - before
    assert asked == Counter({"missing.png": 1})                # only what failed is asked again


@pytest.mark.pandoc
def test_plain_build_asks_nothing(tmp_path, server):
    folder = content(tmp_path, f"http://127.0.0.1:{server.port}/uploads/")
    status, _, err = run_cli("build", "html", folder, "--out", tmp_path / "site", "--cache-dir", tmp_path / "cache")
    assert status == 0, err
    assert server.total == 0


@pytest.mark.pandoc
def test_build_fetch_through_a_file_mirror(tmp_path, server):
    uploads = tmp_path / "content" / "uploads"
    folder = content(tmp_path, "file:uploads/", hosts='["kexue.fm"]')
    uploads.mkdir()
    for name, (body, _) in GOOD.items():
        (uploads / name).write_bytes(body)
    (uploads / "bomb.png").write_bytes(png_bomb())
    cache = tmp_path / "cache"
    status, out, err = run_cli("build", "html", folder, "--fetch", "--out", tmp_path / "site", "--cache-dir", cache)
    assert status == 0, err
    assert "images: 6 fetched, 0 cached" in out
    assert server.total == 0                                    # a file: mirror reads the disk
    image = ImageStore(cache).lookup(UPLOADS + "good.webp")
    assert image is not None and image.media_type == "image/webp"
    assert "bomb.png refused: too large" in err
    assert any("missing.png" in x for x in err.splitlines() if x.endswith("[image-failed]"))


@pytest.mark.pandoc
def test_fetch_and_build_find_the_same_images(tmp_path, server):
    """A reference image, a protocol-relative one and one in a link: fetched, then found by the build
    (the one finder: images.addresses); a warning about one names the place of its `!`."""
    folder = tmp_path / "content"
    folder.mkdir()
    (folder / "anthology.toml").write_text(
        f'[images]\nhosts = ["kexue.fm", "127.0.0.1"]\nmirror = {{ "{UPLOADS}" = "http://127.0.0.1:{server.port}/uploads/" }}\n',
        encoding="utf-8")
    path = post(folder, "9003", f"参考式的图：![参考][fig]\n\n[fig]: {UPLOADS}good.png\n\n"
                f"相对的：![相对](//kexue.fm/usr/uploads/good.gif)\n\n"
                f"[![链接里的]({UPLOADS}good.jpg)]({UPLOADS}good.jpg)\n\n缺的：![缺](//kexue.fm/usr/uploads/gone.png)\n")
    cache = tmp_path / "cache"
    status, out, err = run_cli("fetch", folder, "--cache-dir", cache)
    assert status == 0, err
    assert "images: 3 fetched, 0 cached, 0 refused, 1 failed" in out
    assert server.counts["good.png"] == server.counts["good.gif"] == server.counts["good.jpg"] == 1
    gone = next(x for x in err.splitlines() if "gone.png" in x)
    assert gone.startswith(f"{place(path, 'gone.png')}: warning: image https://kexue.fm/usr/uploads/gone.png "), gone
    status, out, err = run_cli("build", "html", folder, "--out", tmp_path / "site", "--cache-dir", cache)
    assert status == 0, err
    assert "1 web image(s) not fetched" in err                # gone.png only: the other three are found
    shown = {p.suffix for p in (tmp_path / "site" / "images").iterdir()}
    assert shown == {".png", ".gif", ".jpg"}


def test_private_addresses_refused_unless_listed(tmp_path):
    store = ImageStore(tmp_path / "cache")
    asked: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["10.1.2.3"]                                     # a name that resolves into the local network

    fetcher = Fetcher(store, FetchPolicy(hosts=("example.org",), retries=0), resolve=resolve)
    result = fetcher.fetch("https://example.org/a.png")
    assert result.status == REFUSED and "10.1.2.3" in result.reason and asked == ["example.org"]
    for url in ("ftp://example.org/a.png", "http://169.254.169.254/latest/meta-data", "file:///etc/passwd"):
        assert fetcher.fetch(url).status == REFUSED, url
    assert Fetcher(store, FetchPolicy(hosts=("example.org",)))._mirrored("https://example.org/x") \
        == "https://example.org/x"
    assert store.record("https://example.org/a.png").status == REFUSED
    assert fetcher.fetch("https://example.org/a.png").status == REFUSED and asked == ["example.org"]  # not again


def test_check_refuses_a_bomb_from_its_header():
    started = time.perf_counter()
    checked = check_image(png_bomb())
    assert not checked.ok and "too large" in checked.refused
    assert time.perf_counter() - started < 1.0                  # read from the header, never decoded
    small = check_image(raster("PNG"))
    assert small.ok and (small.media_type, small.width, small.height) == ("image/png", 64, 48)


def test_images_count_toward_the_cache_and_are_pruned_in_pairs_that_stay_consistent(tmp_path):
    from kexue_anthology.core import cachelimit
    cache = tmp_path / "cache"
    store = ImageStore(cache)
    for n in range(3):
        store.put(f"{UPLOADS}{n}.png", raster("PNG", (10 + n, 10)), "image/png", 10 + n, 10, "2024-01-01T00:00:00+00:00")
    store.mark(f"{UPLOADS}bad.png", REFUSED, "no image", "2024-01-01T00:00:00+00:00")
    usage = cachelimit.measure(cache)
    assert len(usage.entries["images/files"]) == 3 and len(usage.entries["images/urls"]) == 4 and usage.other == 0
    assert usage.size == sum(p.stat().st_size for p in (cache / "images").rglob("*") if p.is_file())
    cachelimit.prune(cache, usage.size // 2)
    assert cachelimit.measure(cache).size <= usage.size // 2
    for n in range(3):                  # a record whose file went is no image: it is fetched again
        record, image = store.record(f"{UPLOADS}{n}.png"), store.lookup(f"{UPLOADS}{n}.png")
        assert image is None or (record is not None and image.path.is_file())
    cachelimit.prune(cache, 0)
    assert not [p for p in (cache / "images").rglob("*") if p.is_file()]


def test_the_images_table_is_checked_at_its_lines(tmp_path):
    folder = content(tmp_path, "ftp://nowhere/", hosts='["kexue.fm", "http://127.0.0.1:80/"]')
    with (folder / "anthology.toml").open("a", encoding="utf-8") as f:
        f.write("host = []\n")
    status, _, err = run_cli("fetch", folder, "--cache-dir", tmp_path / "cache")
    assert status == 2
    toml = folder / "anthology.toml"
    assert '2:1: error: hosts = ["kexue.fm", "http://127.0.0.1:80/"]: "http://127.0.0.1:80/" is no host name' in err
    assert '3:1: error: mirror = {…}: "ftp://nowhere/" must be an http(s) address or a file: folder [project-value]' in err
    assert '4:1: error: unknown key "host" in [images]; did you mean "hosts"? valid keys: hosts, mirror [project-key]' in err
    assert str(toml.name) in err


def test_a_few_connections_per_host_and_a_size_limit(tmp_path):
    lock, state = threading.Lock(), {"now": 0, "most": 0}
    big = raster("PNG", (400, 400))

    def slow(path: str, _times: int) -> Answer:
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        time.sleep(0.1)                                          # long enough for the other one to start
        with lock:
            state["now"] -= 1
        return 200, {}, big if "big" in path else raster("PNG", (8, 8 + int(_name(path)[:-4])))

    httpd = LocalServer(slow, sized=False)                       # no Content-Length: the limit counts as it reads
    try:
        base = f"http://127.0.0.1:{httpd.port}/"
        policy = FetchPolicy(hosts=("127.0.0.1",), listed=True, per_host=2, workers=8, max_bytes=len(big) - 1)
        results = Fetcher(ImageStore(tmp_path / "cache"), policy).fetch_all([f"{base}{n}.png" for n in range(8)]
                                                                           + [f"{base}big.png"])
    finally:
        httpd.close()
    assert [r.status for r in results[:8]] == ["fetched"] * 8
    assert [r.image.height for r in results[:8] if r.image] == [8 + n for n in range(8)]
    assert state["most"] == 2                                   # 8 workers, 2 at a time to one host
    assert results[8].status == REFUSED and "more than the limit" in results[8].reason


def _openssl(*args: str | Path, cwd: Path) -> None:
    subprocess.run(["openssl", *map(str, args)], cwd=cwd, check=True, capture_output=True)


KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1")     # made at once (RSA's take a second)


def _certificates(folder: Path) -> Path:
    """A certificate authority (ca.pem) and, signed by it, certificates for images.test and for
    other.test (TLS names, not addresses: the fetcher connects to the address it checked)."""
    _openssl("req", "-x509", *KEY, "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
             "-days", "2", "-subj", "/CN=anthology test CA", cwd=folder)
    for name in ("images.test", "other.test"):
        _openssl("req", *KEY, "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={name}", cwd=folder)
        (folder / f"{name}.ext").write_text(f"subjectAltName=DNS:{name}\n", encoding="ascii")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=folder)
    return folder / "ca.pem"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make test certificates")
def test_https_checks_the_certificate_on_the_host_name_at_the_checked_address(tmp_path, server, monkeypatch):
    """Over TLS the fetcher connects to the address it checked (here 127.0.0.1, as images.test resolves),
    sends the host name (SNI) and takes only a certificate valid for that name from a trusted authority."""
    ca = _certificates(tmp_path)
    names: list[str | None] = []
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(tmp_path / "images.test.pem", tmp_path / "images.test.key")
    other = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    other.load_cert_chain(tmp_path / "other.test.pem", tmp_path / "other.test.key")

    def choose(sock: ssl.SSLSocket, name: str | None, _context: ssl.SSLContext) -> None:
        names.append(name)
        if name == "wrong.test":
            sock.context = other                                # a certificate for another name
    tls.sni_callback = choose
    server.httpd.socket = tls.wrap_socket(server.httpd.socket, server_side=True)
    resolved: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        resolved.append(host)
        return ["127.0.0.1"]

    def fetcher() -> Fetcher:
        policy = FetchPolicy(hosts=("images.test", "wrong.test"), listed=True, retries=0)
        return Fetcher(ImageStore(tmp_path / "cache"), policy, resolve=resolve)

    untrusted = fetcher().fetch(f"https://images.test:{server.port}/uploads/good.png")
    assert untrusted.status == FAILED and "certificate not valid" in untrusted.reason, untrusted
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))              # OpenSSL's default trust store, read anew
    good = fetcher().fetch(f"https://images.test:{server.port}/uploads/good.png")
    assert good.status == FETCHED, good
    assert good.image is not None and good.image.path.read_bytes() == GOOD["good.png"][0]
    wrong = fetcher().fetch(f"https://wrong.test:{server.port}/uploads/good.jpg")
    assert wrong.status == FAILED and "certificate not valid" in wrong.reason, wrong
    assert names == ["images.test", "images.test", "wrong.test"] and resolved == names
    assert server.counts == Counter({"good.png": 1})          # nothing asked over a connection not trusted
