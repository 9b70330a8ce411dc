"""Issue 10: `read` and `extract` never raise and do bounded work on any input.

Each hostile input is a real file in a temporary folder, big enough that quadratic code would
take minutes; bad input must end as diagnostics at the right line and column while the other
posts are still read.  No timing is asserted: a regression shows as a test that never ends.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from kexue_anthology.check.extract import MAX_FILE_BYTES, MAX_FORMULA_CHARS, MAX_FORMULAS
from kexue_anthology.stages import Run, run_stages

GOOD = "---\ntitle: 好文章\ndate: 2020-01-01\nid: \"100\"\n---\n公式$x$。\n"


def read(*paths: Path) -> Run:
    return run_stages(Run(paths=[str(p) for p in paths]), "extract")


UNSAID = ("missing-id", "missing-date")     # the test posts leave them out: not what these tests are about


def found(run: Run) -> list[tuple[str, int | None, int | None]]:
    """(code, line, col) of every diagnostic but UNSAID, in order."""
    return [(d.code, d.position.line if d.position else None, d.position.col if d.position else None)
            for d in run.diagnostics.items if d.code not in UNSAID]


def codes(run: Run) -> list[str]:
    return [d.code for d in run.diagnostics.items if d.code not in UNSAID]


def post(tmp_path: Path, front: str, body: str = "正文$x$。\n", name: str = "post.md") -> Path:
    path = tmp_path / name
    path.write_text(f"---\n{front}---\n{body}", encoding="utf-8")
    return path


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "good.md"
    path.write_text(GOOD, encoding="utf-8")
    return path


def assert_good_read(run: Run) -> None:
    assert [p.id for p in run.posts] == ["100"]
    assert [f.tex for f in run.posts[0].formulas] == ["x"]


# --- files that are not regular files, or too large ---------------------------------------

def test_fifo_is_named_not_opened(tmp_path, good):
    os.mkfifo(tmp_path / "pipe.md")
    run = read(tmp_path)
    assert codes(run) == ["not-a-file"]
    assert "FIFO" in run.diagnostics.items[0].message
    assert_good_read(run)


def test_fifo_named_on_the_command_line(tmp_path, good):
    os.mkfifo(tmp_path / "pipe.md")
    run = read(tmp_path / "pipe.md", good)
    assert codes(run) == ["not-a-file"]
    assert_good_read(run)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_link_to_a_device_is_skipped(tmp_path, good, device):
    (tmp_path / "dev.md").symlink_to(device)
    run = read(tmp_path)
    assert codes(run) == ["not-a-file"]
    assert "character device (through a symbolic link)" in run.diagnostics.items[0].message
    assert_good_read(run)


def test_socket_and_broken_link(tmp_path, good):
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(tmp_path / "s.md"))
        (tmp_path / "gone.md").symlink_to(tmp_path / "nothing")
        run = read(tmp_path)
    finally:
        sock.close()
    assert sorted(codes(run)) == ["missing", "not-a-file"]
    assert_good_read(run)


def test_file_over_the_size_limit_is_not_read(tmp_path, good):
    big = tmp_path / "big.md"
    with big.open("wb") as f:
        f.write(GOOD.encode())
        f.truncate(MAX_FILE_BYTES + 1)
    run = read(tmp_path)
    assert codes(run) == ["too-large"]
    assert run.diagnostics.errors == 1 and not run.diagnostics.unreadable_input    # skipped: exit 1
    assert_good_read(run)


def test_fifty_megabytes(tmp_path, good):
    big = tmp_path / "big.txt"
    with big.open("wb") as f:
        f.truncate(50 * 1024 * 1024)
    assert codes(read(tmp_path)) == ["too-large"]


# --- front matter --------------------------------------------------------------------------

@pytest.mark.parametrize("field, value, col", [
    ("date", "2022-13-45", 7), ("date", "2022-02-30", 7), ("date", "hello", 7), ("date", "99999-01-01", 7),
    ("date", "[2022, 1, 1]", 7), ("date", "2022-01-01 25:00", 7), ("date", "!!timestamp hello", 7),
    ("series", "[a, b]", 9), ("series", "{a: 1}", 9), ("tags", "{a: 1}", 7), ("tags", "[[a], b]", 7),
    ("tags", "5", 7), ("readers", "9" * 5000, 10), ("readers", "-5", 10), ("readers", "many", 10),
    ("readers", "99999999999999999", 10), ("part", "0", 7), ("part", "12.5", 7), ("part", "true", 7),
    ("part", "[1]", 7), ("id", "x" * 65, 5), ("id", '"a\\0b"', 5), ("id", '"../etc"', 5),
    ("id", '"a b"', 5), ("url", "[1]", 6), ("url", "5", 6),
])
def test_bad_field_is_an_error_at_its_value_and_dropped(tmp_path, field, value, col):
    run = read(post(tmp_path, f"title: 标题\n{field}: {value}\n"))
    assert found(run) == [("bad-field", 3, col)]
    assert f"`{field}`" in run.diagnostics.items[0].message
    [p] = run.posts
    assert p.title == "标题" and len(p.formulas) == 1
    assert getattr(p, field) in (None, [], "t" + p.id[1:])


def test_every_bad_field_of_one_post_is_reported(tmp_path, good):
    front = "title: 标题\ndate: 2022-02-30\nseries: [1]\ntags: {a: 1}\nreaders: -1\npart: 0\nid: \"a/b\"\nurl: 5\n"
    run = read(post(tmp_path, front), good)
    assert found(run) == [("bad-field", line, col) for line, col in
                          [(3, 7), (4, 9), (5, 7), (6, 10), (7, 7), (8, 5), (9, 6)]]
    assert len(run.posts) == 2


def test_good_fields_are_read(tmp_path):
    front = ("title: 最小熵原理（五）：聚类\ndate: 2019-10-19\nid: 7006\nseries: 最小熵原理\npart: 5\n"
             "tags: 无监督, 聚类\nreaders: \"161264\"\nurl: https://kexue.fm/archives/7006\n")
    run = read(post(tmp_path, front))
    assert found(run) == []
    [p] = run.posts
    assert (p.id, p.date, p.series, p.part, p.tags, p.readers) == \
        ("7006", "2019-10-19", "最小熵原理", 5, ["无监督", "聚类"], 161264)


@pytest.mark.parametrize("value", ["[a, b]", "{a: 1}", "x" * 501, '""'])
def test_bad_title_skips_the_post(tmp_path, good, value):
    run = read(post(tmp_path, f"date: 2020-01-01\ntitle: {value}\n"), good)
    assert found(run) == [("bad-field", 3, 8)]
    assert_good_read(run)


def test_missing_title(tmp_path, good):
    run = read(post(tmp_path, "date: 2020-01-01\n"), good)
    assert found(run) == [("front-matter", 1, 1)]
    assert_good_read(run)


def test_alias_bomb_is_refused(tmp_path, good):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]" for i in range(20)]
    run = read(post(tmp_path, "title: 炸弹\n" + "\n".join(lines) + "\n"), good)
    assert found(run) == [("front-matter", 3, 4)]
    assert "aliases" in run.diagnostics.items[0].message
    assert_good_read(run)


@pytest.mark.parametrize("nested", [
    "x: " + "[" * 200 + "]" * 200,
    "x:\n" + "".join("  " * i + "- \n" for i in range(200)),
    "x: " + "{a: " * 200 + "1" + "}" * 200,
    "x: " + "[" * 30000,
])
def test_deep_yaml_is_refused(tmp_path, good, nested):
    run = read(post(tmp_path, f"title: 深\n{nested}\n"), good)
    assert codes(run) == ["front-matter"]
    assert run.diagnostics.items[0].position.line >= 3
    assert_good_read(run)


def test_huge_front_matter(tmp_path, good):
    run = read(post(tmp_path, "title: 大\n" + "x: 1\n" * 20000), good)
    assert found(run) == [("front-matter", 1, 1)]
    assert_good_read(run)


@pytest.mark.parametrize("front, where", [
    ("- a\n- b\n", (2, 1)), ("title: \"x\n", (2, 8)), ("title: t\n\tx: 1\n", (3, 1)), ("title: \ufffe\n", (2, 8)),
])
def test_front_matter_that_is_not_a_mapping_or_not_yaml(tmp_path, good, front, where):
    run = read(post(tmp_path, front), good)
    assert found(run) == [("front-matter", *where)]
    assert_good_read(run)


def test_an_unexpected_exception_is_one_files_error(tmp_path, good, monkeypatch):
    from kexue_anthology.read import READERS, frontmatter

    def boom(source, diagnostics):
        if "炸" in source.text:
            raise MemoryError("out of memory")
        return frontmatter.read(source, diagnostics)

    monkeypatch.setitem(READERS, frontmatter.FORM, (frontmatter.detect, boom))
    run = read(post(tmp_path, "title: 炸\n"), good)
    assert codes(run) == ["read-failed"]
    assert "MemoryError" in run.diagnostics.items[0].message
    assert_good_read(run)


# --- extraction -------------------------------------------------------------------------------

def body_post(tmp_path: Path, body: str) -> Run:
    return read(post(tmp_path, "title: 长文\nid: \"1\"\n", body))


def test_three_thousand_backtick_runs(tmp_path):
    body = " ".join("`" * n for n in range(1, 3001)) + " $x$\n"
    run = body_post(tmp_path, body)
    assert [f.tex for f in run.posts[0].formulas] == ["x"]


def test_backtick_runs_still_pair_as_in_commonmark(tmp_path):
    run = body_post(tmp_path, "``a`$x$`` `$y$` \\`$z$` ```$w$\n")
    assert [f.tex for f in run.posts[0].formulas] == ["z", "w"]


@pytest.mark.parametrize("body, unclosed", [
    ("$" * 100_001, 0), ("\\[" * 100_000, 1), ("\\(" * 100_000, 1), ("\\begin{x}" * 10_000, 1),
    ("\\begin{" * 100_000, 0), ("\\ref{" * 100_000, 0), ("\\" * 200_000, 0), ("${$" * 100_000, 0),
    ("\\[ x $\n\n" * 50_000, 50_000), ("$$ y\n\n" * 1, 1), ("a" * 1_000_000 + "$", 1),
])
def test_hostile_bodies_end(tmp_path, body, unclosed):
    run = body_post(tmp_path, body)
    assert codes(run).count("unclosed-math") == unclosed
    assert len(run.posts) == 1


def test_brace_openers_exhaust_the_scan_budget(tmp_path):
    run = body_post(tmp_path, "${$" * 200_000 + "\n")
    assert "scan-limit" in codes(run)


def test_too_many_formulas(tmp_path):
    run = body_post(tmp_path, "$x$ " * (MAX_FORMULAS + 10))
    assert len(run.posts[0].formulas) == MAX_FORMULAS
    assert found(run) == [("too-many-formulas", 5, 1 + 4 * MAX_FORMULAS)]


@pytest.mark.engine
def test_too_long_formula_is_reported_not_checked(tmp_path):
    run = body_post(tmp_path, "前$a$\n\n后$" + "x" * MAX_FORMULA_CHARS + "$与$b$\n")
    assert [len(f.tex) for f in run.posts[0].formulas] == [1, MAX_FORMULA_CHARS, 1]
    assert found(run) == []
    run_stages(run, "validate", start="validate")
    assert found(run) == [("formula-too-long", 7, 2)]
    assert [f.ok for f in run.posts[0].formulas] == [True, False, True]


def test_eight_megabytes_of_ordinary_text(tmp_path):
    paragraph = "设$f(x)=\\frac{1}{2}x^2$，那么$$\\int_0^1 f(x)\\,dx = \\frac{1}{6}$$这是一段普通的文字。\n\n"
    body = paragraph * ((MAX_FILE_BYTES - 1000) // len(paragraph.encode()))
    run = body_post(tmp_path, body)
    assert codes(run) == ["too-many-formulas"]
