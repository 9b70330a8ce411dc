"""What a build may write over, selections that match nothing, and faults of the tool itself:
never a traceback, never a lost file, never a temporary left behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from kexue_anthology import stages
from kexue_anthology.core.outputs import STAMP

from tests.conftest import ROOT, SEEDS
from tests.helpers import run_cli

POST = "---\ntitle: 一篇\nid: '42'\ndate: 2020-01-02\n---\n文字$x^2$。\n"


@pytest.fixture
def post(tmp_path) -> Path:
    path = tmp_path / "in" / "p.md"
    path.parent.mkdir()
    path.write_text(POST, encoding="utf-8")
    return path


def build(*args, cache):
    return run_cli("build", *args, "--cache-dir", cache)


@pytest.mark.engine
@pytest.mark.pandoc
def test_a_folder_not_written_by_a_build_is_refused(post, tmp_path, cache_dir):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "CNAME").write_text("example.org\n")
    (docs / "notes.md").write_text("mine\n")
    status, _, err = build("html", post, "--out", docs, cache=cache_dir)
    assert status == 2 and "--force" in err and "not written by anthology" in err
    assert sorted(p.name for p in docs.iterdir()) == ["CNAME", "notes.md"]
    status, _, _ = build("html", post, "--out", docs, "--force", cache=cache_dir)
    assert status == 0 and (docs / STAMP).is_file() and (docs / "index.html").is_file()
    # A folder an earlier build wrote is ours to replace, with no --force.
    status, _, _ = build("html", post, "--out", docs, cache=cache_dir)
    assert status == 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".docs.")]


@pytest.mark.engine
@pytest.mark.pandoc
@pytest.mark.weasyprint
def test_a_file_not_written_by_a_build_is_refused(post, tmp_path, cache_dir):
    for fmt in ("pdf", "epub"):
        target = tmp_path / f"book.{fmt}"
        target.write_text("someone's notes\n")
        status, _, err = build(fmt, post, "--out", target, cache=cache_dir)
        assert status == 2 and "--force" in err
        assert target.read_text() == "someone's notes\n"
        assert build(fmt, post, "--out", target, "--force", cache=cache_dir)[0] == 0
        assert build(fmt, post, "--out", target, cache=cache_dir)[0] == 0      # ours now


def test_the_working_directory_and_inputs_are_never_an_output(post, tmp_path, cache_dir, monkeypatch):
    monkeypatch.chdir(post.parent)
    for out in (".", str(post.parent), str(tmp_path)):
        status, _, err = build("html", post, "--out", out, "--force", cache=cache_dir)
        assert status == 2 and "working directory" in err
    monkeypatch.chdir(tmp_path)
    status, _, err = build("html", post, "--out", post.parent, "--force", cache=cache_dir)
    assert status == 2 and "holds the input" in err
    assert post.read_text(encoding="utf-8") == POST


@pytest.mark.engine
@pytest.mark.pandoc
def test_without_out_a_build_writes_under_the_working_directory(post, tmp_path, cache_dir, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, _out, _ = build("html", post, cache=cache_dir)
    assert status == 0 and (tmp_path / "out" / "site" / "index.html").is_file()
    assert not (ROOT / "out" / "site" / "posts" / "42.html").exists()


@pytest.mark.engine
@pytest.mark.pandoc
@pytest.mark.weasyprint
def test_stale_temporaries_of_a_killed_build_are_removed_by_the_next(post, tmp_path, cache_dir):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    left = [tmp_path / f".site.{dead}.abc.tmp", tmp_path / f".site.{dead}.def.old", tmp_path / f".book.pdf.{dead}.x.tmp"]
    for path in left[:2]:
        path.mkdir()
        (path / "x").write_text("half a build")
    left[2].write_text("half a pdf")
    running = tmp_path / f".site.{os.getpid()}.live.tmp"       # a build still going: left alone
    running.mkdir()
    assert build("html", post, "--out", tmp_path / "site", cache=cache_dir)[0] == 0
    assert build("pdf", post, "--out", tmp_path / "book.pdf", cache=cache_dir)[0] == 0
    assert not any(p.exists() for p in left) and running.exists()


def test_a_series_that_matches_nothing_is_a_usage_error_with_a_hint():
    for command in (["check"], ["list"], ["build", "html"]):
        status, _, err = run_cli(*command, SEEDS, "--series", "最小熵")
        assert status == 2, command
        assert '; did you mean "最小熵原理"? series found: ' in err and "低秩近似之路" in err


@pytest.mark.engine
def test_a_series_with_parts_missing_is_warned_about(tmp_path):
    status, out, _ = run_cli("check", SEEDS, "--series", "最小熵原理", "--no-cache")
    assert status == 0
    assert "[missing-parts]" in out and "part(s) 1–3 of 5" in out
    assert "[excerpt-only]" in out


def test_bad_cache_dir_and_source_date_epoch_are_usage_errors(post, tmp_path, monkeypatch):
    status, _, err = run_cli("check", post, "--cache-dir", post)
    assert status == 2 and "not a folder" in err
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "9" * 30)
    status, _, err = run_cli("build", "html", post, "--out", tmp_path / "s", "--no-cache")
    assert status == 2 and "SOURCE_DATE_EPOCH" in err


@pytest.mark.engine
def test_a_fault_of_the_tool_is_one_line_and_a_log_not_a_traceback(post, tmp_path, monkeypatch):
    def broken(run):
        for post in run.posts:
            for _ in post.formulas:
                raise KeyError("a bug in the number stage")

    monkeypatch.setenv("ANTHOLOGY_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(stages, "STAGES", [(n, broken if n == "number" else f) for n, f in stages.STAGES])
    status, _out, err = run_cli("build", "html", post, "--out", tmp_path / "site")
    assert status == 3
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert f"internal error in stage number, working on formula at {post}:6:3: KeyError" in err
    log = Path(err.strip().rsplit(" ", 1)[1])
    assert "Traceback" in log.read_text() and "a bug in the number stage" in log.read_text()
    assert not (tmp_path / "site").exists()


def test_import_never_replaces_a_file_that_holds_something_else(post, tmp_path):
    to = tmp_path / "repo"
    assert run_cli("import", post, "--to", to)[0] == 0
    written = to / "2020-01-02-42.md"
    assert run_cli("import", post, "--to", to)[0] == 0          # the same text again: fine
    written.write_text("my edits\n", encoding="utf-8")
    status, _, err = run_cli("import", post, "--to", to)
    assert status == 2 and "--force" in err and written.read_text(encoding="utf-8") == "my edits\n"
    assert run_cli("import", post, "--to", to, "--force")[0] == 0
    assert "一篇" in written.read_text(encoding="utf-8")
