"""Fixture cases, found automatically in tests/data/cases: the input post and, after a line
`%%% expected`, what `anthology check` must find in it: posts, every formula with its line,
column, mode, delimiter, verdict and TeX, and every diagnostic.  `make update-golden`
rewrites the expected sections from the current output (then read the diff)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import DATA
from tests.helpers import EXPECTED_MARK as MARK, check_json

CASES = sorted(p for p in (DATA / "cases").iterdir() if p.is_file())


def describe(result: dict) -> str:
    lines = []
    for p in result["posts"]:
        lines.append(f"post {p['id']} | {p['date']} | {p['series']} | {p['part']} | {p['title']}")
    for f in result["formulas"]:
        mode = "display" if f["display"] else "inline"
        verdict = "ok" if f["ok"] else "error"
        lines.append(f"formula {f['line']}:{f['col']} {mode} {verdict} {json.dumps(f['tex'], ensure_ascii=False)}")
    for d in result["diagnostics"]:
        lines.append(f"{d['severity']} {d['line']}:{d['col']} [{d['code']}]")
    return "\n".join(lines) + "\n"


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
        return
    assert expected, f"{case.name} has no `%%% expected` section: run make update-golden"
    assert got == expected
    assert status == (1 if result["summary"]["errors"] else 0)
