"""The HTML collection: structure, links, sanitising, reproducibility, and Chromium's view of it."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.helpers import run_cli

pytestmark = [pytest.mark.engine, pytest.mark.pandoc]

HREF = re.compile(r'<(?:a|link)\b[^>]*?\bhref="([^"]*)"')
ID = re.compile(r'\bid="([^"]+)"')


def build(*args, out: Path, cache: Path):
    status, stdout, stderr = run_cli("build", "html", *args, "--out", out, "--cache-dir", cache)
    return status, stdout, stderr


def pages(site: Path) -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for p in site.rglob("*.html")}


def check_links(site: Path) -> dict[str, int]:
    """Every link is external (http/https/mailto) or names a file of the site and an id in it."""
    texts = pages(site)
    ids = {p.resolve(): set(ID.findall(t)) for p, t in texts.items()}
    counts = {"external": 0, "internal": 0, "eqref": 0, "post": 0}
    for page, text in texts.items():
        for url in HREF.findall(text):
            url = url.replace("&amp;", "&")
            if re.match(r"^(https?:|mailto:)", url):
                counts["external"] += 1
                continue
            assert not re.match(r"^[a-z][a-z0-9+.-]*:", url, re.I), f"{page}: link {url!r} leaves the site"
            path, _, fragment = url.partition("#")
            target = (page.parent / unquote(path)).resolve() if path else page.resolve()
            assert target.exists(), f"{page}: link {url!r} names a missing file"
            assert site.resolve() in target.parents, f"{page}: link {url!r} points outside the site"
            if fragment and target.suffix == ".html":
                assert unquote(fragment) in ids[target], f"{page}: link {url!r}: no such id"
            counts["internal"] += 1
            counts["eqref"] += fragment.startswith("eq-")
            counts["post"] += "/posts/" in "/" + path and target != page.resolve()
    return counts


def check_structure(site: Path, status_ok: bool = True) -> None:
    index = (site / "index.html").read_text(encoding="utf-8")
    posts = sorted((site / "posts").glob("*.html"))
    assert posts
    for post in posts:
        assert f'href="posts/{post.name}"' in index or f'href="posts/{post.stem}' in index
    for series in (site / "series").glob("*.html"):
        parts = [int(n) for n in re.findall(r'<li value="(\d+)">', series.read_text(encoding="utf-8"))]
        assert parts == sorted(parts) and parts, series
    for page, text in pages(site).items():
        assert "<script" not in text.lower() or page == site / "search.html", page      # search: its page only
        assert not re.search(r"<[^>]+\son[a-z]+\s*=", text, re.I), page
        assert "javascript:" not in text.lower(), page


def test_the_seed_site(tmp_path):
    status, _stdout, stderr = build(out=tmp_path / "site", cache=tmp_path / "cache")
    assert status == 0, stderr
    site = tmp_path / "site"
    check_structure(site)
    assert len(list((site / "posts").glob("*.html"))) == 39
    series = {p.stem: p.read_text(encoding="utf-8") for p in (site / "series").glob("*.html")}
    assert set(series) == {"最小熵原理", "多任务学习漫谈", "低秩近似之路"}
    assert series["最小熵原理"].index("最小熵原理(四)") < series["最小熵原理"].index("最小熵原理(五)")
    counts = check_links(site)
    assert counts["internal"] > 100
    assert "<math" in "".join(pages(site).values())
    assert (site / "assets" / "site.css").exists() and (site / "assets" / "math.css").exists()


def test_the_corpus_site(corpus_site):
    work, status, stdout, _stderr = corpus_site
    site = work / "site"
    assert status == 1                                 # the corpus has 14 formulas MathJax rejects
    assert "131 posts" in stdout and "14 shown as source" in stdout
    check_structure(site)
    assert len(list((site / "posts").glob("*.html"))) == 131
    counts = check_links(site)
    assert counts["eqref"] >= 300    # of 309 resolved references, a few stand inside larger formulas
    assert counts["post"] > 0                          # links between posts stay in the site
    text = "".join(pages(site).values())
    ids = {m for m in re.findall(r"kexue\.fm/archives/(\d+)", text)}
    own = {p.stem for p in (site / "posts").glob("*.html")}
    inside_bodies = "".join(re.findall(r'<div class="post-body">(.*?)</div>\n', text, re.S))
    linked = set(re.findall(r'href="https?://kexue\.fm/archives/(\d+)', inside_bodies))
    assert not linked & own, "links to posts of the collection must point inside the site"
    assert ids
    series = (site / "series" / "最小熵原理.html").read_text(encoding="utf-8")
    assert re.findall(r'<li value="(\d+)">', series) == ["1", "2", "3", "4", "5", "6"]
    errors = (site / "errors.html").read_text(encoding="utf-8")
    assert errors.count('<li><a href="posts/') == 14
    post = (site / "posts" / "7006.html").read_text(encoding="utf-8")
    assert post.count('class="eq-tag"') == 15 and "‹ 最小熵原理（四）" in post.replace("(", "（")


def test_no_link_of_the_corpus_site_lands_nowhere(corpus_site):
    """Every internal href of the corpus site (`#x`, `page.html`, `page.html#x`) names a file and
    an id in it; a link that could not land was reported and is shown as text instead."""
    work, _, _, stderr = corpus_site
    site = work / "site"
    counts = check_links(site)
    assert counts["internal"] > 1000
    shown = "".join(pages(site).values()).count('<span class="dangling-link">')
    assert shown == stderr.count("[dangling-link]")


def test_strict_build_writes_nothing(corpus, corpus_site, tmp_path):
    status, _stdout, stderr = run_cli("build", "html", corpus, "--out", tmp_path / "site", "--strict",
                                     "--cache-dir", corpus_site[0] / "cache")
    assert status == 1 and "nothing written" in stderr and stderr.count(": error: ") > 12
    assert not (tmp_path / "site").exists()


def test_raw_html_and_script_urls_never_reach_the_page(tmp_path):
    (tmp_path / "p.md").write_text(
        "---\ntitle: 不安全\nid: '77'\n---\n"
        "文字<script>alert(1)</script>和<img src=x onerror=alert(2)>以及[链接](javascript:alert(3))。\n\n"
        "公式$\\href{javascript:alert(4)}{x}$与$\\href{https://example.org}{y}$。\n\n"
        "![远程图片](https://example.org/a.png)\n", encoding="utf-8")
    for math in ("mathml", "svg"):
        status, _, stderr = run_cli("build", "html", tmp_path / "p.md", "--out", tmp_path / math,
                                    "--math", math, "--cache-dir", tmp_path / "cache")
        assert status == 0, stderr
        check_structure(tmp_path / math)
        text = (tmp_path / math / "posts" / "77.html").read_text(encoding="utf-8")
        assert "&lt;script&gt;" in text and "alert(1)" in text          # shown as text, not run
        assert 'href="https://example.org"' in text
        assert 'class="image-placeholder"' in text and "https://example.org/a.png" in text
        assert "<img" not in text or 'src="https://' not in text      # nothing fetched from the web


def test_two_builds_are_the_same_and_leave_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    digests = []
    for _ in range(2):
        status, _, stderr = build(out=tmp_path / "site", cache=tmp_path / "cache")
        assert status == 0, stderr
        digests.append(hashlib.sha256(b"".join(p.relative_to(tmp_path).as_posix().encode() + p.read_bytes()
                                                for p in sorted((tmp_path / "site").rglob("*"))
                                                if p.is_file())).hexdigest())
    assert digests[0] == digests[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "site"]


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip("needs Chromium for screenshots (Debian: apt-get install chromium)")


# Headless Chromium will not make a window narrower than 500 px, so the page is shown in an
# iframe of the wanted width and measured there.
HARNESS = """<!DOCTYPE html><html><body style="margin:0">
<iframe id="f" src="{page}" style="border:0;width:{width}px;height:2400px"></iframe>
<script>
document.getElementById('f').addEventListener('load', () => {{
  const doc = document.getElementById('f').contentDocument;
  const boxes = [...doc.querySelectorAll('math, .math > .math-body > svg, .math.inline > svg, .eq-tag')]
    .map(e => {{ const b = e.getBoundingClientRect(); return [e.tagName.toLowerCase(), b.width, b.height]; }});
  const pre = document.createElement('pre'); pre.id = 'kx-measure';
  pre.textContent = JSON.stringify({{boxes, width: doc.documentElement.scrollWidth,
                                     screen: doc.documentElement.clientWidth}});
  document.body.appendChild(pre);
}});
</script></body></html>"""


@pytest.mark.browser
@pytest.mark.parametrize("math", ["mathml", "svg"])
def test_chromium_draws_the_math_at_phone_and_desktop_widths(corpus, corpus_site, math, tmp_path):
    browser = chromium()
    work = corpus_site[0]
    site = work / "site"
    if math == "svg":
        site = tmp_path / "site"
        status, _, _stderr = build(corpus, "--math", "svg", out=site, cache=work / "cache")
        assert status == 1 and "<svg" in (site / "posts" / "7006.html").read_text(encoding="utf-8")
    page = site / "posts" / "7006.html"
    shots = Path(work) / "screenshots"
    shots.mkdir(exist_ok=True)
    for width in (390, 1280):
        probe = page.with_name(f"_measure-{width}.html")
        probe.write_text(HARNESS.format(page=page.name, width=width), encoding="utf-8")
        args = [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                "--allow-file-access-from-files", f"--window-size={max(width, 500)},2400"]
        dom = subprocess.run([*args, "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120)
        found = re.search(r'<pre id="kx-measure">(.*?)</pre>', dom.stdout, re.S)
        assert found, dom.stderr[-2000:]
        measured = json.loads(found.group(1).replace("&quot;", '"'))
        drawn = [b for b in measured["boxes"] if b[0] != "span"]
        assert len(drawn) > 60
        assert all(w > 0 and h > 0 for _, w, h in drawn), [b for b in drawn if not (b[1] > 0 and b[2] > 0)][:5]
        assert all(w > 0 for tag, w, _ in measured["boxes"] if tag == "span")     # equation numbers
        assert measured["screen"] == width and measured["width"] <= width, measured["width"]  # no sideways scroll
        shot = shots / f"7006-{math}-{width}.png"
        subprocess.run([*args, f"--screenshot={shot}", probe.as_uri()], capture_output=True, timeout=120)
        probe.unlink()                    # the site is shared by the session's tests: leave it as built
        assert shot.stat().st_size > 50_000
