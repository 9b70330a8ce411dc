"""MathJax's MathML as MathML Core draws it (kexue_anthology.formulas.mathcore) and the alt text of formulas."""

from __future__ import annotations

import re
import unicodedata

import pytest
from kexue_anthology.engine.options import EngineOptions
from kexue_anthology.formulas.formula_text import alt_text
from kexue_anthology.formulas.mathcore import STYLED, core_mathml
from kexue_anthology.formulas.mathhtml import MathHTML
from kexue_anthology.formulas.safemarkup import safe_markup
from kexue_anthology.stages import Run, run_stages

from tests.conftest import DATA

M = '<math xmlns="http://www.w3.org/1998/Math/MathML">'
NOT_NORMAL = re.compile(r'mathvariant="(?!normal")')


def core(body: str) -> str:
    out = core_mathml(M + body + "</math>")
    assert out.startswith(M) and out.endswith("</math>")
    return out[len(M):-len("</math>")]


def test_styled_characters_come_from_unicode_with_the_letterlike_holes():
    assert STYLED["double-struck"]["E"] == "𝔼" and STYLED["double-struck"]["R"] == "ℝ"
    assert STYLED["double-struck"]["1"] == "𝟙" and STYLED["double-struck"]["N"] == "ℕ"
    assert STYLED["script"]["H"] == "ℋ" and STYLED["script"]["A"] == "𝒜" and STYLED["script"]["e"] == "ℯ"
    assert STYLED["bold-italic"]["v"] == "𝒗" and STYLED["bold-italic"]["α"] == "𝜶"
    assert STYLED["fraktur"]["R"] == "ℜ" and STYLED["fraktur"]["g"] == "𝔤" and STYLED["italic"]["h"] == "ℎ"
    assert STYLED["bold"]["Σ"] == "𝚺" and STYLED["bold"]["∇"] == "𝛁" and STYLED["bold"]["1"] == "𝟏"
    assert STYLED["bold-italic"]["ϵ"] == "𝝐" and STYLED["bold-italic"]["ϕ"] == "𝝓" and STYLED["bold-italic"]["ϖ"] == "𝝕"
    assert unicodedata.name(STYLED["sans-serif-bold-italic"]["ω"]) == "MATHEMATICAL SANS-SERIF BOLD ITALIC SMALL OMEGA"
    assert STYLED["monospace"]["7"] == "𝟽" and STYLED["sans-serif"]["2"] == "𝟤"
    for variant, table in STYLED.items():
        assert all(len(c) == 1 and c != plain for plain, c in table.items()), variant
    assert len(STYLED["bold"]) == 120 and len(STYLED["script"]) == 52


def test_tokens_take_their_styled_characters_and_no_variant_is_left():
    out = core('<mrow class="MJX-TeXAtom-ORD"><mi mathvariant="double-struck">E</mi></mrow>'
               '<mi class="MJX-tex-caligraphic" mathvariant="script">H</mi><mi mathvariant="bold-italic">v</mi>'
               '<mn mathvariant="double-struck">1</mn><mi mathvariant="bold-italic">&#x03B1;</mi>'
               '<mi mathvariant="italic">ab</mi><mi mathvariant="normal">d</mi><mi mathvariant="normal">&#x0393;</mi>')
    assert out == ('<mrow class="MJX-TeXAtom-ORD"><mi>&#x1D53C;</mi></mrow><mi class="MJX-tex-caligraphic">&#x210B;</mi>'
                   '<mi>&#x1D497;</mi><mn>&#x1D7D9;</mn><mi>&#x1D736;</mi><mi>&#x1D44E;&#x1D44F;</mi>'
                   '<mi mathvariant="normal">d</mi><mi mathvariant="normal">&#x0393;</mi>')


