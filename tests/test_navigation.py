"""Finding one's way on the site: contents lists, permalinks, tags, previous/next by date."""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path

import pytest
from kexue_anthology.documents.pandoc_ast import Header
from kexue_anthology.formats.html.navigation import ContentsEntry, contents

from tests.helpers import run_cli
from tests.test_html import ID, check_links, chromium


def builds(test):
    """A test that builds a site: it runs MathJax and pandoc."""
    return pytest.mark.engine(pytest.mark.pandoc(test))


TOC = re.compile(r'<nav class="toc"[^>]*>(.*?)</nav>', re.S)
PERMALINK = re.compile(r'<a class="permalink" href="#([^"]+)"')
HEADING = re.compile(r'<h([2-6]) id="([^"]+)"[^>]*>(.*?)</h\1>', re.S)
EQ_TAG = re.compile(r'<span class="eq-tag" id="([^"]+)"[^>]*>(.*?)</span>', re.S)

LONG = """---
title: 很长的文章
date: 2021-03-04
id: "501"
tags: [熵, 聚类]
---
开头。

## 第一节

\\begin{equation}E = mc^2\\label{eq:e}\\end{equation}

### 一点细节

见\\eqref{eq:e}。

### 又一点$\\alpha$细节

#### 更深一层

$$\\begin{align}a &= b \\\\ c &= d\\end{align}$$

## 第二节

## 第一节

结尾。
"""

SHORT = """---
title: 短文
date: 2020-01-02
id: "500"
tags: [熵]
---
## 唯一一节

\\begin{{equation}}x = 1\\end{{equation}}

## 第二节

{extra}
"""

PLAIN = """---
title: 没有标题的文章{n}
date: {date}
id: "{id}"
---
正文{n}。
"""


def build(tmp_path: Path, sources: dict[str, str]) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    for name, text in sources.items():
        (src / name).write_text(text, encoding="utf-8")
    status, _, stderr = run_cli("build", "html", src, "--out", tmp_path / "site", "--cache-dir", tmp_path / "cache")
    assert status == 0, stderr
    check_links(tmp_path / "site")
    for post in (tmp_path / "site" / "posts").glob("*.html"):
        assert "<script" not in post.read_text(encoding="utf-8").lower(), post
    return tmp_path / "site"


def page(site: Path, post_id: str) -> str:
    return (site / "posts" / f"{post_id}.html").read_text(encoding="utf-8")


@builds
def test_a_long_post_has_contents_whose_links_land_and_a_short_one_has_none(tmp_path):
    site = build(tmp_path, {"long.md": LONG, "short.md": SHORT.format(extra="")})
    long = page(site, "501")
    toc = TOC.search(long)
    assert toc, "a post with more than two headings has a contents list"
    targets = re.findall(r'<a href="#([^"]+)">([^<]*)</a>', toc.group(1))
    ids = set(ID.findall(long))
    headings = HEADING.findall(long)
    assert [html.unescape(t) for t, _ in targets] == [html.unescape(i) for _, i, _ in headings]
    assert all(t in ids for t, _ in targets)
    assert [name for _, name in targets] == ["第一节", "一点细节", "又一点α细节", "更深一层", "第二节", "第一节"]
    assert targets[-1][0] != targets[0][0]                  # the repeated heading has its own id
    # nested by level: 第一节 › (一点细节, 又一点α细节 › 更深一层), 第二节, 第一节
    nested = toc.group(1)
    assert nested.index("<ol>", nested.index("第一节")) < nested.index("一点细节")
    assert nested.count("<ol>") == 3
    assert TOC.search(page(site, "500")) is None, "two headings: no contents list"
    assert long.index('class="toc"') < long.index('class="post-body"')


