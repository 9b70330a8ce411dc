"""The render stage and the formula HTML: drawings, rows of tags, links, broken boxes, the cache."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from dataclasses import asdict

import pytest
from kexue_anthology.core.model import drawable
from kexue_anthology.engine.options import EngineOptions
from kexue_anthology.formulas.formula_text import plain_text
from kexue_anthology.formulas.mathhtml import MathHTML
from kexue_anthology.formulas.render import pack, unpack
from kexue_anthology.stages import Run, run_stages

from tests.conftest import DATA, ROOT


def rendered(*paths, cache_dir=None):
    run = Run(paths=[str(p) for p in paths], engine=EngineOptions(cache_dir=cache_dir))
    return run_stages(run, "render")


def write_post(tmp_path, name, body, post_id="r1", title="渲染"):
    path = tmp_path / name
    path.write_text(f"---\ntitle: {title}\nid: '{post_id}'\n---\n{body}\n", encoding="utf-8")
    return path


@pytest.mark.engine
def test_drawings_of_the_numbering_fixture():
    run = rendered(DATA / "numbering.md")
    post, numbers = run.posts[0], run.numbers["n1"]
    drawn = {i for (pid, i) in run.renders}
    refs = {f.index for f in post.formulas if f.delimiter == "ref"}
    assert [f.index for f in post.formulas if not f.ok] == [11]
    assert drawn == {f.index for f in post.formulas} - refs - {11}     # refs are links, 11 a box
    for i in drawn:
        r, tags = run.renders[("n1", i)], numbers.by_formula.get(i, [])
        assert "mjx-eqn" not in r.svg and "mlabeledtr" not in r.mathml and "mjx-eqn" not in r.mathml
        assert len(r.rows) == len(tags)
        assert all(0 < row < r.height for row in r.rows)
        assert r.svg.count("<svg") == 1                # no nested SVG tags for WeasyPrint to leave blank
    align = run.renders[("n1", 4)].rows                # rows 1 and 3 numbered, row 2 not
    assert align[0] < align[1] and (align[1] - align[0]) > 1.5 * (run.renders[("n1", 4)].height / 4)
    gather = run.renders[("n1", 5)].rows
    assert gather[0] < gather[1]
    inside = run.renders[("n1", 8)]                    # \eqref inside a formula: our anchor and number
    assert 'href="#eq-n1-l-eq.3a.row1"' in inside.svg and 'href="#eq-n1-l-eq.3a.row1"' in inside.mathml
    # the link is named by what it shows, so that a screen reader hears which equation
    assert re.search(r'<a class="mjx-svg-href" href="#eq-n1-l-eq.3a.row1"[^>]* xlink:title="公式 \(2\)"', inside.svg)
    assert '<mtext href="#eq-n1-l-eq.3a.row1">(2)</mtext>' in inside.mathml
    assert inside.alt == r"\R^n\ \text{由}\ {\text{(2)}}"   # the TeX, its reference as our number
    [(href, left, top, width, height)] = inside.links  # where the link is drawn, for <img> overlays
    assert href == "#eq-n1-l-eq.3a.row1" and left > 50 and left + width <= 100.1 and 0 <= top < top + height <= 100.1


@pytest.mark.engine
def test_forward_reference_inside_a_formula_and_cjk_text(tmp_path):
    path = write_post(tmp_path, "f.md", "见$a+\\eqref{eq:later}$与$\\text{中文}x$\n\n"
                      "\\begin{equation}b\\label{eq:later}\\end{equation}")
    run = rendered(path)
    forward = run.renders[("r1", 0)]
    assert 'href="#eq-r1-l-eq.3a.later"' in forward.svg and '"#eq-r1-l-eq.3a.later">(1)</mtext>' in forward.mathml
    assert 'xlink:title="公式 (1)"' in forward.svg and "跳到公式" not in forward.svg
    cjk = run.renders[("r1", 1)].svg
    assert re.search(r'<text font-family="[^"]*Noto Serif CJK SC[^"]*" font-size="13.9[0-9]*"[^>]*>中</text>', cjk)
    ids = [set(re.findall(r'id="([^"]+)"', r.svg)) for r in run.renders.values()]
    assert not ids[0] & ids[1] and not ids[1] & ids[2]          # inline SVGs can share a page


@pytest.mark.engine
def test_formula_html_anchors_links_and_broken_box():
    run = rendered(DATA / "numbering.md")
    post, numbers = run.posts[0], run.numbers["n1"]
    for mode in ("mathml", "svg", "img"):
        mh = MathHTML(mode=mode, image=lambda r: "math/x.svg")
        page = "".join(mh.formula(f, numbers, run.renders.get(("n1", f.index))) for f in post.formulas)
        ids = re.findall(r'\bid="(eq-[^"]+)"', page)
        assert ids == [t.anchor for t in numbers.tags]          # every tag anchored once, in order
        targets = re.findall(r'href="#([^"]+)"', page)              # links, and glyphs in SVG
        assert {t for t in targets if t.startswith("eq-")} and set(targets) <= set(re.findall(r'\bid="([^"]+)"', page))
        assert '<span class="eqref unknown"' in page and "(???)" in page
        broken = re.search(r'<span class="math-error display[^"]*"[^>]*>(.*?)</span></span>', page).group(0)
        assert "$$x^2^3\\tag{坏}$$" in broken and "Double exponent" in broken
    page = MathHTML(mode="img", link=lambda a: f"c2.xhtml#{a}", image=lambda r: "m.svg").formula(
        post.formulas[0], numbers, None)
    assert page == '<a class="eqref" href="c2.xhtml#eq-n1-l-eq.3a.first">(1)</a>'


def test_plain_text_of_formulas():
    assert plain_text(r"\frac{a}{b}+\alpha_i") == "a/b+α_i"
    assert plain_text(r"\text{速度}v=\sqrt{x}") == "速度v=√(x)"


@pytest.mark.engine
def test_second_build_draws_nothing_and_a_damaged_drawing_is_redone(tmp_path):
    cache = tmp_path / "cache"
    first = rendered(DATA / "numbering.md", cache_dir=cache).stats.render
    assert first.drawn == first.distinct > 0
    again = rendered(DATA / "numbering.md", cache_dir=cache)
    assert again.stats.render.drawn == 0 and len(again.renders) == first.formulas
    packs = list((cache / "renders").rglob("*.bin"))
    assert len(packs) == 1                      # one post: its drawings are one file
    drawings, _ = unpack(packs[0].read_bytes())
    damaged = next(iter(drawings))
    drawings[damaged].svg = "<svg"
    packs[0].write_bytes(pack(drawings))        # `pack` writes what it is given: the damage is read back
    third = rendered(DATA / "numbering.md", cache_dir=cache)
    assert third.stats.render.drawn == 1 and len(third.renders) == first.formulas
    packs[0].write_bytes(packs[0].read_bytes()[:len(packs[0].read_bytes()) // 2])
    fourth = rendered(DATA / "numbering.md", cache_dir=cache)
    assert fourth.stats.render.drawn == first.drawn and len(fourth.renders) == first.formulas


@pytest.mark.engine
def test_two_builds_at_once_share_the_cache(tmp_path):
    cache = tmp_path / "cache"
    script = ("import sys; from tests.test_render import rendered; "
              "s = rendered(sys.argv[1], cache_dir=sys.argv[2]).stats.render; print(s.formulas)")
    runs = [subprocess.Popen([sys.executable, "-c", script, str(DATA / "numbering.md"), str(cache)],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outputs = [r.communicate(timeout=300) for r in runs]
    assert [r.returncode for r in runs] == [0, 0], outputs
    assert not list((cache / "renders").rglob("*.tmp"))
    after = rendered(DATA / "numbering.md", cache_dir=cache)
    assert after.stats.render.drawn == 0 and len(after.renders) == int(outputs[0][0])


@pytest.mark.engine
def test_every_formula_of_the_corpus_is_drawn_with_its_rows(corpus, tmp_path):
    run = rendered(corpus, cache_dir=tmp_path / "cache")
    failed = [d.format() for d in run.diagnostics.sorted() if d.code == "render"]
    assert not failed
    expected = {(p.id, f.index) for p in run.posts for f in p.formulas if drawable(f)}
    assert len(expected) < sum(1 for p in run.posts for f in p.formulas if f.ok and f.delimiter != "ref")
    assert set(run.renders) == expected and len(expected) > 5000
    run.posts_by_id = {p.id: p for p in run.posts}
    single = 0
    for (post_id, i), r in run.renders.items():
        tags = run.numbers[post_id].by_formula.get(i, [])
        assert len(r.rows) == len(tags), (post_id, i)
        assert all(0 <= row <= r.height for row in r.rows), (post_id, i)
        assert r.width > 0 and r.height > 0 and r.alt
        if len(tags) == 1 and "\\\\" not in run.posts_by_id[post_id].formulas[i].tex:
            # one row: the number on the baseline (MathJax's own tags sit up to 0.12 ex off it)
            baseline = r.height + r.valign + r.margin_bottom
            assert abs(r.rows[0] - baseline) < 0.15, (post_id, i, r.rows, baseline)
            single += 1
    assert single > 300


@pytest.mark.engine
@pytest.mark.pandoc
def test_one_linked_formula_twice_in_a_post_keeps_every_id_unique(tmp_path):
    """A formula with a link inside is inline SVG even in MathML mode; drawn twice in one page
    (or chapter), its glyph ids would repeat (epubcheck: Duplicate ID) unless made the place's own."""
    import zipfile

    from tests.helpers import run_cli
    body = ("\\begin{equation}a=b\\label{eq:p}\\end{equation}\n\n"
            "先看 $y=\\eqref{eq:p}+1$，再看 $y=\\eqref{eq:p}+1$，又见 $y=\\eqref{eq:p}+1$。")
    post = write_post(tmp_path, "twice.md", body, post_id="t2")
    cache = tmp_path / "cache"
    assert run_cli("build", "html", post, "--out", tmp_path / "site", "--cache-dir", cache, "--no-project")[0] == 0
    page = (tmp_path / "site" / "posts" / "t2.html").read_text(encoding="utf-8")
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert page.count("<svg") == 3 and len(ids) == len(set(ids)), [i for i in set(ids) if ids.count(i) > 1]
    for used in re.findall(r'href="#(M[0-9a-f]{12}[^"]*)"', page):          # every glyph use finds its own
        assert f'id="{used}"' in page
    # the EPUB (epubcheck runs on every book run_cli builds) and its chapter likewise
    assert run_cli("build", "epub", post, "--out", tmp_path / "b.epub", "--cache-dir", cache, "--no-project")[0] == 0
    with zipfile.ZipFile(tmp_path / "b.epub") as book:
        chapter = next(book.read(n).decode() for n in book.namelist() if n.endswith(".xhtml") and "<svg" in book.read(n).decode())
    ids = re.findall(r'\sid="([^"]+)"', chapter)
    assert len(ids) == len(set(ids))


