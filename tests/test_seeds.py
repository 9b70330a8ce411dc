"""The bundled sample: five listing pages of the blog."""

from __future__ import annotations

from collections import Counter

import pytest
from kexue_anthology.check.extract import extract
from kexue_anthology.core.diagnostics import Diagnostics
from kexue_anthology.read import read

from tests.conftest import SEEDS
from tests.helpers import check_json, run_cli

# formulas on each page (counted with grep: every $…$, $$…$$ and outermost \begin)
FORMULAS_PER_PAGE = {"000": 21, "001": 19, "002": 13, "003": 11, "004": 1}


def seed_posts():
    d = Diagnostics()
    posts = extract(read([str(SEEDS)], d), d)
    return posts, d


def test_post_count_and_no_problems():
    posts, d = seed_posts()
    assert len(posts) == 39            # 40 `By` lines, 最小熵原理(五) on two pages
    assert d.items == []


def test_series_found():
    posts, _ = seed_posts()
    series = {(p.series, p.part) for p in posts if p.series}
    assert series == {("最小熵原理", 4), ("最小熵原理", 5), ("多任务学习漫谈", 2), ("低秩近似之路", 4)}


def test_glued_titles_are_posts_without_excerpt():
    posts, _ = seed_posts()
    empty = sorted(p.title for p in posts if not p.body.text.strip())
    assert empty == sorted(["圆周率节快乐!|| 原来已经写了十年博客~", "VQ-VAE的简明介绍:量子化自编码器",
                            "“非自回归”也不差:基于MLM的阅读理解问答", "【龟鱼记】全陶粒的同程底滤生态缸"])
    titles = Counter(p.title for p in posts)
    for glued in ("级联抑制:提升GAN表现的一种简单有效的方法", "“让Keras更酷一些!”:层与模型的重用技巧",
                  "用时间换取效果:Keras梯度累积优化器", "Mitchell近似:乘法变为加法,误差不超过1/9"):
        assert titles[glued] == 1
        post = next(p for p in posts if p.title == glued)
        assert post.body.text.strip(), glued          # the excerpt after the glued title is its own


def test_duplicate_is_one_post_with_both_sources():
    posts, _ = seed_posts()
    five = [p for p in posts if p.series == "最小熵原理" and p.part == 5]
    assert len(five) == 1
    paths = {five[0].path} | {pos.path for pos in five[0].also_in}
    assert {p.rsplit("/", 1)[-1][:3] for p in paths} == {"001", "004"}
    assert five[0].readers == 161264                   # the larger of the two pages' counts


def test_page_chrome_is_not_text():
    posts, _ = seed_posts()
    assert not any("最近评论" in p.body.text for p in posts)


@pytest.mark.engine
def test_formula_count_per_page():
    status, result = check_json(SEEDS)
    assert status == 0
    per_page = Counter(f["path"].rsplit("/", 1)[-1][:3] for f in result["formulas"])
    # the duplicate post's formulas are counted once, on the page its text was taken from
    assert {k: per_page.get(k, 0) for k in FORMULAS_PER_PAGE} == FORMULAS_PER_PAGE
    assert result["summary"] == {"posts": 39, "formulas": sum(FORMULAS_PER_PAGE.values()),
                                 "errors": 0, "warnings": 0}


def test_default_input_is_the_sample():
    status, out, _ = run_cli("list")
    assert status == 0
    assert out.strip().endswith("39 posts")
