"""Formulas cannot reach the network: a hostile post whose formulas carry CSS and attributes
pointing at a canary HTTP server is built as a site (MathML and SVG) and as an EPUB, every page
is opened in headless Chromium, and the canary must count no request.  A page written by hand
with the same CSS does reach it (so the test can fail)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.helpers import run_cli

pytestmark = [pytest.mark.browser, pytest.mark.engine, pytest.mark.pandoc]

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


class Canary:
    """An HTTP server on 127.0.0.1 counting every request; it stops itself after `lifetime` s."""

    def __init__(self, lifetime: float = 600) -> None:
        self.requests: list[str] = []
        canary = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                canary.requests.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "text/css" if self.path.endswith(".css") else "image/png")
                self.end_headers()
                self.wfile.write(b"" if self.path.endswith(".css") else PNG)

            do_POST = do_HEAD = do_GET

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.timer = threading.Timer(lifetime, self.stop)
        self.timer.daemon = True

    def __enter__(self) -> Canary:
        self.thread.start()
        self.timer.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __exit__(self, *exc) -> None:
        self.timer.cancel()
        if self.thread.is_alive():
            self.stop()


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip("needs Chromium to open the pages (Debian: apt-get install chromium)")


def open_in_chromium(page: Path, shot: Path) -> None:
    """Open `page`, lay it out and paint it (a screenshot), giving loads three seconds."""
    with tempfile.TemporaryDirectory(prefix="canary-chromium-") as profile:
        args = [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                "--hide-scrollbars", "--allow-file-access-from-files", "--window-size=1280,2000",
                "--virtual-time-budget=3000", f"--screenshot={shot}", page.as_uri()]
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        try:
            _, err = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise
    assert shot.exists() and shot.stat().st_size > 1000, err.decode(errors="replace")[-2000:]


def hostile_post(port: int) -> str:
    at = f"http://127.0.0.1:{port}"
    formulas = [
        rf"\style{{background:url({at}/style.png)}}{{x}}",
        rf"\style{{background:URL({at}/style-upper.png);color:red}}{{x}}",
        rf"\style{{background:u\72l({at}/style-escaped.png)}}{{x}}",
        rf"\style{{background-image:url({at}/background-image.png);color:red}}{{z}}",
        rf"\style{{background:image-set('{at}/image-set.png' 1x)}}{{w}}",
        rf"\style{{background:-webkit-image-set(url({at}/webkit-image-set.png) 1x)}}{{w}}",
        rf"\style{{list-style-image:url({at}/list.png);display:list-item}}{{f}}",
        rf"\style{{border-image:url({at}/border-image.png) 30 round;border:5px solid}}{{h}}",
        rf"\style{{-webkit-mask-image:url({at}/mask.png);mask-image:url({at}/mask2.png)}}{{i}}",
        rf"\style{{filter:url({at}/filter.svg#f)}}{{j}}",
        rf"\style{{@import url({at}/import.css);color:blue}}{{k}}",
        r"\style{position:fixed;top:0;left:0;z-index:999;width:100%;height:100%;background:red}{p}",
        rf"\bbox[red,5px,border:2px solid blue;background:url({at}/bbox.png)]{{y}}",
        rf"\bbox[background-image:url({at}/bbox-image.png)]{{y}}",
        r"\class{eq-tag}{a}\cssId{post-9901}{b}",
        rf"\class{{x}}{{\href{{{at}/href}}{{c}}}}",
        rf"\color{{url({at}/color)}}{{d}}",
        rf"\mmlToken{{mi}}[mathbackground=url({at}/mmltoken.png)]{{e}}",
        rf"\mmlToken{{mi}}[style=background:url({at}/mmltoken-style.png)]{{e}}",
    ]
    body = "\n\n".join(f"第{n}个：$${tex}$$" if n % 2 else f"第{n}个：${tex}$" for n, tex in enumerate(formulas))
    return f'---\ntitle: 公式里的追踪像素\ndate: 2024-05-05\nid: "9901"\n---\n{body}\n'


MATH = re.compile(r"<(math|svg)\b.*?</\1>", re.S)


TEXT_ATTRIBUTES = re.compile(r'\s(?:alttext|aria-label|xlink:title|title)="[^"]*"')


def formula_markup(text: str) -> str:
    """The tags of every formula in a page, without the text they show (the formula's source as
    alt text, an address shown as text), which fetches nothing."""
    return "".join(TEXT_ATTRIBUTES.sub("", "".join(re.findall(r"<[^>]*>", m.group(0)))) for m in MATH.finditer(text))


def test_formulas_fetch_nothing_when_the_page_is_shown(tmp_path):
    chromium()
    with Canary() as canary:
        post = tmp_path / "post.md"
        post.write_text(hostile_post(canary.port), encoding="utf-8")
        pages: list[Path] = []
        for math in ("mathml", "svg"):
            site = tmp_path / f"site-{math}"
            status, _, stderr = run_cli("build", "html", post, "--out", site, "--math", math, "--no-cache")
            assert status == 0, stderr
            page = site / "posts" / "9901.html"
            text = page.read_text(encoding="utf-8")
            assert text.count('data-formula="') == 19 and "math-error" not in text
            tags = formula_markup(text)
            assert ("<math" if math == "mathml" else "<svg") in text and tags
            for bad in ("url(", "@import", "image-set", "position", "z-index", '"eq-tag"', '"post-9901"'):
                assert bad not in tags.lower(), (math, bad)
            assert f'href="http://127.0.0.1:{canary.port}/href"' in tags        # a link, followed only when clicked
            pages.append(page)
        for math in ("mathml", "svg"):
            book = tmp_path / f"book-{math}.epub"
            status, _, stderr = run_cli("build", "epub", post, "--out", book, "--math", math, "--no-cache")
            assert status == 0, stderr
            unpacked = tmp_path / f"book-{math}"
            with zipfile.ZipFile(book) as z:
                z.extractall(unpacked)
            chapters = sorted(unpacked.glob("EPUB/text/ch*.xhtml"))
            assert chapters
            for chapter in chapters:
                tags = formula_markup(chapter.read_text(encoding="utf-8"))
                assert "url(" not in tags.lower() and "@import" not in tags.lower()
            for svg in unpacked.glob("EPUB/media/*.svg"):
                tags = formula_markup(svg.read_text(encoding="utf-8"))
                assert "url(" not in tags.lower() and "@import" not in tags.lower()
            if math == "svg":
                assert list(unpacked.glob("EPUB/media/*.svg"))
            pages.extend(chapters)
        for n, page in enumerate(pages):
            open_in_chromium(page, tmp_path / f"shot-{n}.png")
        assert canary.requests == [], canary.requests

        # The control: the same CSS on a page of our own, and MathJax's MathML as it was before
        # it went through the sanitizer, do reach the canary in the same browser.
        control = tmp_path / "control.html"
        control.write_text(
            "<!DOCTYPE html><html><body><p>x</p>"
            f'<div style="width:20px;height:20px;background:url(http://127.0.0.1:{canary.port}/control.png)"></div>'
            f'<math><mi style="background:url(http://127.0.0.1:{canary.port}/control-mathml.png)">x</mi></math>'
            "</body></html>", encoding="utf-8")
        open_in_chromium(control, tmp_path / "shot-control.png")
        assert "/control.png" in canary.requests and "/control-mathml.png" in canary.requests, canary.requests
