"""The command's output formats, exit statuses and options."""

from __future__ import annotations

import pytest

from tests.conftest import DATA
from tests.helpers import case_source, check_json, run_cli

pytestmark = pytest.mark.engine

BROKEN = DATA / "cases" / "broken.md"
STATE = DATA / "cases" / "state.md"


def source(case, tmp_path):
    path = tmp_path / case.name
    path.write_text(case_source(case.name), encoding="utf-8")
    return path


def test_text_report_names_file_line_col_and_shows_the_formula(tmp_path):
    path = source(BROKEN, tmp_path)
    status, out, _ = run_cli("check", path, "--no-cache")
    assert status == 1
    assert f"{path}:16:5: error: TeX parse error: Double exponent: use braces to clarify [double-script]\n    $x^2^3$\n" in out
    assert out.rstrip().splitlines()[-1].startswith("1 posts, 9 formulas, 7 errors, 1 warnings")


def test_github_annotations(tmp_path):
    path = source(BROKEN, tmp_path)
    status, out, _ = run_cli("check", path, "--no-cache", "--format", "github")
    assert status == 1
    assert f"::error file={path},line=16,col=5,title=double-script::TeX parse error: Double exponent" in out
    assert f"::warning file={path},line=21,col=3,title=unclosed-math::" in out


def test_json_has_every_formula_and_the_summary(tmp_path):
    path = source(STATE, tmp_path)
    status, result = check_json(path)
    assert status == 0
    assert result["summary"] == {"posts": 1, "formulas": 8, "errors": 0, "warnings": 1}
    assert result["posts"] == [{"id": "9004", "title": "同一篇里的状态", "date": "2024-05-04",
                                "series": None, "part": None, "path": str(path)}]
    f = result["formulas"][1]
    assert {k: f[k] for k in ("path", "line", "col", "post", "display", "tex", "ok", "message")} == {
        "path": str(path), "line": 6, "col": 29, "post": "9004", "display": False,
        "tex": "\\newcommand{\\R}{\\mathbb{R}}\\R^n", "ok": True, "message": None}


def test_strict_turns_warnings_into_errors(tmp_path):
    path = source(STATE, tmp_path)
    assert run_cli("check", path, "--no-cache")[0] == 0
    status, out, _ = run_cli("check", path, "--no-cache", "--strict")
    assert status == 1 and "error: \\eqref{eq:nowhere}" in out


def test_series_selects_posts(tmp_path):
    status, out, err = run_cli("check", DATA / "cases" / "listing_glued.txt", "--series", "最小熵原理", "--no-cache")
    assert status == 2 and 'no series "最小熵原理"' in err            # a typo must not turn CI green
    status, out, _ = run_cli("list", "--series", "最小熵原理")
    assert status == 0 and out.strip().endswith("2 posts")


def test_bad_usage_exits_2():
    assert run_cli("check", "--format", "xml")[0] == 2
    assert run_cli("frobnicate")[0] == 2
    assert run_cli("import", "x")[0] == 2          # --to is required