def test_a_variant_is_inherited_from_an_ancestor():
    out = core('<mstyle mathvariant="bold"><mi>x</mi><mrow><mn>12</mn><mi mathvariant="normal">y</mi>'
               '<mi mathvariant="script">L</mi></mrow></mstyle><mrow mathvariant="double-struck"><mi>R</mi></mrow>'
               '<mstyle mathvariant="normal"><mi>z</mi></mstyle>')
    assert out == ('<mstyle><mi>&#x1D431;</mi><mrow><mn>&#x1D7CF;&#x1D7D0;</mn><mi mathvariant="normal">y</mi>'
                   '<mi>&#x2112;</mi></mrow></mstyle><mrow><mi>&#x211D;</mi></mrow>'
                   '<mstyle><mi mathvariant="normal">z</mi></mstyle>')


def test_characters_without_a_styled_form_keep_bold_as_css():
    out = core('<mi>a</mi><mo mathvariant="bold">+</mo><mi mathvariant="bold">&#x210F;</mi>'
               '<mtext mathvariant="bold" style="color:red">&#x4E2D;</mtext><mi mathvariant="double-struck">&#x2202;</mi>'
               '<mrow class="MJX-TeXAtom-ORD"><mtext mathvariant="bold">&#x7C97;&#x4F53; ab</mtext></mrow>')
    assert out == ('<mi>a</mi><mo style="font-weight:bold">+</mo><mi style="font-weight:bold" mathvariant="normal">&#x210F;</mi>'
                   '<mtext style="color:red;font-weight:bold">&#x4E2D;</mtext><mi mathvariant="normal">&#x2202;</mi>'
                   '<mrow class="MJX-TeXAtom-ORD"><mrow><mtext style="font-weight:bold">&#x7C97;&#x4F53;&#x00A0;</mtext>'
                   '<mtext>&#x1D41A;&#x1D41B;</mtext></mrow></mrow>')
    assert safe_markup(M + out + "</math>") == M + out + "</math>"     # the output's allowlist keeps the CSS


FN = '<mo>&#x2061;</mo>'


def test_function_application_gets_the_thin_space_tex_puts_there():
    assert core(f"<mi>log</mi>{FN}<mi>p</mi>") == '<mi>log</mi><mo rspace="0.1667em">&#x2061;</mo><mi>p</mi>'
    assert core_mathml(M + f'<mi>sin</mi>{FN}<mo stretchy="false">(</mo><mi>x</mi><mo stretchy="false">)</mo></math>') \
        == M + f'<mi>sin</mi>{FN}<mo stretchy="false">(</mo><mi>x</mi><mo stretchy="false">)</mo></math>'   # none before (
    # p(x)\log p(x): a thin space before the name after a closing fence; \log\frac12, \exp\left(x\right): after it
    assert core(f'<mo stretchy="false">)</mo><mi>log</mi>{FN}<mfrac><mn>1</mn><mn>2</mn></mfrac>') == (
        '<mo stretchy="false">)</mo><mspace width="0.1667em" /><mi>log</mi><mo rspace="0.1667em">&#x2061;</mo>'
        '<mfrac><mn>1</mn><mn>2</mn></mfrac>')
    assert 'rspace="0.1667em">&#x2061;</mo><mrow><mo>(</mo>' in core(f"<mi>exp</mi>{FN}<mrow><mo>(</mo><mi>x</mi><mo>)</mo></mrow>")
    # \log_2 x and \log\log x: the name may be a script's base; no space doubled
    assert core(f"<msub><mi>log</mi><mn>2</mn></msub>{FN}<mi>x</mi>").count('rspace="0.1667em"') == 1
    assert core(f"<mi>log</mi>{FN}<mi>log</mi>{FN}<mi>x</mi>").count("0.1667em") == 2
    # \max(a,b) and a\max_i x: an operator Core does not know gets TeX's spaces, not thick ones
    assert core('<mo movablelimits="true" form="prefix">max</mo><mo stretchy="false">(</mo>') == \
        '<mo movablelimits="true" form="prefix" lspace="0" rspace="0">max</mo><mo stretchy="false">(</mo>'
    assert 'lspace="0.1667em" rspace="0.1667em">max</mo><mi>i</mi></munder><mi>x' in core(
        '<mi>a</mi><munder><mo movablelimits="true" form="prefix">max</mo><mi>i</mi></munder><mi>x</mi>')


