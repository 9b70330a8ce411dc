"""`anthology import`: posts written as Markdown with front matter read back the same."""

from __future__ import annotations

import pytest
from kexue_anthology.check.extract import extract
from kexue_anthology.core.diagnostics import Diagnostics
from kexue_anthology.read import read

from tests.conftest import DATA, SEEDS
from tests.helpers import case_source, run_cli


def posts_of(*paths):
    d = Diagnostics()
    return extract(read([str(p) for p in paths], d), d), d


def same_posts(original, reread):
    def facts(p):
        return (p.id, p.title, p.date, p.readers, p.series, p.part,
                [(f.tex, f.display, f.delimiter) for f in p.formulas])
    assert [facts(p) for p in reread] == [facts(p) for p in original]


def round_trip(tmp_path, *paths):
    original, d = posts_of(*paths)
    status, _out, err = run_cli("import", *paths, "--to", tmp_path / "md")
    assert status == (2 if d.unreadable_input else 1 if d.errors else 0), err
    written = sorted((tmp_path / "md").glob("*.md"))
    assert len(written) == len(original)
    reread, _d2 = posts_of(tmp_path / "md")
    same_posts(original, reread)
    return written


def test_seeds_round_trip(tmp_path):
    written = round_trip(tmp_path, SEEDS)
    text = next(p for p in written if "最小熵原理" in p.read_text(encoding="utf-8")).read_text(encoding="utf-8")
    assert text.startswith("---\ntitle: ")


def test_fixture_forms_round_trip(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for case in (DATA / "cases").iterdir():
        (src / case.name).write_text(case_source(case.name), encoding="utf-8")
    round_trip(tmp_path, src)


def test_scraped_post_becomes_clean_markdown(tmp_path):
    src = tmp_path / "9005.txt"
    src.write_text(case_source("scraped.txt"), encoding="utf-8")
    round_trip(tmp_path, src)
    text = (tmp_path / "md" / "2024-03-12-9005.md").read_text(encoding="utf-8")
    assert "title: 测试系列（三）：转义_的标题" in text and "series: 测试系列" in text and "part: 3" in text
    assert "$\\boldsymbol{x}_i^{\\top}$" in text          # math unescaped
    assert "[IMG]" in text and "\\[IMG\\]" not in text    # a literal bracket is not display math
    assert "`x\\_1 = $y$`" in text                         # code kept as it was
    assert "发表你的看法" not in text and "SEARCH" not in text and "[\\#]" not in text


@pytest.mark.corpus
def test_corpus_round_trip(tmp_path, corpus):
    round_trip(tmp_path, corpus)
