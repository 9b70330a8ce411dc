"""Fixture cases, found automatically in tests/data/cases: the input post and, after a line
`%%% expected`, what `anthology check` must find in it: posts, every formula with its line,
column, mode, verdict and TeX, and every diagnostic.  `make update-golden` rewrites the
expected sections from the current output (then read the diff).  The same cases also run
without MathJax, in-process through read and extract: posts, where each formula is, its mode
and its TeX (the fast tier)."""

from __future__ import annotations

import json
import re

import pytest
from kexue_anthology.check.extract import extract
from kexue_anthology.core.diagnostics import Diagnostics
from kexue_anthology.read import read

from tests.conftest import DATA
from tests.helpers import EXPECTED_MARK as MARK
from tests.helpers import check_json

CASES = sorted(p for p in (DATA / "cases").iterdir() if p.is_file())
VERDICT = re.compile(r"^(formula \S+ \S+) (?:ok|error) ", re.M)


def post_line(summary: dict) -> str:
    return f"post {summary['id']} | {summary['date']} | {summary['series']} | {summary['part']} | {summary['title']}"


def formula_line(line: int, col: int, display: bool, tex: str, verdict: str = "") -> str:
    mode = "display" if display else "inline"
    return f"formula {line}:{col} {mode} {verdict + ' ' if verdict else ''}{json.dumps(tex, ensure_ascii=False)}"


def diagnostic_line(severity: str, line, col, code: str) -> str:
    return f"{severity} {line}:{col} [{code}]"


def describe(result: dict) -> str:
    lines = []
    lines += [post_line(p) for p in result["posts"]]
    lines += [formula_line(f["line"], f["col"], f["display"], f["tex"], "ok" if f["ok"] else "error")
              for f in result["formulas"]]
    lines += [diagnostic_line(d["severity"], d["line"], d["col"], d["code"]) for d in result["diagnostics"]]
    return "\n".join(lines) + "\n"


@pytest.mark.engine
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case, tmp_path, update_golden):
    text = case.read_text(encoding="utf-8")
    source, _, expected = text.partition(MARK)
    post = tmp_path / case.name
    post.write_text(source, encoding="utf-8")
    status, result = check_json(post)
    for f in result["formulas"]:
        assert f["path"] == str(post)
    got = describe(result)
    if update_golden:
        case.write_text(source + MARK + got, encoding="utf-8")
        pytest.skip(f"rewrote the expected section of {case.name}: read the diff")
    assert expected, f"{case.name} has no `%%% expected` section: run make update-golden"
    assert got == expected
    assert status == (1 if result["summary"]["errors"] else 0)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_without_the_engine(case, tmp_path):
    """Read and extract alone find the expected posts and formulas (position, mode, TeX: the
    expected lines without their verdicts), and every diagnostic they report is expected."""
    source, _, expected = case.read_text(encoding="utf-8").partition(MARK)
    assert expected, f"{case.name} has no `%%% expected` section: run make update-golden"
    post = tmp_path / case.name
    post.write_text(source, encoding="utf-8")
    diagnostics = Diagnostics()
    posts = extract(read([str(post)], diagnostics), diagnostics)
    got = [post_line(p.summary()) for p in posts]
    got += [formula_line(f.position.line, f.position.col, f.display, f.tex) for p in posts for f in p.formulas]
    want = [line for line in VERDICT.sub(r"\1 ", expected).splitlines() if line.startswith(("post ", "formula "))]
    assert got == want
    reported = {diagnostic_line(d.severity, d.position.line if d.position else None,
                                d.position.col if d.position else None, d.code) for d in diagnostics.sorted()}
    assert reported <= set(expected.splitlines()), reported - set(expected.splitlines())
