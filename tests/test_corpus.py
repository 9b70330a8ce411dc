"""The scraped corpus (../shared/corpus) and the MathJax 2.7.9 oracle (../shared/tools)."""

from __future__ import annotations

import json
import subprocess
from collections import Counter

import pytest

from tests.conftest import SEEDS
from tests.helpers import check_json

pytestmark = [pytest.mark.corpus, pytest.mark.engine]


@pytest.fixture(scope="module")
def corpus_check(corpus, tmp_path_factory):
    return check_json(corpus, SEEDS, cache_dir=tmp_path_factory.mktemp("cache"))


def test_corpus_posts_and_series(corpus_check):
    _status, result = corpus_check
    posts = result["posts"]
    assert len(posts) == 131 + 39 - 11          # 11 seed posts are also in the corpus
    assert len({p["id"] for p in posts}) == len(posts)
    series = Counter(p["series"] for p in posts if p["series"])
    assert series["最小熵原理"] == 6
    parts = sorted((p["part"], p["id"]) for p in posts if p["series"] == "最小熵原理")
    assert parts == [(1, "5448"), (2, "5476"), (3, "5577"), (4, "6191"), (5, "7006"), (6, "7695")]
    assert series["Transformer升级之路"] == 5 and series["生成扩散模型漫谈"] == 5
    assert not any(p["id"].startswith("t") and p["path"].startswith(str(SEEDS)) and
                   p["series"] == "最小熵原理" for p in posts)   # seed copies merged into the full posts


def test_corpus_errors_are_the_damaged_formulas_only(corpus_check):
    status, result = corpus_check
    assert status == 1
    failing = Counter(f["post"] for f in result["formulas"] if not f["ok"])
    # damaged scrapes (`&\,\mat&\,\mathbb`, `\en& a \end`) and one unclosed array: the oracle agrees
    assert failing == {"8397": 9, "11280": 2, "11626": 1, "11697": 1, "9034": 1}


@pytest.mark.oracle
def test_verdicts_equal_the_blog_mathjax(corpus_check, oracle):
    _, result = corpus_check
    formulas = result["formulas"]
    lines = "".join(json.dumps({"id": i, "tex": f["tex"], "display": f["display"], "post": f["post"]},
                               ensure_ascii=False) + "\n" for i, f in enumerate(formulas))
    run = subprocess.run(["node", str(oracle / "oracle.js"), "--quiet"], input=lines,
                         capture_output=True, text=True, check=True)
    verdicts = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(verdicts) == len(formulas) > 5000
    mismatches = [(f["path"], f["line"], f["tex"][:80], f["message"], v["error"])
                  for f, v in zip(formulas, verdicts, strict=True) if f["ok"] != v["ok"] or f["message"] != v["error"]]
    assert mismatches == []
