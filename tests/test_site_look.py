"""How the site looks in a browser, beyond its formulas: no page of the corpus site scrolls
sideways at a phone's width (390 px) and no list entry, heading or navigation is set justified;
no link ends in an underlined space; dark mode darkens the paper and draws formulas (MathML and
SVG) in the text's colour; paper (Chromium's print) carries the text without the site's chrome;
errors.html names sources relative to the content folder."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from kexue_anthology.formats.html.emitter import source_names

from tests.helpers import run_cli
from tests.test_html import chromium

CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                 "--disable-background-networking", "--disable-component-update", "--no-first-run",
                 "--allow-file-access-from-files", "--window-size=500,1000"]

# Every page side by side in iframes of the given width, measured once all have loaded.
HARNESS = """<!DOCTYPE html><html><body style="margin:0">{frames}<script>
window.addEventListener('load', () => {{
  const out = {{}};
  for (const frame of document.querySelectorAll('iframe')) {{
    const doc = frame.contentDocument, view = frame.contentWindow;
    const style = e => view.getComputedStyle(e);
    const justified = [...doc.querySelectorAll('li, h1, h2, h3, h4, nav, header, .summary, .post-meta')]
      .filter(e => style(e).textAlign === 'justify').map(e => e.textContent.trim().slice(0, 30));
    const edge = (n, last) => {{
      while (n && n.nodeType === 1 && !['svg', 'math'].includes(n.localName)) n = last ? n.lastChild : n.firstChild;
      return n && n.nodeType === 3 ? n.data : '';
    }};
    const spaced = [...doc.querySelectorAll('a')]
      .filter(a => style(a).textDecorationLine.includes('underline')
                   && (/^\\s/.test(edge(a, false)) || /\\s$/.test(edge(a, true))))
      .map(a => a.outerHTML.slice(0, 120));
    const text = doc.querySelector('.post-body p') || doc.body;
    const formula = doc.querySelector('.math math, .math svg g[fill]');
    out[frame.getAttribute('src')] = {{
      page: doc.documentElement.scrollWidth, screen: doc.documentElement.clientWidth,
      wide: [...doc.querySelectorAll('.math')].filter(m => m.getBoundingClientRect().right > view.innerWidth + 1)
        .map(m => m.dataset.formula || m.className),
      justified, spaced, dark: view.matchMedia('(prefers-color-scheme: dark)').matches,
      paper: style(doc.body).backgroundColor, text: style(text).color,
      formula: formula ? (formula.tagName.toLowerCase() === 'math' ? style(formula).color : style(formula).fill) : null,
    }};
  }}
  const pre = document.createElement('pre'); pre.id = 'kx-measure'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
}});
</script></body></html>"""


def measure(site: Path, pages: list[str], width: int = 390, dark: bool = False) -> dict[str, dict]:
    """Chromium's view of `pages` (paths relative to `site`), all in one run."""
    frames = "".join(f'<iframe src="{p}" style="border:0;width:{width}px;height:600px"></iframe>' for p in pages)
    probe = site / f"_look-{width}{'-dark' if dark else ''}.html"
    probe.write_text(HARNESS.format(frames=frames), encoding="utf-8")
    try:
        args = [chromium(), *CHROMIUM_ARGS, *(["--force-dark-mode"] if dark else []), "--dump-dom", probe.as_uri()]
        dom = subprocess.run(args, capture_output=True, text=True, timeout=900)
    finally:
        probe.unlink()
    found = re.search(r'<pre id="kx-measure">(.*?)</pre>', dom.stdout, re.S)
    assert found, dom.stderr[-2000:]
    measured: dict[str, dict] = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&")
                                           .replace("&lt;", "<").replace("&gt;", ">"))
    assert set(measured) == set(pages)
    return measured


def site_pages(site: Path) -> list[str]:
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html") if not p.name.startswith("_"))


@pytest.mark.browser
@pytest.mark.corpus
def test_no_page_of_the_corpus_site_scrolls_sideways_at_390px(corpus_site):
    site = corpus_site[0] / "site"
    pages = site_pages(site)
    assert len(pages) > 131
    measured = measure(site, pages)
    for name, page in measured.items():
        assert page["screen"] == 390, name
        assert page["page"] <= page["screen"], (name, page["page"], page["wide"])
        assert not page["justified"], (name, page["justified"][:5])
        assert not page["spaced"], (name, page["spaced"][:5])
        assert not page["dark"]
    # the posts whose inline formulas are wider than a phone's column
    for post in ("4014", "6377", "8679", "9554", "9595", "9775"):
        assert f"posts/{post}.html" in measured