@pytest.mark.engine
def test_glyphs_are_filled_only_and_rules_keep_their_strokes(tmp_path):
    """MathJax 2 strokes every glyph outline (`stroke-width="1"`), which a PDF viewer draws at
    least a device pixel wide: a formula printed bolder than its text.  Glyphs are filled only;
    the rules MathJax draws as strokes (\\boxed, \\hline, \\cancel, \\enclose) keep them."""
    path = write_post(tmp_path, "s.md", "$$\\frac{a}{\\sqrt{b}}+\\overline{x}\\xrightarrow{f}\\vec{v}$$\n\n"
                      "$$\\boxed{E}\\begin{array}{|c:c|}\\hline a&b\\\\ \\hline\\end{array}"
                      "\\require{cancel}\\cancel{y}\\require{enclose}\\enclose{circle,radical}{z}$$")
    run = rendered(path)
    plain, ruled = run.renders[("r1", 0)].svg, run.renders[("r1", 1)].svg
    for svg in (plain, ruled):
        glyphs = re.findall(r"<path ([^>]*)>", svg)
        assert glyphs and all(re.match(r'stroke-width="0" id="M[0-9a-f]{12}-MJ', g) for g in glyphs
                              if ' id="' in g), glyphs
        assert 'stroke-width="0" transform="matrix(1 0 0 -1 0 0)"' in svg          # the group too
    assert not re.search(r'stroke-width="(?!0")', plain)                             # nothing stroked
    assert re.search(r'<rect stroke="none" width="\d+" height="60"', plain)          # bars are filled
    widths = re.findall(r'<(line|ellipse|path) [^>]*?stroke-width="([\d.]+)"', ruled)
    stroked = {element for element, width in widths if float(width) > 1}
    assert stroked == {"line", "ellipse", "path"}, widths   # box, rules, cancel, circle, radical


