"""Reading: decoding problems, every form through the CLI, series names, merging sources."""

from __future__ import annotations

import codecs

import pytest
from kexue_anthology.read.series import chinese_number, normalize_title, parse_series

from tests.helpers import case_source, check_json, run_cli

LISTING = case_source("listing_glued.txt")
SCRAPED = case_source("scraped.txt")


@pytest.mark.parametrize("text, expected", [
    ("最小熵原理（四）：“物以类聚”之从图书馆到词向量", ("最小熵原理", 4)),
    ("最小熵原理(五):“层层递进”之社区发现与聚类", ("最小熵原理", 5)),
    ("生成扩散模型漫谈（三十）：从瞬时速度到平均速度", ("生成扩散模型漫谈", 30)),
    ("文本情感分类（十二）：尾声", ("文本情感分类", 12)),
    ("Transformer升级之路：17、多模态位置编码的简单思考", ("Transformer升级之路", 17)),
    ("MoE环游记：5、均匀分布的反思", ("MoE环游记", 5)),
    ("exp(x)在x=0处的偶次泰勒展开式总是正的", (None, None)),
    ("现在可以用Keras玩中文GPT2了（GPT2_ML）", (None, None)),
    ("“让Keras更酷一些!”:层与模型的重用技巧", (None, None)),
])
def test_series_from_title(text, expected):
    assert parse_series(text) == expected


def test_chinese_numbers():
    assert [chinese_number(s) for s in ["一", "十", "十一", "二十", "二十九", "一百零二", "12"]] == [1, 10, 11, 20, 29, 102, 12]


def test_titles_compare_after_normalisation():
    assert normalize_title("最小熵原理(四):“物以类聚”") == normalize_title("最小熵原理（四）：“物以类聚”")


@pytest.mark.engine
def test_listing_and_full_scrape_are_one_post(tmp_path):
    (tmp_path / "page.txt").write_text(
        "测试系列(三):转义_的标题\nBy 苏剑林 | 2024-03-12 | 1000位读者 | 引用开头一段。\n最近评论", encoding="utf-8")
    (tmp_path / "9005.txt").write_text(SCRAPED, encoding="utf-8")
    status, result = check_json(tmp_path)
    assert status == 0
    assert [(p["id"], p["title"]) for p in result["posts"]] == [("9005", "测试系列（三）：转义_的标题")]
    assert {f["path"] for f in result["formulas"]} == {str(tmp_path / "9005.txt")}
    assert len(result["formulas"]) == 4


@pytest.mark.engine
def test_bad_files_are_named_and_the_rest_still_checked(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text(LISTING, encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02PNG\x00" * 50)
    (tmp_path / "latin.txt").write_bytes("caf\xe9 \xff\xfe\xfd".encode("latin-1"))
    (tmp_path / "unknown.txt").write_text("只是一段文字，不是任何一种文章。", encoding="utf-8")
    status, out, _err = run_cli("check", tmp_path, "--no-cache")
    assert status == 2
    assert f"{tmp_path / 'binary.txt'}: error: cannot read: binary file" in out
    assert f"{tmp_path / 'latin.txt'}: error: cannot read: not UTF-8" in out
    assert f"{tmp_path / 'unknown.txt'}: error: not a post in any known form" in out
    assert "4 posts, 2 formulas, 3 errors" in out


@pytest.mark.engine
def test_gbk_bom_and_crlf_are_decoded_with_a_note(tmp_path):
    (tmp_path / "gbk.txt").write_bytes(LISTING.encode("gbk"))
    crlf = LISTING.replace("\n", "\r\n").replace("正文第一行", "另一篇正文第一行").replace("紧跟着的文章", "另一篇")
    (tmp_path / "bom_crlf.txt").write_bytes(codecs.BOM_UTF8 + crlf.encode("utf-8"))
    status, result = check_json(tmp_path)
    assert status == 0
    notes = sorted((d["path"].rsplit("/", 1)[-1], d["message"]) for d in result["diagnostics"])
    assert [n for n, _ in notes] == ["bom_crlf.txt", "bom_crlf.txt", "gbk.txt"]
    assert "GBK" in notes[2][1] and "CRLF" in " ".join(m for _, m in notes)
    # positions count decoded characters and LF lines: line 3, column 41 as in the UTF-8 original
    # (44 where three characters were put before the formula); the BOM takes no column
    positions = {(f["path"].rsplit("/", 1)[-1], f["line"], f["col"], f["tex"]) for f in result["formulas"]}
    assert positions == {("gbk.txt", 3, 41, "a"), ("gbk.txt", 4, 6, "b"),
                         ("bom_crlf.txt", 3, 44, "a"), ("bom_crlf.txt", 4, 6, "b")}


def test_missing_path_is_a_usage_problem(tmp_path):
    status, out, _ = run_cli("check", tmp_path / "nowhere", "--no-cache")
    assert status == 2
    assert "no such file or folder" in out


def test_front_matter_series_wins_over_the_title(tmp_path):
    (tmp_path / "a.md").write_text("---\ntitle: 一个标题（二）：副标题\nseries: 别的系列\npart: 7\n"
                                   "id: 42\ndate: 2020-02-02\ntags: [甲, 乙]\n---\n正文$x$\n", encoding="utf-8")
    status, out, _ = run_cli("list", tmp_path, "--format", "json")
    assert status == 0
    assert '"series": "别的系列"' in out and '"part": 7' in out and '"id": "42"' in out


def test_bad_front_matter_is_reported_with_its_line(tmp_path):
    (tmp_path / "a.md").write_text("---\ntitle: [unclosed\ndate: 2020-02-02\n---\n正文\n", encoding="utf-8")
    status, out, _ = run_cli("check", tmp_path, "--no-cache")
    assert status == 1
    assert f"{tmp_path / 'a.md'}:" in out and "front matter is not valid YAML" in out
