"""Formulas as HTML in MathML mode as Chromium draws them: references inside a larger formula
are links every browser follows, and wide display formulas shrink to a phone's column."""

from __future__ import annotations

import re

import pytest
from kexue_anthology.documents.pandoc_ast import Attr, Span, Str
from kexue_anthology.formulas.mathhtml import FIT_FROM, MathHTML, _swap

from tests.test_render import rendered, write_post

pytestmark = pytest.mark.engine

POST = r"""第一个：
\begin{{equation}}E = mc^2\label{{eq:a}}\end{{equation}}
第二个：
\begin{{equation}}\Sigma = x x^{{\top}}\label{{eq:b}}\end{{equation}}
由$\eqref{{eq:a}},\eqref{{eq:b}}$和$\Sigma\times\eqref{{eq:b}}$可知，见$\href{{https://kexue.fm}}{{x}}$。

$$\mathcal{{L}} = {long}$$

$$a = b$$
"""
LONG = " + ".join(rf"\frac{{x_{i}^2}}{{y_{i}}}" for i in range(40))


def _formulas(tmp_path, mode):
    path = write_post(tmp_path, "links.md", POST.format(long=LONG))
    run = rendered(path, cache_dir=tmp_path / "cache")
    post, numbers = run.posts[0], run.numbers["r1"]
    html = MathHTML(mode=mode)
    return {f.tex: html.formula(f, numbers, run.renders.get((post.id, f.index))) for f in post.formulas}


def test_links_inside_a_larger_formula_are_svg_links_in_mathml_mode(tmp_path):
    out = _formulas(tmp_path, "mathml")
    pair = out[r"\eqref{eq:a},\eqref{eq:b}"]
    assert "<math" not in pair and pair.count("<svg") == 1
    assert re.findall(r'<a [^>]*href="(#eq-[^"]+)"', pair) == ["#eq-r1-l-eq.3a.a", "#eq-r1-l-eq.3a.b"]
    assert 'aria-label="' in pair                            # the alt text goes with the drawing
    assert "<svg" in out[r"\Sigma\times\eqref{eq:b}"]
    assert 'href="https://kexue.fm"' in out[r"\href{https://kexue.fm}{x}"]
    # Without links a formula stays MathML, and no MathML anywhere carries a link.
    assert "<math" in out["a = b"]
    assert not any(re.search(r"<math\b[^>]*>.*\bhref=", h, re.S) for h in out.values())


def test_wide_display_formulas_shrink_to_their_column_down_to_a_readable_size(tmp_path):
    for mode in ("mathml", "svg"):
        out = _formulas(tmp_path, mode)
        wide = out[r"\mathcal{L} = " + LONG]
        sizes = re.findall(r'class="math-body" style="font-size:max\(0.7em,min\(1em,calc\(\(100vw - 2.5rem\) / '
                           r'([\d.]+)\)\)\);font-size:max\(0.7em,min\(1em,calc\(100cqi / ([\d.]+)\)\)\)"', wide)
        assert sizes and float(sizes[0][0]) > FIT_FROM and sizes[0][0] == sizes[0][1], wide[:300]
        assert 'class="math-body">' in out["a = b"]          # narrow ones are left alone


def test_a_span_a_post_writes_itself_is_not_taken_for_a_formula():
    ours = Span.new(Attr.new("", ["math"], [("data-formula", "0")]), [Str.new("x")])
    written = Span.new(Attr.new("", ["math"], []), [Str.new("文本")])               # `[文本]{.math}`
    forged = Span.new(Attr.new("", ["math"], [("data-formula", "99")]), [Str.new("y")])
    blocks = [{"t": "Para", "c": [ours, written, forged]}]
    _swap(blocks, 1, lambda i: f"<formula {i}>")
    assert blocks[0]["c"][0] == {"t": "RawInline", "c": ["html", "<formula 0>"]}
    assert blocks[0]["c"][1:] == [written, forged]
