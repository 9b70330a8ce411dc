"""The sanitizer of formula markup (kexue_anthology.formulas.safemarkup): hostile CSS and attributes go, what
MathJax writes for ordinary formulas stays byte for byte."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from kexue_anthology.formulas.safemarkup import safe_markup, safe_style

HOSTILE_STYLES = [
    "background:url(http://127.0.0.1:9/x.png)",
    "background:URL(http://127.0.0.1:9/x.png)",
    "background: Url( 'http://127.0.0.1:9/x.png' )",
    "background:u\\72l(http://127.0.0.1:9/x.png)",
    "background:u\\rl(x)",
    "background:ur/**/l(x)",
    "background:/**/url(x)",
    "background-image:url(x)",
    "background:red url(x)",
    "background:image-set('x.png' 1x)",
    "background:-webkit-image-set('x.png' 1x)",
    "@import 'http://127.0.0.1:9/x.css'",
    "@import url(x);",
    "width:expression(alert(1))",
    "behavior:url(x.htc)",
    "-moz-binding:url(x.xml#y)",
    "color:attr(title)",
    "color:var(--x)",
    "margin-left:calc(-999em)",
    "position:fixed",
    "position:absolute;top:0;left:0",
    "z-index:9999",
    "transform:scale(100)",
    "margin:-999em",
    "margin-top:-50em",
    "margin:0 0 0 -30em",
    "padding:999em",
    "font-size:9999px",
    "font-size:50em",
    "width:99999em",
    "vertical-align:-999em",
    "border:999px solid red",
    "content:'x'",
    "display:none",
    "opacity:0",
    "cursor:url(x.cur),auto",
    "list-style:url(x)",
    "mask:url(#x)",
    "filter:url(http://127.0.0.1:9/f.svg#f)",
    "color:red !important",
    "color:&#x75;rl(x)",               # entities as written in the markup
    "background:&quot;url(x)&quot;",
]


@pytest.mark.parametrize("style", HOSTILE_STYLES)
def test_hostile_declarations_go(style):
    assert safe_style(style) is None


@pytest.mark.parametrize("style, kept", [
    ("color:red; position:fixed; top:0; z-index:99; background-image:url(a.png)", "color:red"),
    ("border:2px solid blue;background:url(http://a/b.png)", "border:2px solid blue"),
    ("background:URL(x);color:red", "color:red"),
    ("color:red;/* x */", "color:red"),
    ("color:red;/* ; */background:url(x)", "color:red"),
    ("color:red;background:url('a;b');padding:1px", "color:red;padding:1px"),
    ("color:red;background:url(a;b);padding:1px", "color:red;padding:1px"),
    ("vertical-align: -0.338ex; margin-left: -2320.266ex;", "vertical-align: -0.338ex"),
    ("font-size:9999px;margin:-999em;color:blue", "color:blue"),
])
def test_safe_declarations_stay_when_others_go(style, kept):
    assert safe_style(style) == kept


@pytest.mark.parametrize("style", [
    "vertical-align: -0.338ex;",                                      # MathJax's own, on the SVG
    "vertical-align: -1.505ex; margin-left: -0.012ex;",
    "vertical-align: -0.465ex; margin-top: -0.313ex; margin-bottom: -0.707ex;",
    "vertical-align: -19.005ex; max-width: 60000px;",                  # MathJax's line breaking
    "width:1.589em;height:2.001em;vertical-align:-0.4035em;margin-bottom:0em",   # ours (mathhtml)
    "color: red;", "border:1px solid red", "border:2px solid blue", "background: yellow;",
    "color:#0f0", "color:rgb(1, 2, 3)", "background-color:hsla(120, 50%, 50%, 0.5)",
    "padding:5px", "font-size:120%", "font-size:large", "font-weight:bold", "font-style:italic",
    "font-family:'Noto Serif CJK SC', serif", "margin:0.2em 1em", "vertical-align:middle",
    "display:inline-block", "text-decoration:underline",
])
def test_benign_styles_are_unchanged(style):
    assert safe_style(style) == style


MATHJAX_SVG = (
    '<svg xmlns:xlink="http://www.w3.org/1999/xlink" width="3.686ex" height="4.009ex" '
    'style="vertical-align: -1.505ex; margin-left: -0.012ex;" viewBox="-5 -1078.4 1587.1 1726.2" '
    'role="img" focusable="false" xmlns="http://www.w3.org/2000/svg">\n<defs>\n'
    '<path stroke-width="1" id="M0123456789ab-MJMATHI-78" d="M52 289Q59 331 106 386T222 442Z"></path>\n'
    '</defs>\n<g stroke="currentColor" fill="currentColor" stroke-width="0" transform="matrix(1 0 0 -1 0 0)">\n'
    '<rect fill="red" stroke="none" width="1577" height="1459" x="0" y="-515"></rect>\n'
    '<g transform="translate(143,0)">\n<g fill="#0f0" stroke="#0f0" style="color: red;">\n'
    ' <use xlink:href="#M0123456789ab-MJMATHI-78" x="358" y="0"></use>\n</g>\n</g>\n'
    '<line stroke-linecap="square" stroke="blue" stroke-width="143.52" y1="71" x2="71" x1="71" y2="1387" '
    'transform="translate(-5,-515)"></line>\n'
    '<a class="mjx-svg-href" href="http://example.org" xlink:title="http://example.org">\n'
    '<rect width="572.5" height="455" y="-12" fill="none" stroke="none" pointer-events="all"></rect>\n</a>\n'
    '<text font-family="\'Noto Serif CJK SC\',serif" font-size="13.935" stroke="none" '
    'transform="scale(71.759) matrix(1 0 0 -1 0 0)">中</text>\n</g>\n</svg>')
MATHJAX_MATHML = (
    '<math xmlns="http://www.w3.org/1998/Math/MathML" alttext="x + 1" display="block">'
    '<mstyle mathbackground="yellow" style="border:1px solid red"><mpadded width="+10px" height="+5px" '
    'depth="+5px" lspace="5px"><mi>x</mi></mpadded></mstyle><mrow class="MJX-TeXAtom-ORD">'
    '<mi mathvariant="bold">x</mi></mrow><mo>+</mo><mstyle mathcolor="#87ceeb"><mn>1</mn></mstyle>'
    '<mspace width="-0.167em" /><mtable rowspacing="4pt" columnspacing="1em"><mtr><mtd>'
    '<mtext>&#x263A;<!-- ☺ --></mtext></mtd></mtr></mtable><mi href="#eq-1-2">y</mi>'
    '<mpadded width="0" lspace="-1width"><mi>z</mi></mpadded><mo minsize="2.470em" maxsize="2.470em">(</mo>'
    '<mstyle mathsize="2.49em"><mi>w</mi></mstyle></math>')


@pytest.mark.parametrize("markup", [MATHJAX_SVG, MATHJAX_MATHML])
def test_mathjax_output_is_unchanged(markup):
    assert safe_markup(markup) == markup


def test_hostile_mathml():
    out = safe_markup(
        '<math xmlns="http://www.w3.org/1998/Math/MathML"><mi class="eq-tag a MJX-TeXAtom-ORD" id="post-123" '
        'href="javascript:alert(1)" style="background:url(http://127.0.0.1:9/x)" mathbackground="url(x)" '
        'mathcolor="red">x</mi><mspace width="-999em" /><mpadded voffset="+999em" height="+999em">'
        '<mi>y</mi></mpadded><mstyle mathsize="9999px"><mi>z</mi></mstyle>'
        '<script>alert(1)</script><mglyph src="http://127.0.0.1:9/g.png"/><mi onclick="x">q</mi>'
        '<mi id="a&quot; onclick=&quot;x">r</mi></math>')
    ET.fromstring(out)                                             # still well formed
    assert 'class="tex-eq-tag tex-a MJX-TeXAtom-ORD"' in out
    assert 'id="tex-post-123"' in out and 'id="tex-a__onclick__x"' in out
    assert 'data-removed-href="removed"' in out and "javascript" not in out
    assert "url(" not in out and "999" not in out and "onclick=" not in out
    assert 'mathcolor="red"' in out
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "<mglyph" not in out


def test_hostile_svg():
    out = safe_markup(
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="1ex" '
        'height="1ex" style="vertical-align: -0.3ex; margin-left: -2320.266ex;" viewBox="0 0 1 1">'
        '<g fill="url(http://127.0.0.1:9/p)" stroke="red" id="post-1" class="eq-tag" '
        'style="background: url(http://127.0.0.1:9/x.png); transform: scale(100);">'
        '<use xlink:href="http://127.0.0.1:9/glyphs.svg#x"></use><use xlink:href="#M0123456789ab-MJMAIN-31"></use>'
        '<image href="http://127.0.0.1:9/i.png"></image><rect fill="url(#x)" width="1" height="1"></rect>'
        '<a href="javascript:alert(1)"><rect width="1" height="1"></rect></a>'
        '<foreignObject><div xmlns="http://www.w3.org/1999/xhtml">x</div></foreignObject>'
        '<path id="post-2" d="M0 0Z"></path></g></svg>')
    ET.fromstring(out)
    tags = "".join(re.findall(r"<[^>]*>", out))                    # unknown elements are left as text
    assert "url(" not in tags and "127.0.0.1" not in tags and "transform" not in tags and "2320" not in tags
    assert 'style="vertical-align: -0.3ex"' in out
    assert 'id="tex-post-1"' in out and 'id="tex-post-2"' in out and 'class="tex-eq-tag"' in out
    assert 'stroke="red"' in out and '<use xlink:href="#M0123456789ab-MJMAIN-31">' in out
    assert "<image" not in out and "<foreignObject" not in out and "javascript" not in out
    assert "&lt;image href=" in out


@pytest.mark.engine
def test_mathjax_draws_hostile_formulas_safely():
    """What MathJax itself makes of \\style, \\bbox, \\class, \\cssId, \\href, \\color, \\mmlToken,
    and huge kerns, through our render stage (kexue_anthology.formulas.render.finish) and the sanitizer."""
    pytest.importorskip("kexue_anthology.engine.client")
    from kexue_anthology.engine.client import EngineUnavailable, Request, Worker
    from kexue_anthology.formulas.drawing import finish
    hostile = [r"\style{background:url(http://127.0.0.1:9/a.png);color:red}{x}",
               r"\bbox[red,5px,border:2px solid blue;background:url(http://127.0.0.1:9/b.png)]{x}",
               r"\class{eq-tag}{x}\cssId{post-123}{y}", r"\href{javascript:alert(1)}{x}",
               r"\color{url(http://127.0.0.1:9/c)}{x}", r"\mmlToken{mi}[mathbackground=url(x)]{x}",
               r"\style{position:fixed;top:0;z-index:9;transform:scale(9)}{x}", r"\kern-999em x",
               r"\style{font-size:9999px;margin:-999em}{x}", r"\raise{999em}{x}"]
    answers = {}
    try:
        with Worker() as worker:
            worker.check([Request("p", tex, False, render=True) for tex in hostile],
                         lambda i, answer: answers.__setitem__(i, answer))
    except EngineUnavailable as e:
        pytest.skip(str(e))
    for i, tex in enumerate(hostile):
        render = finish(answers[i]["render"], "0" * 64, tex)
        for markup in (render.svg, render.mathml):
            out = safe_markup(markup)
            ET.fromstring(out)
            assert "url(" not in out.lower() and "javascript" not in out, (tex, out)
            assert not any(word in out for word in ("position", "z-index", "transform:", "999em", "9999px",
                                                    '"eq-tag"', '"post-123"')), (tex, out)
