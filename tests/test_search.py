"""The site's offline search (formats/html/search.py, templates/html/search.js): how the index
cuts text into terms, what it holds, how Chromium ranks and shows results from file://, and
that no page but search.html carries a script."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html import unescape
from pathlib import Path
from urllib.parse import quote

import pytest
from kexue_anthology import TEMPLATES
from kexue_anthology.collection.collection import Collection
from kexue_anthology.core.model import Formula, Post
from kexue_anthology.core.sourcetext import Position, SourceFile
from kexue_anthology.formats.html.search import INDEX_FILE, SCRIPT_FILE, build_index, index_script, index_text, terms


def post(id: str, title: str, series: str | None = None, date: str = "2020-01-01",
         formulas: list[Formula] | None = None, tags: list[str] | None = None) -> Post:
    where = Position(f"{id}.md", 1, 1)
    return Post(id=id, title=title, date=date, readers=None, body=SourceFile(where.path, "").slice(0, 0),
                body_format="markdown", form="markdown", position=where, series=series,
                tags=tags or [], formulas=formulas or [])


def collection(*posts: Post) -> Collection:
    return Collection(title="测试", posts=list(posts), series=[], numbers={}, renders={})


def test_terms_are_cjk_bigrams_and_lowercased_latin_words():
    assert terms("最小熵原理") == {"最小", "小熵", "熵原", "原理"}
    assert terms("熵，Softmax与Transformer-XL 2019 softmax") == {"熵", "softmax", "与", "transformer", "xl", "2019"}
    assert terms("《信息熵》α") == {"信息", "息熵", "α"}
    assert terms("  ，。!") == set()


def test_plain_text_keeps_inline_tex_and_drops_display_math_images_and_markup():
    formulas = [Formula(tex=r"\text{softmax}(x)", display=False, delimiter="$", position=Position("a", 1, 1),
                        start=0, end=1),
                Formula(tex=r"H = -\sum p\log p", display=True, delimiter="$$", position=Position("a", 1, 1),
                        start=0, end=1)]
    html = ('<h2 id="a">信息熵</h2><p>设 <span class="math inline" data-formula="0"><math alttext="x">'
            '<mi>x</mi></math></span>为输出：<span class="math display tagged" data-formula="1"><span '
            'class="math-body"><math><mi>H</mi></math></span><span class="eq-tags"><span class="eq-tag">(1)'
            '</span></span></span>其中&lt;b&gt;不是标签</p><p><span class="image-placeholder">'
            '<span class="image-caption">图</span> https://kexue.fm/x.png</span>下一段<br>行</p>')
    text = index_text(html, post("a", "t", formulas=formulas))
    assert text == r"信息熵 设 \text{softmax}(x) 为输出： 其中<b>不是标签 下一段 行"


def test_index_holds_each_post_and_the_posts_of_each_term():
    posts = [post("1", "关于$\\alpha$的笔记", series="最小熵原理", tags=["信息论"]),
             post("2", "Softmax 之后", date="2021-02-03"),
             post("3", "无关")]
    texts = {"1": "<p>最小熵</p>", "2": "<p>再谈 softmax 与最小熵</p>", "3": "<p>别的</p>"}
    index = build_index(collection(*posts), texts, lambda p: f"posts/{p.id}.html")
    assert index["docs"][0] == ["关于α的笔记", "2020-01-01", "最小熵原理", ["信息论"], "posts/1.html", "最小熵"]
    assert index["docs"][1][1:] == ["2021-02-03", "", [], "posts/2.html", "再谈 softmax 与最小熵"]
    found = index["terms"]
    assert found["小熵"] == [0, 1]           # text and series
    assert found["softmax"] == [1]          # title and text, once
    assert found["信息"] == [0]             # a tag
    assert found["别的"] == [2]
    assert list(index["terms"]) == sorted(index["terms"])
    script = index_script(index)
    assert script == index_script(build_index(collection(*posts), dict(reversed(texts.items())),
                                              lambda p: f"posts/{p.id}.html"))
    assert read_script(script) == (index["docs"], found)


def read_script(script: bytes) -> tuple[list, dict[str, list[int]]]:
    """The posts and terms of an index script (window.KX_SEARCH={docs:JSON.parse("…"),terms:"…"})."""
    found = re.fullmatch(r'/\*[^\n]*\*/\nwindow\.KX_SEARCH=\{docs:JSON\.parse\(("(?:[^"\\]|\\.)*")\),'
                         r'terms:("(?:[^"\\]|\\.)*")\};\n', script.decode())
    assert found
    docs, lines = json.loads(json.loads(found.group(1))), json.loads(found.group(2))
    assert lines.startswith("\n") and lines.endswith("\n")
    terms = {}
    for line in lines.strip("\n").split("\n"):
        term, deltas = line.split(" ")
        numbers = [int(d, 36) for d in deltas.split(",")]
        terms[term] = [sum(numbers[:i + 1]) for i in range(len(numbers))]
    return docs, terms


# --- in Chromium --------------------------------------------------------------------------------

def chromium_dom(page: Path, query: str) -> str:
    from tests.test_html import chromium
    url = page.as_uri() + "?q=" + quote(query)
    result = subprocess.run([chromium(), "--headless=new", "--no-sandbox", "--disable-gpu",
                             "--virtual-time-budget=10000", "--dump-dom", url],
                            capture_output=True, text=True, timeout=120)
    assert "search-status" in result.stdout, result.stderr[-2000:]
    return result.stdout


HIT = re.compile(r'<li class="search-hit">(.*?)</li>', re.S)


def hits(dom: str) -> list[tuple[str, str]]:
    """(address, text) of each result, in order."""
    out = []
    for item in HIT.findall(dom):
        address = re.search(r'href="([^"]*)"', item).group(1)
        out.append((unescape(address), unescape(re.sub(r"<[^>]+>", "", item))))
    return out


def status(dom: str) -> dict[str, str]:
    tag = re.search(r'<p id="search-status"[^>]*>', dom).group(0)
    return dict(re.findall(r'data-([a-z-]+)="([^"]*)"', tag))


@pytest.fixture(scope="module")
def small_site(tmp_path_factory) -> Path:
    """The search script over an index of a few made-up posts, on a page holding only what it needs."""
    site = tmp_path_factory.mktemp("search-site")
    posts = [post("a", "最小熵原理（一）", series="最小熵原理", date="2018-01-01"),
             post("b", "杂谈", date="2019-01-01"),
             post("c", "再谈", date="2020-01-01"),
             post("d", "函数", date="2021-01-01"),
             post("e", "<img src=x onerror=alert(1)>Softmax", date="2022-01-01")]
    texts = {"a": "<p>熵是什么</p>", "b": "<p>" + "最小熵，" * 5 + "</p>",
             "c": "<p>最小熵与 Softmax</p>", "d": "<p>softmax softmax softmax</p>", "e": "<p>标题里有</p>"}
    (site / "assets").mkdir()
    (site / INDEX_FILE).write_bytes(index_script(build_index(collection(*posts), texts,
                                                             lambda p: f"posts/{p.id}.html")))
    shutil.copy(TEMPLATES / "html" / "search.js", site / SCRIPT_FILE)
    (site / "search.html").write_text(
        '<!DOCTYPE html><meta charset="utf-8"><form><input name="q"></form>'
        '<p id="search-status"></p><ol id="search-results"></ol>'
        f'<script src="{INDEX_FILE}"></script><script src="{SCRIPT_FILE}"></script>', encoding="utf-8")
    return site


@pytest.mark.browser
def test_results_rank_title_and_series_first_then_terms_then_frequency(small_site):
    page = small_site / "search.html"
    order = [address for address, _ in hits(chromium_dom(page, "最小熵"))]
    assert order == ["posts/a.html", "posts/b.html", "posts/c.html"]   # series+title, 5 hits, 1 hit
    order = [address for address, _ in hits(chromium_dom(page, "SOFTMAX 最小熵"))]
    # both in a title/series first (none), then: e and a by title/series, c with both terms, d 3×, b 5×
    assert order[:2] == ["posts/a.html", "posts/e.html"] or order[:2] == ["posts/e.html", "posts/a.html"]
    assert order[2] == "posts/c.html" and set(order[3:]) == {"posts/b.html", "posts/d.html"}
    assert [a for a, _ in hits(chromium_dom(page, "soft"))] == ["posts/e.html", "posts/d.html", "posts/c.html"]


@pytest.mark.browser
def test_results_are_text_with_marked_matches_and_a_query_found_nowhere_falls_back_to_its_words(small_site):
    page = small_site / "search.html"
    dom = chromium_dom(page, "softmax")
    assert "<img" not in dom.split("search-results", 1)[1]           # a title is text, not markup
    assert "&lt;img src=x onerror=alert(1)&gt;<mark>Softmax</mark>" in dom
    assert "<mark>softmax</mark> <mark>softmax</mark>" in dom
    assert status(dom)["results"] == "3"
    words = hits(chromium_dom(page, "最小熵的用处"))                    # nowhere as written: 最小, 熵 …
    assert {a for a, _ in words} >= {"posts/a.html", "posts/b.html", "posts/c.html"}
    dom = chromium_dom(page, "量子")
    assert hits(dom) == [] and "没有找到" in dom


# --- on the corpus site ---------------------------------------------------------------------------

MIN_ENTROPY = {"5448", "5476", "5577", "6191", "7006", "7695"}          # 最小熵原理（一）…（六）
SOFTMAX_TITLES = {"5743", "7546", "9034", "9064", "10145", "10373"}      # "Softmax" in the title


def post_ids(found: list[tuple[str, str]]) -> list[str]:
    return [re.fullmatch(r"posts/(\d+)\.html", address).group(1) for address, _ in found]


@pytest.mark.browser
def test_search_page_of_the_corpus_finds_chinese_words_latin_terms_and_series(corpus_site, capsys):
    site = corpus_site[0] / "site"
    page = site / "search.html"
    docs, _ = read_script((site / INDEX_FILE).read_bytes())
    assert len(docs) == 131
    # the series: its six parts first (series and title hits rank above text hits)
    dom = chromium_dom(page, "最小熵")
    found = post_ids(hits(dom))
    assert set(found[:6]) == MIN_ENTROPY, found
    timing = status(dom)
    # a Latin term, any case: the six posts with Softmax in their title first, then those that
    # use it in the text (the NCE post derives softmax as an exponential-family distribution)
    found = post_ids(hits(chromium_dom(page, "softMAX")))
    assert set(found[:6]) == SOFTMAX_TITLES and "5617" in found[6:], found
    # a word in no title: exactly the posts whose text has it, the one that builds on it most first
    # (最小熵原理（一） uses 信息熵 fifteen times), each snippet with the word marked
    dom = chromium_dom(page, "信息熵")
    found = post_ids(hits(dom))
    assert set(found) == {d[4][6:-5] for d in docs if "信息熵" in d[5]} and found[0] == "5448", found
    assert all("<mark>信息熵</mark>" in item for item in HIT.findall(dom))
    with capsys.disabled():
        print(f"\nsearch.html?q=最小熵 on the corpus: {timing['results']} results, {timing['script-ms']} ms "
              f"in the script, {timing['page-ms']} ms from navigation start")


def test_no_page_but_the_search_page_carries_a_script(corpus_site):
    site = corpus_site[0] / "site"
    pages = sorted(p for p in site.rglob("*.html") if not p.name.startswith("_"))   # other tests' probe pages
    assert len(pages) > 131
    scripted = [p.relative_to(site).as_posix() for p in pages if "<script" in p.read_text(encoding="utf-8").lower()]
    assert scripted == ["search.html"]
    search = (site / "search.html").read_text(encoding="utf-8")
    assert "<noscript>" in search and 'href="index.html"' in search.split("<noscript>", 1)[1]
    assert '<form class="search-box" role="search" action="../search.html" method="get">' in \
        (site / "posts" / "5448.html").read_text(encoding="utf-8")


WIDTH_PROBE = """<!DOCTYPE html><html><body style="margin:0">
<iframe id="f" src="{page}" style="border:0;width:390px;height:1200px"></iframe>
<script>
document.getElementById('f').addEventListener('load', () => {{
  const doc = document.getElementById('f').contentDocument;
  const pre = document.createElement('pre'); pre.id = 'kx-width';
  pre.textContent = doc.documentElement.scrollWidth + ' ' + doc.documentElement.clientWidth;
  document.body.appendChild(pre);
}});
</script></body></html>"""


@pytest.mark.browser
def test_the_search_box_and_results_fit_a_phone(corpus_site, tmp_path):
    from tests.test_html import chromium
    site = corpus_site[0] / "site"
    for page in ("index.html", "posts/5448.html", "search.html?q=" + quote("最小熵"), "search.html?q=softmax"):
        probe = tmp_path / "probe.html"
        probe.write_text(WIDTH_PROBE.format(page=site.as_uri() + "/" + page), encoding="utf-8")
        dom = subprocess.run([chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                              "--allow-file-access-from-files", "--window-size=500,1200",
                              "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()],
                             capture_output=True, text=True, timeout=120).stdout
        found = re.search(r'<pre id="kx-width">(\d+) (\d+)</pre>', dom)
        assert found and found.group(2) == "390" and int(found.group(1)) <= 390, (page, found and found.groups())


def test_an_index_patched_after_edits_is_the_index_made_cold(tmp_path, monkeypatch):
    """search_files after one post's edit patches the kept parts of the last index (the posts
    whose entries changed, their terms added and taken away): the same bytes as an index made
    whole, for a term that goes, one that comes (sorting in), a post left with no words."""
    from kexue_anthology.formats.html import search
    made_whole = []
    monkeypatch.setattr(search, "build_index", lambda *a, **k: made_whole.append(1) or build_index(*a, **k))
    search_files = search.search_files
    posts = [post(str(n), f"第{n}篇 笔记", tags=["信息论"] if n % 3 else []) for n in range(40)]
    texts = {p.id: f"<p>最小熵 post{n} 共同 {'偶数' if n % 2 else '奇数'}</p>" for n, p in enumerate(posts)}
    url = lambda p: f"posts/{p.id}.html"      # noqa: E731
    cache = tmp_path / "cache"

    def cold(texts):
        return index_script(build_index(collection(*posts), texts, url))

    first = search_files(collection(*posts), texts, url, cache)[INDEX_FILE]
    assert first == cold(texts)
    edits = [{"7": "<p>全新词语 aardvark zzz 共同</p>"},           # new terms (one sorts first, one last)
             {"7": "<p>最小熵 post7 共同 偶数</p>", "12": ""},         # back; a post with no text
             {"0": "<p>只有这里</p>", "39": "<p>最后 post39</p>"}]       # the first and the last post
    for edit in edits:
        texts = {**texts, **edit}
        assert search_files(collection(*posts), texts, url, cache)[INDEX_FILE] == cold(texts)
    assert len(made_whole) == 1                                 # the edits were patched in
    # damaged kept parts: made whole again, the same bytes
    for part in (cache / "search-parts").rglob("*.json"):
        part.write_text('{"key": "x", "value": {"keys": [], "docs": [], "terms": {}}}', "utf-8")
    texts = {**texts, "3": "<p>又改了</p>"}
    assert search_files(collection(*posts), texts, url, cache)[INDEX_FILE] == cold(texts)
    assert len(made_whole) == 2
