"""The corpus site in MathML mode as Chromium draws it at a phone's width: every `\\eqref` a
link the browser follows (HTML or SVG, never a link on MathML, which only Firefox follows),
and no display formula cut off at 390 px: one scrolls in its own box only once it is down to
MIN_FIT of the text's size."""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter

import pytest
from kexue_anthology.engine.options import EngineOptions
from kexue_anthology.formulas.mathhtml import MIN_FIT
from kexue_anthology.stages import Run, run_stages

from tests.helpers import run_cli
from tests.test_html import chromium

pytestmark = [pytest.mark.browser, pytest.mark.engine, pytest.mark.pandoc]

# All post pages side by side in iframes 390 px wide; measured once everything has loaded.
HARNESS = """<!DOCTYPE html><html><body style="margin:0">{frames}<script>
window.addEventListener('load', () => {{
  const out = {{}};
  for (const frame of document.querySelectorAll('iframe')) {{
    const doc = frame.contentDocument, view = frame.contentWindow;
    const links = [...doc.querySelectorAll('a[href*="#eq-"]')];
    const followed = links.filter(a => {{
      a.scrollIntoView({{block: 'center'}});
      const r = a.getBoundingClientRect();
      const hit = doc.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
      return hit && hit.closest('a') === a;
    }}).length;
    // a formula may scroll in its box only once it is down to MIN_FIT of the text's size
    const size = e => parseFloat(view.getComputedStyle(e).fontSize);
    const cut = [...doc.querySelectorAll('.math.display .math-body')]
      .filter(b => (b.scrollWidth > b.clientWidth + 1 && size(b) > {min_fit} * size(b.parentElement) + 0.1)
                   || b.getBoundingClientRect().right > view.innerWidth + 1)
      .map(b => b.parentElement.dataset.formula);
    out[frame.getAttribute('src')] = {{links: links.length, followed,
      mathml_links: doc.querySelectorAll('math [href]').length, cut,
      page: doc.documentElement.scrollWidth, screen: doc.documentElement.clientWidth}};
  }}
  const pre = document.createElement('pre'); pre.id = 'kx-measure'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
}});
</script></body></html>"""


@pytest.mark.corpus
def test_every_eqref_is_a_followed_link_and_no_formula_is_cut_at_390px(corpus, corpus_site):
    browser = chromium()
    site = corpus_site[0] / "site"
    posts = site / "posts"
    run = Run(paths=[str(corpus)], engine=EngineOptions(cache_dir=corpus_site[0] / "cache"))   # verdicts cached
    numbers = run_stages(run, "number").numbers
    expected = Counter()
    for post_id, post_numbers in numbers.items():
        expected[post_id] = sum(1 for refs in post_numbers.refs.values() for r in refs if r.target)
    pages = sorted(p.name for p in posts.glob("*.html") if not p.name.startswith("_"))
    frames = "".join(f'<iframe src="{name}" style="border:0;width:390px;height:700px"></iframe>' for name in pages)
    probe = posts / "_eqref-links.html"
    probe.write_text(HARNESS.format(frames=frames, min_fit=MIN_FIT), encoding="utf-8")
    args = [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--disable-background-networking", "--allow-file-access-from-files", "--window-size=500,1000",
            "--dump-dom", probe.as_uri()]
    try:
        dom = subprocess.run(args, capture_output=True, text=True, timeout=600)
    finally:
        probe.unlink()                    # the site is shared by the session's tests: leave it as built
    found = re.search(r'<pre id="kx-measure">(.*?)</pre>', dom.stdout, re.S)
    assert found, dom.stderr[-2000:]
    measured = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert len(measured) == len(pages) > 100
    total = sum(expected.values())
    assert total > 300                                       # the corpus is full of references
    for name, page in measured.items():
        post_id = name.removesuffix(".html")
        assert page["mathml_links"] == 0, name
        assert page["links"] >= expected[post_id], (name, page, expected[post_id])
        assert page["followed"] == page["links"], (name, page)
        assert not page["cut"], (name, page["cut"])
        assert page["screen"] == 390


ALIGNED = r"""---
title: 对齐
id: "9960"
---
$$\begin{aligned}\mathcal{L}(\theta) + \lambda x =&\, \mathbb{E}[x] \\ \leq&\, \log n + \sum_{i=1}^n a_i\end{aligned}$$
"""
MEASURE = """<!DOCTYPE html><html><body style="margin:0">
<iframe id="f" src="{page}" style="border:0;width:{width}px;height:900px"></iframe><script>
document.getElementById('f').addEventListener('load', () => {{
  const doc = document.getElementById('f').contentDocument;
  const cells = [...doc.querySelectorAll('mtd')].map(c => {{
    const kids = [...c.querySelectorAll('mi, mo, mn')].map(e => e.getBoundingClientRect());
    return [Math.min(...kids.map(r => r.left)), Math.max(...kids.map(r => r.right))];
  }});
  const pre = document.createElement('pre'); pre.id = 'kx-measure'; pre.textContent = JSON.stringify(cells);
  document.body.appendChild(pre);
}});
</script></body></html>"""


def test_aligned_rows_align_at_their_ampersands_in_chromium(tmp_path):
    """MathML Core ignores `columnalign`: after kexue_anthology.formulas.mathcore the right-aligned first column
    of `aligned` ends at one x in every row and the second column starts at one x."""
    browser = chromium()
    (tmp_path / "a.md").write_text(ALIGNED, encoding="utf-8")
    status, _, stderr = run_cli("build", "html", str(tmp_path / "a.md"), "--out", str(tmp_path / "site"),
                                "--cache-dir", str(tmp_path / "cache"))
    assert status == 0, stderr
    probe = tmp_path / "site" / "posts" / "_measure.html"
    probe.write_text(MEASURE.format(page="9960.html", width=800), encoding="utf-8")
    args = [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--allow-file-access-from-files", "--window-size=820,900", "--dump-dom", probe.as_uri()]
    dom = subprocess.run(args, capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="kx-measure">(.*?)</pre>', dom.stdout, re.S)
    assert found, dom.stderr[-2000:]
    (a1, a2), (b1, _b2), (c1, c2), (d1, _d2) = json.loads(found.group(1))
    assert abs(a2 - c2) < 1.5, (a2, c2)           # first column: right edges together
    assert abs(b1 - d1) < 1.5, (b1, d1)           # second column: left edges together
    assert c1 - a1 > 40                            # and the short cell really is set right
