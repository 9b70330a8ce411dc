"""Running the `anthology` command in-process, as the tests do."""

from __future__ import annotations

import io
import json

from pipeline.cli import main
from tests.conftest import DATA

EXPECTED_MARK = "%%% expected\n"


def case_source(name: str) -> str:
    """The input part of a fixture case in tests/data/cases (before its expected section)."""
    return (DATA / "cases" / name).read_text(encoding="utf-8").partition(EXPECTED_MARK)[0]


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main([str(a) for a in argv], out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def check_json(*paths, cache_dir=None, extra=()) -> tuple[int, dict]:
    args = ["check", *paths, "--format", "json", *extra]
    args += ["--cache-dir", cache_dir] if cache_dir else ["--no-cache"]
    status, out, err = run_cli(*args)
    return status, json.loads(out)