@pytest.mark.engine
def test_validates_worker_goes_on_to_draw_with_the_page_state_reset(tmp_path):
    # A build with formulas to check and to draw starts Node once (EngineOptions.kept/take):
    # the worker that checked the post draws it, after a reset, else the label would be
    # "multiply defined" and the macro's second \newcommand an error when the post is replayed.
    from kexue_anthology.engine.client import Worker

    path = write_post(tmp_path, "k.md", "$\\newcommand{\\R}{\\mathbb{R}}\\R$ 与 $x$\n\n"
                      "\\begin{equation}\\R^n\\label{eq:a}\\end{equation}\n\n见 $y=\\eqref{eq:a}$ 与 $z\\R$")
    made: list[Worker] = []

    def factory() -> Worker:
        made.append(Worker(timeout=30))
        return made[-1]

    run = Run(paths=[str(path)], engine=EngineOptions(cache_dir=tmp_path / "cache", worker_factory=factory, jobs=2))
    run_stages(run, "render")
    assert len(made) == 1 and made[0].process is None and run.engine.spare is None   # one start, stopped after
    assert not [d.format() for d in run.diagnostics.sorted() if d.code != "missing-date"]
    post = run.posts[0]
    assert {i for _, i in run.renders} == {f.index for f in post.formulas if drawable(f)}
    alone = Run(paths=[str(path)], engine=EngineOptions(cache_dir=tmp_path / "fresh"))
    run_stages(alone, "validate")
    alone.engine.release()                                # validate's worker not kept: render starts its own
    run_stages(alone, "render", start="number")
    assert {w: asdict(r) for w, r in alone.renders.items()} == {w: asdict(r) for w, r in run.renders.items()}
    # only formulas that change the page's state are replayed before one to draw
    from kexue_anthology.formulas.render import stateful
    assert [stateful(f) for f in post.formulas] == [True, False, True, False, False]