def test_contents_nest_below_the_nearest_higher_heading():
    def header(level: int, name: str) -> dict:
        return Header.new(level, [name, [], []], [{"t": "Str", "c": name}])
    ast = {"blocks": [header(3, "a"), header(2, "b"), header(4, "c"), header(3, "d"), header(2, "e")]}
    shape = [(e.id, [(c.id, [g.id for g in c.children]) for c in e.children]) for e in contents(ast)]
    assert shape == [("a", []), ("b", [("c", []), ("d", [])]), ("e", [])]
    assert contents({"blocks": [header(2, "a"), header(2, "b")]}) == []
    assert contents({"blocks": [header(2, "a")]}, least=1) == [ContentsEntry("a", "a", 2)]


@builds
def test_headings_and_numbered_equations_carry_permalinks_to_their_ids(tmp_path):
    site = build(tmp_path, {"long.md": LONG})
    text = page(site, "501")
    ids = set(ID.findall(text))
    headings = HEADING.findall(text)
    tags = EQ_TAG.findall(text)
    assert len(headings) == 6 and len(tags) == 3
    for _, anchor, inner in headings:
        assert PERMALINK.findall(inner) == [anchor], inner
    for anchor, inner in tags:
        assert PERMALINK.findall(inner) == [anchor], inner
    links = PERMALINK.findall(text)
    assert len(links) == len(headings) + len(tags) and all(link in ids for link in links)
    assert 'aria-label="本节链接">¶</a>' in text and 'aria-label="公式链接">¶</a>' in text
    assert re.search(r'class="eqref" href="#eq-[^"]+">\(1\)</a>', text)     # references are untouched
    # the cached text of the post is shared with the other outputs: no permalink gets there
    status, _, stderr = run_cli("build", "html", tmp_path / "src", "--out", tmp_path / "again",
                                "--cache-dir", tmp_path / "cache")
    assert status == 0, stderr
    assert page(tmp_path / "again", "501") == text


@builds
def test_tags_page_lists_the_tagged_posts_and_posts_link_to_it(tmp_path):
    site = build(tmp_path, {"long.md": LONG, "short.md": SHORT.format(extra=""),
                            "plain.md": PLAIN.format(n=1, date="2019-01-01", id="499")})
    tags = (site / "tags.html").read_text(encoding="utf-8")
    sections = dict(re.findall(r'<h2 id="([^"]+)">([^<]+?) <span', tags))
    assert set(sections.values()) == {"熵", "聚类"}
    entropy = tags[tags.index('<h2 id="tag-熵"'):]
    entropy = entropy[:entropy.index("</section>")]
    assert re.findall(r'href="posts/(\d+)\.html"', entropy) == ["501", "500"]          # newest first
    clusters = tags[tags.index('<h2 id="tag-聚类"'):]
    assert re.findall(r'href="posts/(\d+)\.html"', clusters[:clusters.index("</section>")]) == ["501"]
    assert tags.index("tag-熵") < tags.index("tag-聚类")                                 # most used first
    long = page(site, "501")
    assert re.search(r'<p class="post-tags">标签：<a href="\.\./tags\.html#tag-熵">熵</a>、'
                     r'<a href="\.\./tags\.html#tag-聚类">聚类</a></p>', long)
    assert 'class="post-tags"' not in page(site, "499")
    assert 'href="tags.html"' in (site / "index.html").read_text(encoding="utf-8")


@builds
def test_no_tags_no_tags_page(tmp_path):
    site = build(tmp_path, {f"p{n}.md": PLAIN.format(n=n, date=f"2020-0{n}-01", id=str(600 + n)) for n in (1, 2)})
    assert not (site / "tags.html").exists()
    assert "tags.html" not in "".join(p.read_text(encoding="utf-8") for p in site.rglob("*.html"))