def test_named_spaces_bars_and_signs():
    assert core('<mi>a</mi><mspace width="thinmathspace" /><mi>b</mi><mspace width="negativethickmathspace" />') == \
        '<mi>a</mi><mspace width="0.1667em" /><mi>b</mi><mspace width="-0.2778em" />'
    assert core('<mi>y</mi><mo stretchy="false">|</mo><mi>x</mi>') == \
        '<mi>y</mi><mo stretchy="false" lspace="0" rspace="0">|</mo><mi>x</mi>'
    # a = -x + (-1): the minus after = and ( is an ordinary symbol in TeX, the plus stays binary
    assert core('<mi>a</mi><mo>=</mo><mo>&#x2212;</mo><mi>x</mi><mo>+</mo><mo stretchy="false">(</mo><mo>&#x2212;</mo>'
                '<mn>1</mn><mo stretchy="false">)</mo><mo>!</mo><mo>&#x2212;</mo><mn>1</mn>') == (
        '<mi>a</mi><mo>=</mo><mo lspace="0" rspace="0">&#x2212;</mo><mi>x</mi><mo>+</mo><mo stretchy="false">(</mo>'
        '<mo lspace="0" rspace="0">&#x2212;</mo><mn>1</mn><mo stretchy="false">)</mo><mo>!</mo><mo>&#x2212;</mo><mn>1</mn>')


def test_what_it_cannot_or_need_not_change_comes_back_as_it_was():
    for markup in ("<math>not xml", "<svg xmlns='http://www.w3.org/2000/svg'/>", "",
                   M + '<mi>x</mi><mtext>&#x4E2D;&#x6587; abc</mtext><mspace width="1em" /></math>',
                   M + '<mtext>&#xD800;</mtext><mi mathvariant="bold">x</mi></math>'):
        assert core_mathml(markup) == markup
    odd = (M[:-1] + ' display="block"><semantics><mi mathvariant="bold">x</mi><annotation encoding="application/x-tex">'
           '\\mathbf{x} &lt; 1 &amp; "</annotation></semantics><merror><mtext>bad</mtext></merror>'
           '<mi><mglyph src="x.png" alt="g" /></mi><mrow class="MJX-TeXAtom-ORD"></mrow></math>')
    assert core_mathml(odd) == odd.replace(' mathvariant="bold">x', ">&#x1D431;")
    assert core_mathml(core_mathml(odd)) == core_mathml(odd)
    deep = M + "<mrow>" * 3000 + '<mi mathvariant="bold">x</mi>' + "</mrow>" * 3000 + "</math>"
    assert core_mathml(deep) == deep.replace(' mathvariant="bold">x', ">&#x1D431;")


def test_alt_text_is_the_tex_without_what_numbers_it():
    assert alt_text("\\sum_{i=1}^n 2^{-l_i}\\leq 1\\label{eq:leq}") == "\\sum_{i=1}^n 2^{-l_i}\\leq 1"
    assert alt_text("I(c)\\sim -\\log p_c\\tag{1.1}") == "I(c)\\sim -\\log p_c"
    assert alt_text("a \\tag*{$\\ast$}\n\n  b\\notag\\\\ c\\nonumber \\label {x}\\tag{{(}2)}") == "a b\\\\ c"
    assert alt_text("\\href{javascript:alert(1)}{x}+1") == "{x}+1"
    assert alt_text("\\notagged x") == "\\notagged x" and alt_text("\\alpha\\notag b") == "\\alpha b"


@pytest.fixture(scope="module")
def drawn():
    run = run_stages(Run(paths=[str(DATA / "mathcore" / "styled.md")], engine=EngineOptions(cache_dir=None)), "render")
    return run


