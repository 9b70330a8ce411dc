"""The MathJax worker: faults on one formula, the verdict cache, the engine's fingerprint."""

from __future__ import annotations

import json
import os

from pipeline.mathjax.client import Request, Worker
from pipeline.stages import Run, run_stages
from pipeline.validate import EngineOptions
from tests.helpers import check_json, run_cli

FAULTS = dict(os.environ, ANTHOLOGY_WORKER_FAULTS="1")


def test_a_hang_and_a_crash_are_reported_and_the_rest_goes_on():
    with Worker(timeout=3, env=FAULTS) as worker:
        answers = worker.check([
            Request("p", r"\newcommand{\R}{\mathbb{R}}\R", False),
            Request("p", r"\anthologyTestHang", False),
            Request("p", r"\R^n", False),               # the macro survives the restart (replayed)
            Request("p", r"\anthologyTestCrash", True),
            Request("p", r"x^2^3", False),
            Request("q", r"\R", False),                 # a new post starts clean
        ])
        assert worker.restarts == 2
    assert [a["ok"] for a in answers] == [True, False, True, False, False, False]
    assert "longer than 3 s" in answers[1]["error"]
    assert "crashed" in answers[3]["error"] and "exit status 3" in answers[3]["error"]
    assert "Double exponent" in answers[4]["error"]
    assert "Undefined control sequence \\R" in answers[5]["error"]


def test_a_hang_is_reported_at_the_formula_position(tmp_path):
    post = tmp_path / "p.md"
    post.write_text("---\ntitle: t\nid: '1'\n---\n前$a$\n\n中$\\anthologyTestHang$\n\n后$b^2^3$\n", encoding="utf-8")
    run = Run(paths=[str(post)], engine=EngineOptions(
        timeout=2, worker_factory=lambda: Worker(timeout=2, env=FAULTS)))
    run_stages(run, "validate")
    found = [(d.position.line, d.position.col, d.code) for d in run.diagnostics.sorted()]
    assert found == [(7, 2, "engine-timeout"), (9, 2, "double-script")]


def test_verdicts_are_cached_and_a_damaged_entry_is_redone(tmp_path, cache_dir):
    post = tmp_path / "p.md"
    post.write_text("---\ntitle: t\nid: '1'\n---\n$\\newcommand{\\x}{y}\\x$ and $\\x^2^3$\n", encoding="utf-8")
    first = run_cli("check", post, "--cache-dir", cache_dir)
    assert first[0] == 1 and "2 through MathJax, 0 posts from cache" in first[1]
    second = run_cli("check", post, "--cache-dir", cache_dir)
    assert second[0] == 1 and "0 through MathJax, 1 posts from cache" in second[1]
    assert first[1].split("\n")[:2] == second[1].split("\n")[:2]
    entries = list((cache_dir / "verdicts").rglob("*.json"))
    assert len(entries) == 1
    entries[0].write_text(entries[0].read_text()[:20])          # truncated
    third = run_cli("check", post, "--cache-dir", cache_dir)
    assert "2 through MathJax" in third[1]
    json.loads(entries[0].read_text())                           # rewritten whole


def test_a_changed_formula_misses_the_cache(tmp_path, cache_dir):
    post = tmp_path / "p.md"
    post.write_text("---\ntitle: t\nid: '1'\n---\n$a$\n", encoding="utf-8")
    run_cli("check", post, "--cache-dir", cache_dir)
    post.write_text("---\ntitle: t\nid: '1'\n---\n$a^2^3$\n", encoding="utf-8")
    status, result = check_json(post, cache_dir=cache_dir)
    assert status == 1 and result["formulas"][0]["ok"] is False


def test_missing_engine_is_a_setup_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))      # no node on PATH
    post = tmp_path / "p.md"
    post.write_text("---\ntitle: t\n---\n$a$\n", encoding="utf-8")
    status, out, err = run_cli("check", post, "--no-cache")
    assert status == 2
    assert "Node.js is not installed" in err and "make setup" in err
