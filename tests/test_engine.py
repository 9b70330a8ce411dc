"""The MathJax worker: faults on one formula, the verdict cache, the engine's fingerprint."""

from __future__ import annotations

import json
import os

import pytest
from kexue_anthology.engine.client import Request, Worker
from kexue_anthology.engine.options import EngineOptions
from kexue_anthology.stages import Run, run_stages

from tests.helpers import check_json, run_cli

pytestmark = pytest.mark.engine

FAULTS = dict(os.environ, ANTHOLOGY_WORKER_FAULTS="1")


def test_a_hang_and_a_crash_are_reported_and_the_rest_goes_on():
    with Worker(timeout=1, env=FAULTS) as worker:
        answers = worker.check([
            Request("p", r"\newcommand{\R}{\mathbb{R}}\R", False),
            Request("p", r"\anthologyTestHang", False),
            Request("p", r"\R^n", False),               # the macro survives the restart (replayed)
            Request("p", r"\anthologyTestCrash", True),
            Request("p", r"x^2^3", False),
            Request("q", r"\R", False),                 # a new post starts clean
        ])
        assert worker.restarts == 3 and worker.retries == 1      # the hang is tried twice
    assert [a["ok"] for a in answers] == [True, False, True, False, False, False]
    assert "longer than 1 s of processor time" in answers[1]["error"]
    assert "again with 3 s on a fresh worker" in answers[1]["error"]
    assert "crashed" in answers[3]["error"] and "exit status 3" in answers[3]["error"]
    assert "Double exponent" in answers[4]["error"]
    assert "Undefined control sequence \\R" in answers[5]["error"]


def test_a_hang_is_reported_at_the_formula_position(tmp_path):
    post = tmp_path / "p.md"
    post.write_text("---\ntitle: t\nid: '1'\ndate: 2024-01-01\n---\n前$a$\n\n中$\\anthologyTestHang$\n\n后$b^2^3$\n",
                    encoding="utf-8")
    run = Run(paths=[str(post)], engine=EngineOptions(
        timeout=1, worker_factory=lambda: Worker(timeout=1, env=FAULTS)))
    run_stages(run, "validate")
    found = [(d.position.line, d.position.col, d.code) for d in run.diagnostics.sorted()]
    assert found == [(8, 2, "engine-timeout"), (10, 2, "double-script")]


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
    status, _out, err = run_cli("check", post, "--no-cache")
    assert status == 2
    assert "Node.js is not installed" in err and "make setup" in err


def slow_once(tmp_path) -> dict:
    """A worker environment in which \\anthologyTestSlowOnce hangs the first time only: a
    formula that is slow on a busy machine, not broken."""
    return dict(FAULTS, ANTHOLOGY_WORKER_SLOW_ONCE=str(tmp_path / "slow-once"))


def test_a_formula_slow_once_is_retried_on_a_fresh_worker_and_passes(tmp_path):
    post = tmp_path / "p.md"
    post.write_text("---\ntitle: t\nid: '1'\ndate: 2024-01-01\n---\n$\\newcommand{\\R}{\\mathbb{R}}\\R$\n\n"
                    "$$\\R^n\\anthologyTestSlowOnce\\tag{1}$$\n\n$b^2^3$\n", encoding="utf-8")
    env = slow_once(tmp_path)
    workers: list[Worker] = []

    def factory() -> Worker:
        workers.append(Worker(timeout=1, env=env))
        return workers[-1]

    run = Run(paths=[str(post)], engine=EngineOptions(timeout=1, worker_factory=factory))
    run_stages(run, "render")
    assert [(d.position.line, d.code) for d in run.diagnostics.sorted()] == [(10, "double-script")]
    assert workers[0].retries == 1 and workers[0].restarts == 1
    assert (tmp_path / "slow-once").exists()
    f = run.posts[0].formulas[1]
    assert f.ok and f.tags and (run.posts[0].id, 1) in run.renders


def test_the_time_limit_grows_on_a_machine_slow_on_every_formula():
    worker = Worker(timeout=2)
    assert worker.limit() == 2
    worker._spent, worker._answered = 100 * 0.001, 100       # 1 ms a formula: the limit stands
    assert worker.limit() == 2
    worker._spent = 100 * 0.05                               # 50 ms a formula: 200 × 50 ms
    assert worker.limit() == 10