def test_tables_get_their_alignment_spacing_and_rules_as_css():
    aligned = core('<mtable columnalign="right left" columnspacing="0em" rowspacing="3pt" rowlines="solid" '
                   'columnlines="dashed"><mtr><mtd><mi>a</mi><mo>+</mo><mi>b</mi></mtd><mtd><mo>=</mo><mi>x</mi>'
                   '</mtd></mtr><mtr><mtd><mi>a</mi></mtd><mtd><mo>=</mo><mi>y</mi></mtd></mtr></mtable>')
    cells = re.findall(r'<mtd style="([^"]*)">', aligned)
    assert cells[0] == "padding:0 0 1.5pt 0;direction:rtl;text-align:right;border-right:1px dashed;border-bottom:1px solid"
    assert cells[1] == "padding:0 0 1.5pt 0;text-align:left;border-bottom:1px solid"
    assert cells[3] == "padding:1.5pt 0 0 0;text-align:left"                  # no rule below the last row
    # A right-aligned cell is right to left (Chromium sets a cell's math at its start), its
    # content left to right.
    assert '<mtd style="padding:1.5pt 0 0 0;direction:rtl;text-align:right;border-right:1px dashed"><mrow style="direction:ltr"><mi>a</mi></mrow></mtd>' in aligned
    for css in cells:
        assert all(safe_markup(f'<math><mtd style="{css}"/></math>').count(d) for d in css.split(";"))


def test_scripts_lose_the_spaces_of_their_relations_and_enclosures_become_borders():
    sub = core("<munderover><mo>∑</mo><mrow><mi>i</mi><mo>=</mo><mn>1</mn></mrow><mi>n</mi></munderover>")
    assert '<mo lspace="0" rspace="0">=</mo>' in sub and "<mo>∑</mo>" in sub.replace("&#x2211;", "∑")
    boxed = core('<menclose notation="box"><mi>x</mi></menclose><menclose notation="top bottom"><mi>y</mi></menclose>')
    assert 'notation="box" style="border:1px solid;padding:0.2em"' in boxed
    assert 'style="border-top:1px solid;border-bottom:1px solid"' in boxed


@pytest.mark.engine
def test_real_drawings_are_mathml_core(drawn):
    post, numbers = drawn.posts[0], drawn.numbers["mc1"]
    renders = {i: r for (pid, i), r in drawn.renders.items()}
    assert len(renders) >= 14
    mathml = {post.formulas[i].tex: r.mathml for i, r in renders.items()}
    for tex, markup in mathml.items():
        assert not NOT_NORMAL.search(markup), tex
        assert not re.search(r"<mo>&#x2061;</mo><(?!mo)", markup), tex      # a bare U+2061 only before a fence
        assert safe_markup(markup) == markup, tex
    assert "&#x1D53C;" in mathml["\\mathbb{E}_{x\\sim p}[\\log q(x)]"]
    assert "&#x210B;" in mathml["\\mathcal{H}"] and "&#x211D;" in mathml["\\mathbb{R}^n"]
    assert "&#x1D497;" in mathml["\\boldsymbol{v}"] and "&#x1D6BA;" in mathml[next(t for t in mathml if "Sigma" in t)]
    assert '<mi>log</mi><mo rspace="0.1667em">&#x2061;</mo><mi>p</mi>' in mathml["\\log p"]
    assert '<mi>sin</mi><mo>&#x2061;</mo><mo stretchy="false">(</mo>' in mathml["\\sin(x)"]
    assert '<mspace width="0.1667em" /><mi>log</mi>' in mathml["p(x)\\log p(x)"]
    page = "".join(MathHTML(mode="mathml").formula(f, numbers, renders.get(f.index)) for f in post.formulas)
    # one text alternative per formula (a formula with a link may be SVG, its links named besides)
    alts = re.findall(r'<math alttext="([^"]*)"|<svg [^>]*?aria-label="([^"]*)"', page)
    alts = [a or b for a, b in alts]
    assert len(alts) == len(renders) and all(alts)
    assert not [a for a in alts if re.search(r"label|tag|\\notag", a)]
    assert "\\begin{equation}\\sum_{i=1}^n 2^{-l_i}\\leq 1\\end{equation}" in alts and "I(c)\\sim -\\log p_c" in alts