@pytest.mark.browser
@pytest.mark.corpus
@pytest.mark.engine
@pytest.mark.pandoc
def test_dark_mode_darkens_the_paper_and_draws_formulas_in_the_text_colour(corpus, corpus_site, tmp_path):
    mathml = corpus_site[0] / "site"
    sources = tmp_path / "src"
    sources.mkdir()
    for post in ("7006", "4014"):
        shutil.copy(corpus / f"{post}.txt", sources)
    svg = tmp_path / "svg"
    status, _, stderr = run_cli("build", "html", sources, "--out", svg, "--math", "svg",
                                "--cache-dir", corpus_site[0] / "cache")
    assert status == 0, stderr
    assert 'fill="currentColor"' in (svg / "posts" / "7006.html").read_text(encoding="utf-8")
    for site in (mathml, svg):
        pages = ["index.html", "posts/7006.html", "posts/4014.html"]
        light, dark = measure(site, pages, width=1280), measure(site, pages, width=1280, dark=True)
        for name in pages:
            assert not light[name]["dark"] and dark[name]["dark"]
            assert light[name]["paper"] != dark[name]["paper"], name
            assert light[name]["text"] != dark[name]["text"], name
            paper = [int(c) for c in re.findall(r"\d+", dark[name]["paper"])[:3]]
            text = [int(c) for c in re.findall(r"\d+", dark[name]["text"])[:3]]
            assert sum(paper) < 150 and sum(text) > 500, (name, paper, text)     # light on dark
            if name.startswith("posts/"):
                for view in (light, dark):
                    assert view[name]["formula"] == view[name]["text"], (site.name, name, view[name])


@pytest.mark.browser
@pytest.mark.corpus
def test_paper_carries_the_text_without_the_sites_chrome(corpus_site, tmp_path):
    if not shutil.which("pdftotext"):
        pytest.skip("needs pdftotext (Debian: poppler-utils)")
    site = corpus_site[0] / "site"
    for page, words in (("posts/7006.html", "最小熵原理"), ("index.html", "按日期")):
        pdf = tmp_path / (page.replace("/", "-") + ".pdf")
        args = [chromium(), *CHROMIUM_ARGS, "--force-dark-mode", "--no-pdf-header-footer",
                f"--print-to-pdf={pdf}", (site / page).as_uri()]
        subprocess.run(args, capture_output=True, timeout=300)
        assert pdf.exists() and pdf.stat().st_size > 10_000, page
        text = subprocess.run(["pdftotext", "-l", "3", pdf, "-"], capture_output=True, text=True).stdout
        assert words in text, page
        assert "本地离线阅读版" not in text, page           # the footer
        assert "首页 ›" not in text and "首页›" not in text, page    # the crumbs
        if page.startswith("posts/"):
            assert "https://kexue.fm" in text             # external links print their address
        # black on white even when the screen is dark: the first page's corner is paper-white
        png = tmp_path / "page"
        subprocess.run(["pdftoppm", "-r", "20", "-f", "1", "-l", "1", "-png", pdf, png], check=True)
        from PIL import Image
        with Image.open(next(tmp_path.glob("page*.png"))) as image:
            assert image.convert("RGB").getpixel((2, 2)) == (255, 255, 255)
        for f in tmp_path.glob("page*.png"):
            f.unlink()


@pytest.mark.corpus
def test_errors_page_names_sources_inside_the_content_folder(corpus, corpus_site):
    errors = (corpus_site[0] / "site" / "errors.html").read_text(encoding="utf-8")
    where = re.findall(r'<span class="where">([^<]*)</span>', errors)
    assert len(where) == 14
    assert all(re.fullmatch(r"[^/\\:]+\.txt:\d+:\d+", w) for w in where), where
    assert str(corpus) not in errors and str(Path.home()) not in errors and "/tmp/" not in errors


def test_source_names_are_relative_to_the_common_folder(tmp_path):
    root = tmp_path / "content"
    name = source_names([str(root / "a" / "x.md"), str(root / "b" / "c" / "y.md")])
    assert name(str(root / "a" / "x.md")) == "a/x.md"
    assert name(str(root / "b" / "c" / "y.md")) == "b/c/y.md"
    assert name(str(tmp_path / "elsewhere.md")) == "elsewhere.md"      # outside: the file's name alone
    assert source_names([str(root / "a" / "x.md")])(str(root / "a" / "x.md")) == "x.md"
    assert source_names([])(os.path.join(os.getcwd(), "z.md")) == "z.md"
