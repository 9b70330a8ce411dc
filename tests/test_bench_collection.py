"""The bench's big collection (benchmarks/bench_collection.py): copies of real posts under distinct
ids and titles, read back as so many distinct posts with their series apart, and the bench's edit."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

from kexue_anthology.check.extract import extract
from kexue_anthology.core.diagnostics import Diagnostics
from kexue_anthology.read import read

from benchmarks.bench_collection import SEEDS, copies_for, edited, make_collection

# Scraped Markdown (the whole 最小熵原理 series, links between its parts) and plain text.
SOME = ("5448", "5476", "5577", "6191", "7006", "7695", "3319", "10145")


def posts_of(folder: Path):
    d = Diagnostics()
    return extract(read([str(folder)], d), d), Counter(x.code for x in d.items)


def test_copies_of_the_seeds_are_distinct_posts(tmp_path):
    one, kinds = posts_of(SEEDS)
    posts, copied_kinds = posts_of(make_collection(tmp_path / "c", 3, [SEEDS]))
    assert len(posts) == 3 * len(one)
    assert len({p.id for p in posts}) == len(posts)
    assert copied_kinds == Counter({k: 3 * n for k, n in kinds.items()})
    series = Counter((p.series, p.part) for p in posts if p.series)
    assert series and set(series.values()) == {1}


def test_copies_of_scraped_and_plain_posts(tmp_path, corpus):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name in SOME:
        shutil.copy(corpus / f"{name}.txt", folder)
    one, kinds = posts_of(folder)
    posts, copied_kinds = posts_of(make_collection(tmp_path / "c", 3, [folder]))
    assert len(posts) == 3 * len(one) and len({p.id for p in posts}) == len(posts)
    assert copied_kinds == Counter({k: 3 * n for k, n in kinds.items()})
    assert sorted(p.id for p in posts if p.title.endswith("无监督学习的原理")) == ["1005448", "2005448", "5448"]
    parts = Counter(p.series for p in posts if p.series)
    assert parts == {"最小熵原理": 6, "副本1·最小熵原理": 6, "副本2·最小熵原理": 6}
    assert Counter(p.formulas.__len__() for p in posts) == Counter({k: 3 * n for k, n in
                                                                     Counter(len(p.formulas) for p in one).items()})
    copy = next(p for p in posts if p.id == "2005577")         # its link to part 2 stays in its copy
    assert "kexue.fm/archives/2005476)" in copy.body.text and "archives/5476)" not in copy.body.text


def test_edit_adds_a_formula_and_is_undone(tmp_path, corpus):
    for name in ("5448", "10145"):                   # scraped Markdown, plain text
        path = tmp_path / f"{name}.txt"
        shutil.copy(corpus / path.name, path)
        before = path.read_bytes()
        (post,), _ = posts_of(path)
        with edited(path, 7):
            (changed,), _ = posts_of(path)
            assert len(changed.formulas) == len(post.formulas) + 1
            assert changed.formulas[-1].tex == "x^{2}+y^{2}=9^{2}"
        assert path.read_bytes() == before


def test_copies_for():
    assert copies_for(159, 600) == 4 and copies_for(159, 10) == 1 and copies_for(159, 160) == 1


def test_copies_of_front_matter_posts(tmp_path):
    folder = tmp_path / "md"
    folder.mkdir()
    (folder / "a.md").write_text('---\ntitle: 某系列（一）：开头\ndate: 2020-01-02\nid: "7006"\n---\n'
                                 '正文 $x$，见[下一篇](https://kexue.fm/archives/p2)与[另一篇](https://kexue.fm/archives/5448)。\n',
                                 encoding="utf-8")
    (folder / "b.md").write_text("---\ntitle: 第二篇\ndate: 2020-01-03\nid: p2\nseries: 某系列\npart: 2\n---\n正文 $y$。\n",
                                 encoding="utf-8")
    posts, kinds = posts_of(make_collection(tmp_path / "c", 2, [folder]))
    assert sorted((p.id, p.series, p.part) for p in posts) == [
        ("1007006", "副本1·某系列", 1), ("7006", "某系列", 1), ("p2", "某系列", 2), ("p2-c1", "副本1·某系列", 2)]
    copy = next(p for p in posts if p.id == "1007006")
    assert copy.title == "副本1·某系列（一）：开头" and "archives/1005448)" in copy.body.text
    assert not kinds


def test_stage_times_by_stage_and_totals(tmp_path):
    from benchmarks.bench import by_stage, stage_times
    path = tmp_path / "t.jsonl"
    path.write_text('{"stage": "read", "wall": 0.01, "cpu": 0.01}\n{"stage": "validate", "wall": 2.0, "cpu": 3.5}\n\n',
                    encoding="utf-8")
    records = stage_times(path)
    assert [r["stage"] for r in records] == ["read", "validate"] and stage_times(tmp_path / "none.jsonl") == []
    rows = by_stage({"check": records, "html": [{"stage": "emit", "wall": 1.0, "cpu": 0.5}]})
    assert rows == [("check validate", 2.0, 3.5), ("check total", 2.01, 3.51),     # read: under 0.05 s, only in the total
                    ("html emit", 1.0, 0.5), ("html total", 1.0, 0.5)]


def test_drawing_rates_per_worker():
    from benchmarks.bench import Timing, drawing_rates
    rates = drawing_rates(100, Timing(wall=10.0, cpu=5.0), {"wall": 4.0, "cpu": 10.0, "drawn": 80, "workers": 2})
    assert rates["raw wall"] == 10 and rates["raw cpu"] == 20
    assert rates["stage wall"] == 10 and rates["stage cpu"] == 8       # 80 drawn in 4 s by 2 workers
    assert rates["wall ratio"] == 1 and rates["cpu ratio"] == 0.4