@builds
def test_earlier_and_later_follow_the_date_order(tmp_path):
    dates = {"701": "2019-05-01", "702": "2017-01-09", "703": "2023-12-31", "704": "2019-05-02", "705": "2018-07-07"}
    site = build(tmp_path, {f"{i}.md": PLAIN.format(n=i, date=d, id=i) for i, d in dates.items()}
                 | {"undated.md": "---\ntitle: 无日期\nid: '706'\n---\n正文。\n"})
    order = [*sorted(dates, key=dates.get), "706"]                      # undated posts last
    for i, post_id in enumerate(order):
        text = page(site, post_id)
        nav = re.search(r'<nav class="date-nav"[^>]*>(.*?)</nav>', text, re.S)
        assert nav, post_id
        earlier = re.search(r'class="earlier" href="\.\./posts/(\d+)\.html"', nav.group(1))
        later = re.search(r'class="later" href="\.\./posts/(\d+)\.html"', nav.group(1))
        assert (earlier.group(1) if earlier else None) == (order[i - 1] if i > 0 else None)
        assert (later.group(1) if later else None) == (order[i + 1] if i + 1 < len(order) else None)
        assert text.index('class="date-nav"') > text.index('class="post-body"')
    assert "较早" in page(site, order[-1]) and "较新" in page(site, order[0])


@builds
@pytest.mark.corpus
def test_the_corpus_site_has_contents_permalinks_and_a_date_chain(corpus_site):
    site = corpus_site[0] / "site"
    posts = {p.stem: p.read_text(encoding="utf-8") for p in (site / "posts").glob("*.html")
             if not p.name.startswith("_")}          # another test's probe page, never a post
    with_contents = 0
    for name, text in posts.items():
        headings = HEADING.findall(text)
        toc = TOC.search(text)
        assert bool(toc) == (len(headings) > 2), name
        with_contents += bool(toc)
        assert text.count('class="permalink"') == len(headings) + text.count('class="eq-tag"'), name
    assert with_contents > 30
    # the chain of later posts from the oldest visits every post once, dates never going back
    later = {name: re.search(r'class="later" href="\.\./posts/([^"]+)\.html"', text) for name, text in posts.items()}
    first = [n for n, t in posts.items() if 'class="earlier" href' not in t]
    assert len(first) == 1
    chain, name = [], first[0]
    while name:
        chain.append(name)
        m = later[name]
        name = m.group(1) if m else None
    assert sorted(chain) == sorted(posts)
    dates = [re.search(r'<time datetime="([^"]*)"', posts[n]).group(1) for n in chain]
    assert dates == sorted(dates)
    # the blog's tags, read from the line under each scraped article (分类：… 标签：…)
    tags = (site / "tags.html").read_text(encoding="utf-8")
    assert all(name in tags for name in ("attention", "位置编码", "rope", "多模态"))
    assert "位置编码" in posts["10040"] and "tags.html" in (site / "index.html").read_text(encoding="utf-8")


@builds
@pytest.mark.browser
def test_contents_and_navs_fit_a_phone(tmp_path):
    browser = chromium()
    site = build(tmp_path, {"long.md": LONG, "short.md": SHORT.format(extra="")})
    harness = site / "posts" / "harness.html"
    harness.write_text(
        '<!DOCTYPE html><html><body style="margin:0"><iframe id="f" src="501.html" '
        'style="border:0;width:390px;height:1600px"></iframe><script>'
        "document.getElementById('f').addEventListener('load', () => {"
        " const doc = document.getElementById('f').contentDocument;"
        " const box = s => { const b = doc.querySelector(s).getBoundingClientRect(); return [b.left, b.right]; };"
        " const pre = document.createElement('pre'); pre.id = 'kx-measure';"
        " pre.textContent = JSON.stringify({width: doc.documentElement.scrollWidth, toc: box('.toc'),"
        "   dates: box('.date-nav'), link: getComputedStyle(doc.querySelector('h2 .permalink')).opacity});"
        " document.body.appendChild(pre); });</script></body></html>", encoding="utf-8")
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
                          "--virtual-time-budget=5000", "--dump-dom", harness.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    m = re.search(r'<pre id="kx-measure">(.*?)</pre>', dom, re.S)
    assert m, dom[-2000:]
    seen = json.loads(html.unescape(m.group(1)))
    assert seen["width"] <= 390, seen
    assert 0 <= seen["toc"][0] and seen["toc"][1] <= 390 and seen["dates"][1] <= 390, seen
    assert float(seen["link"]) < 1                  # the permalink stays out of the way until wanted
