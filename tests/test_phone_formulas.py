"""Display formulas on a phone (390 px) in Chromium: a wide one shrinks to the column only down to
MIN_FIT of the text's size (below that the blog's post 7695 drew equations 5 px tall); past that
it scrolls sideways in its own box, its number in view at the right.  Both math modes."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from kexue_anthology.formulas.mathhtml import MIN_FIT

from tests.helpers import run_cli
from tests.test_html import chromium
from tests.test_site_look import CHROMIUM_ARGS

pytestmark = [pytest.mark.browser, pytest.mark.engine, pytest.mark.pandoc, pytest.mark.corpus]

# Each display formula: its size against the text's, its drawn height against the height it has
# unshrunk, whether its box scrolls, and where its numbers are.
HARNESS = """<!DOCTYPE html><html><body style="margin:0">
<iframe id="f" src="{page}" style="border:0;width:{width}px;height:900px"></iframe><script>
document.getElementById('f').addEventListener('load', () => {{
  const frame = document.getElementById('f'), doc = frame.contentDocument, view = frame.contentWindow;
  const size = e => parseFloat(view.getComputedStyle(e).fontSize);
  const text = size(doc.querySelector('.post-body p'));
  const out = [...doc.querySelectorAll('.math.display')].map(m => {{
    const body = m.querySelector('.math-body'), drawing = body.querySelector('svg, math, img');
    const tags = [...m.querySelectorAll('.eq-tag')].map(t => t.getBoundingClientRect())
      .map(r => [r.left, r.right, r.height]);
    return {{formula: m.dataset.formula, scale: size(body) / text, text,
      height: drawing.getBoundingClientRect().height, natural: drawing.getBoundingClientRect().height * text / size(body),
      scrolls: [body, drawing].some(e => e.scrollWidth > e.clientWidth + 1), right: m.getBoundingClientRect().right, tags}};
  }});
  const pre = document.createElement('pre'); pre.id = 'kx-measure';
  pre.textContent = JSON.stringify({{screen: doc.documentElement.clientWidth, page: doc.documentElement.scrollWidth,
                                    formulas: out}});
  document.body.appendChild(pre);
}});
</script></body></html>"""


def measure_formulas(page, width: int = 390) -> dict:
    """Chromium's measure of every display formula of `page` (a file) shown `width` px wide."""
    probe = page.parent / f"_phone-{width}.html"
    probe.write_text(HARNESS.format(page=page.name, width=width), encoding="utf-8")
    try:
        dom = subprocess.run([chromium(), *CHROMIUM_ARGS, "--dump-dom", probe.as_uri()],
                             capture_output=True, text=True, timeout=300)
    finally:
        probe.unlink()
    found = re.search(r'<pre id="kx-measure">(.*?)</pre>', dom.stdout, re.S)
    assert found, dom.stderr[-2000:]
    measured: dict = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    return measured


@pytest.mark.parametrize("math", ["mathml", "svg"])
def test_no_display_formula_of_7695_is_drawn_below_a_readable_size_at_390px(corpus, tmp_path, math):
    status, _, stderr = run_cli("build", "html", corpus / "7695.txt", "--math", math, "--out", tmp_path / "site",
                                "--cache-dir", tmp_path / "cache")
    assert status == 0, stderr
    measured = measure_formulas(tmp_path / "site" / "posts" / "7695.html")
    assert measured["screen"] == 390 and measured["page"] <= 390          # the page itself never scrolls
    formulas = measured["formulas"]
    assert len(formulas) > 10
    scrolled = 0
    for f in formulas:
        assert f["scale"] >= MIN_FIT - 0.005, f                            # never smaller than MIN_FIT of the text
        assert f["height"] >= MIN_FIT * f["natural"] - 0.5, f
        assert f["right"] <= 390.5, f                                       # its box within the column
        for left, right, height in f["tags"]:                              # the number in view, at full size
            assert 0 <= left and right <= 390.5 and height >= 0.9 * f["text"], f
        scrolled += f["scrolls"]
    # equations (4), (5) and (7), 5 px tall when they were shrunk to fit, now scroll in their own box
    assert scrolled >= 3