@pytest.mark.engine
def test_a_drawing_two_posts_share_is_stored_once_and_found_from_either(tmp_path):
    cache = tmp_path / "cache"
    a = write_post(tmp_path, "a.md", "$E=mc^2$ 与 $a_1$", post_id="pa", title="甲")
    b = write_post(tmp_path, "b.md", "$E=mc^2$ 与 $b_2$", post_id="pb", title="乙")
    first = rendered(a, b, cache_dir=cache).stats.render
    assert first.drawn == 3 and first.formulas == 4
    packs = [unpack(p.read_bytes()) for p in (cache / "renders").rglob("*.bin")]
    assert sorted(len(d) + len(e) for d, e in packs) == [2, 2]
    assert sorted(len(e) for _, e in packs) == [0, 1]   # the shared one named
    again = rendered(b, cache_dir=cache)            # b alone: its shared drawing read from a's pack
    assert again.stats.render.drawn == 0 and len(again.renders) == 2
    edited = write_post(tmp_path, "a.md", "$a_1$", post_id="pa", title="甲")   # a no longer has it: b takes it over
    assert rendered(edited, b, cache_dir=cache).stats.render.drawn == 0
    packs = [unpack(p.read_bytes()) for p in (cache / "renders").rglob("*.bin")]
    assert sorted(len(d) + len(e) for d, e in packs) == [1, 2] and not any(e for _, e in packs)
    assert rendered(b, cache_dir=cache).stats.render.drawn == 0


def test_keys_are_the_cache_keys_written_fast():
    """`_keys` writes `key(engine, tex, display, scope)` itself (the scope's JSON once per change):
    the same keys, so the same glyph ids in the SVG, as ever."""
    from kexue_anthology.check.number import number
    from kexue_anthology.core.cache import key
    from kexue_anthology.formulas.render import _keys
    run = run_stages(Run(paths=[str(DATA / "numbering.md")]), "number")
    post = run.posts[0]
    post.formulas[0].tex = "\\newcommand{\\v}{\\mathbf{v}} \"引号\" \\\\ \u00e9"   # quotes, a backslash, CJK
    engine = ("engine", 3)
    keys, texts, _ = _keys(run.posts, number(run.posts), engine)
    scope: list[str] = []
    for f in post.formulas:
        if (post.id, f.index) in keys:
            assert keys[(post.id, f.index)] == key(engine, texts[(post.id, f.index)], f.display, scope)
        if "\\newcommand" in f.tex or "\\def" in f.tex:
            scope.append(f.tex)
    assert len(keys) > 3


@pytest.mark.engine
def test_a_pack_keeps_each_drawing_and_its_digest_and_a_changed_drawing_changes_the_digest(tmp_path):
    from kexue_anthology.collection.bodies import drawing_digest
    run = rendered(DATA / "numbering.md", cache_dir=tmp_path / "cache")
    drawings = {str(n): r for n, r in enumerate(run.renders.values())}
    drawings["elsewhere"] = "another-post"
    back, elsewhere = unpack(pack(drawings))
    assert elsewhere == {"elsewhere": "another-post"}
    assert {k: asdict(r) for k, r in back.items()} == {k: asdict(r) for k, r in drawings.items() if k != "elsewhere"}
    one = next(iter(back.values()))
    assert one.digest and drawing_digest(one) == bytes.fromhex(one.digest)
    changed = dataclasses.replace(one, svg=one.svg.replace("<svg", "<svg data-x=\"1\"", 1), digest="")
    assert drawing_digest(changed) != drawing_digest(one)
    assert drawing_digest(dataclasses.replace(one, digest="")) == drawing_digest(one)   # made again: the same
    assert unpack(pack(drawings)[:-5]) == ({}, {})             # cut short: nothing of it is believed
