"""Links that land, in every output: dangling links shown as the text written, footnotes with
their post, unknown labels shown as MathJax shows them, XHTML that is XML.

The fixture collection tests/data/links (written for these tests; 903 is page text) holds an
array with an empty column spec and a formula of spacing only (MathML with empty attributes),
scrape damage read as a link (`E[L(θ)](3)`), a footnote reference whose note is gone
(`[1](#fn:1)`), footnotes with their notes in two posts, `\\eqref` to an unknown label and to a
label in a `$$` display, links to headings, equations, other posts (with fragments, also
`/archives/ID`) and ones to nowhere.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from urllib.parse import unquote
from xml.etree import ElementTree

import pytest
from kexue_anthology.check.number import UNKNOWN, number_post, unknown_label_message
from kexue_anthology.formats.epub.xhtml import NotXML, well_formed
from kexue_anthology.stages import Run, run_stages

from tests.conftest import DATA
from tests.helpers import epubcheck, run_cli
from tests.test_html import check_links, pages

LINKS = DATA / "links"
DAMAGED = ["[L(θ)](3)", "[1](#fn:1)", "[回到顶部](#nowhere)", "[空的目标]()", "[L(x)](3)", "[链接](#没有)"]
# where each dangling link's `[` stands in its file (903.txt: page text, `&gt;` counted as written)
WARNINGS = {("901.md", 8, 9), ("901.md", 10, 10), ("902.md", 6, 22), ("902.md", 6, 41),
            ("903.txt", 1, 13), ("903.txt", 1, 39)}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    work = tmp_path_factory.mktemp("links")
    results = {}
    for fmt, out in (("html", work / "site"), ("epub", work / "links.epub")):
        results[fmt] = (out, *run_cli("build", fmt, LINKS, "--out", out, "--cache-dir", work / "cache"))
    return results


def warned(stderr: str) -> set[tuple[str, int, int]]:
    return {(Path(p).name, int(line), int(col))
            for p, line, col in re.findall(r"^(\S+):(\d+):(\d+): warning: .*\[dangling-link\]$", stderr, re.MULTILINE)}


@pytest.mark.engine
@pytest.mark.pandoc
def test_the_site_links_land_and_damage_is_text(built):
    site, status, _, stderr = built["html"]
    assert status == 0, stderr
    assert warned(stderr) == WARNINGS
    counts = check_links(site)                  # every href: a file of the site and an id in it
    assert counts["eqref"] >= 2 and counts["post"] >= 3
    one = (site / "posts" / "901.html").read_text(encoding="utf-8")
    two = (site / "posts" / "902.html").read_text(encoding="utf-8")
    three = (site / "posts" / "903.html").read_text(encoding="utf-8")
    shown = re.sub(r"<[^>]+>", "", one + two + three)
    for text in DAMAGED:
        assert text in shown, text
    assert 'href="3"' not in one + three and 'href="#fn:1"' not in one and 'href="#nowhere"' not in two
    assert 'href="https://example.org"' in three
    assert f"({UNKNOWN})" in one and "(??)" not in one.replace(f"({UNKNOWN})", "")
    # each post's footnote at the end of its own page, with ids of its own
    assert 'id="fn-901-1"' in one and 'href="#fn-901-1"' in one and "第一篇的注释" in one
    assert 'id="fn-902-1"' in two and 'href="#fn-902-1"' in two and "第二篇的注释" in two
    assert "第二篇的注释" not in one and "第一篇的注释" not in two
    assert 'href="../posts/902.html#%E7%BB%93%E8%AE%BA"' in one          # another post's heading
    assert 'href="../posts/902.html"' in one                           # /archives/902
    assert 'href="https://kexue.fm/archives/99999"' in one             # not in the collection: the blog


@pytest.mark.engine
@pytest.mark.pandoc
def test_every_fragment_of_the_site_names_an_id(built):
    """check_links, once more by hand: `#x` and `page.html#x` alike."""
    site = built["html"][0]
    texts = pages(site)
    ids = {p.resolve(): set(re.findall(r'\bid="([^"]+)"', t)) for p, t in texts.items()}
    seen = 0
    for page, text in texts.items():
        for url in re.findall(r'<a\b[^>]*?\bhref="([^"]*)"', text):
            if re.match(r"^(https?:|mailto:)", url):
                continue
            path, _, fragment = url.partition("#")
            target = (page.parent / unquote(path)).resolve() if path else page.resolve()
            assert target.is_file(), (page, url)
            if fragment:
                seen += 1
                assert unquote(fragment) in ids[target], (page, url)
    assert seen >= 8


@pytest.mark.engine
@pytest.mark.pandoc
def test_the_book_is_clean_and_damage_is_text(built):
    book, status, _, stderr = built["epub"]
    assert status == 0, stderr
    assert warned(stderr) == WARNINGS
    epubcheck(book)
    with zipfile.ZipFile(book) as z:
        files = {n: z.read(n).decode("utf-8") for n in z.namelist() if n.endswith(".xhtml")}
    for text in files.values():
        ElementTree.fromstring(text.encode("utf-8"))          # every XHTML file is XML
    chapters = "".join(t for n, t in files.items() if re.fullmatch(r"EPUB/text/ch\d+\.xhtml", n))
    shown = re.sub(r"<[^>]+>", "", chapters)
    for text in DAMAGED:
        assert text in shown, text
    assert f"({UNKNOWN})" in shown
    ids = set(re.findall(r'\bid="([^"]+)"', chapters))
    for target in re.findall(r'href="(?:ch\d+\.xhtml)?#([^"]+)"', chapters):
        assert target in ids, target
    assert "post-901_小节-一" in ids and "post-902_结论" in ids                 # headings of their post
    assert 'href="ch002.xhtml#post-902_结论"' in chapters                      # another post's heading


@pytest.mark.engine
def test_unknown_label_text_and_reason():
    run = run_stages(Run(paths=[str(LINKS / "901.md")]), "validate")
    post = run.posts[0]
    numbers = number_post(post)
    shown = {r.label: r.shown for refs in numbers.refs.values() for r in refs}
    assert shown == {"nosuch": "(???)", "eq:display": "(???)", "eq:numbered": "(1)"}
    display = unknown_label_message(post, "eq:display", eqref=True)
    assert "`$$…` display (line 13)" in display and "no number" in display and "\\begin{equation}" in display
    assert "(???)" in display
    assert unknown_label_message(post, "nosuch", eqref=False).endswith("no equation of this post has that label")
    assert unknown_label_message(post, "nosuch", eqref=False).startswith("\\ref{nosuch}: the blog shows ???:")


PAGE = ('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html>\n<html xmlns="http://www.w3.org/1999/xhtml" '
        'xmlns:epub="http://www.idpf.org/2007/ops"><head><title>t</title></head><body>{}</body></html>')


@pytest.mark.parametrize("body", [
    ('<p>a<img src="x.svg" alt/><math xmlns="http://www.w3.org/1998/Math/MathML" alttext>'
     '<mtable columnalign><mtr><mtd><mi>x</mi></mtd></mtr></mtable></math></p>'),     # bare attributes
    '<p><a href=x.html class="a" class="b">q</a></p>',                             # unquoted, repeated
    '<p>a &nbsp; <b>x</p><section epub:type="footnotes"><math><mi>y</mi></math></section>',  # HTML, not XML
    '<p>1 < 2 & <br> <span title="a<b">t</span></p>',
])
def test_xhtml_is_made_xml(body):
    page = PAGE.format(body)
    with pytest.raises(ElementTree.ParseError):
        ElementTree.fromstring(page.encode())
    mended = well_formed(page)
    root = ElementTree.fromstring(mended.encode())
    assert root.tag == "{http://www.w3.org/1999/xhtml}html"
    assert not re.search(r'<(?:math|mtable)\b[^>]*\scolumnalign(?=[\s/>])', mended)
    good = PAGE.format("<p>fine</p>")
    assert well_formed(good) == good                   # what is XML already is left as it is


def test_xml_that_cannot_be_mended_is_a_fault(monkeypatch):
    from kexue_anthology.formats.epub import xhtml
    monkeypatch.setattr(xhtml, "_reserialized", lambda text: text)
    with pytest.raises(NotXML, match=r"ch009\.xhtml"):
        well_formed(PAGE.format("<p>a &nbsp;</p>"), "EPUB/text/ch009.xhtml")
