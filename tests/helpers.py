"""Running the `anthology` command in-process, as the tests do."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from pathlib import Path

from kexue_anthology.cli.main import main

from tests.conftest import DATA

EPUBCHECK = Path("/usr/share/java/epubcheck.jar")
CLEAN = "Messages: 0 fatals / 0 errors / 0 warnings"

EXPECTED_MARK = "%%% expected\n"


def case_source(name: str) -> str:
    """The input part of a fixture case in tests/data/cases (before its expected section)."""
    return (DATA / "cases" / name).read_text(encoding="utf-8").partition(EXPECTED_MARK)[0]


def run_cli(*argv: str) -> tuple[int, str, str]:
    """The command in-process.  Every EPUB a `build epub` writes goes through epubcheck here,
    so that no test builds a book epubcheck would reject (set ANTHOLOGY_TEST_EPUBCHECK=0 to
    skip it, e.g. for a long fuzzing run)."""
    argv = [str(a) for a in argv]
    book = _epub_out(argv)
    before = book.stat().st_mtime_ns if book and book.exists() else None
    out, err = io.StringIO(), io.StringIO()
    status = main(argv, out=out, err=err)
    if book and book.is_file() and status in (0, 1) and book.stat().st_mtime_ns != before \
            and os.environ.get("ANTHOLOGY_TEST_EPUBCHECK", "1") != "0" and epubcheck_command(book):
        epubcheck(book)
    return status, out.getvalue(), err.getvalue()


def _epub_out(argv: list[str]) -> Path | None:
    if argv[:2] != ["build", "epub"]:
        return None
    if "--out" in argv[:-1]:
        return Path(argv[argv.index("--out") + 1])
    return next((Path(a.split("=", 1)[1]) for a in argv if a.startswith("--out=")), None)


def epubcheck_command(book: Path) -> list[str] | None:
    if EPUBCHECK.exists() and shutil.which("java"):
        return ["java", "-jar", str(EPUBCHECK), str(book)]
    return None


def epubcheck(book: Path) -> str:
    """epubcheck's report on `book`, asserted clean: no fatal, error or warning."""
    command = epubcheck_command(book)
    if command is None:
        import pytest
        pytest.skip("needs epubcheck (Debian: apt-get install epubcheck, with java)")
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    report = result.stdout + result.stderr
    assert result.returncode == 0 and CLEAN in report, f"epubcheck on {book}:\n{report[-3000:]}"
    return report


def check_json(*paths, cache_dir=None, extra=()) -> tuple[int, dict]:
    args = ["check", *paths, "--format", "json", *extra]
    args += ["--cache-dir", cache_dir] if cache_dir else ["--no-cache"]
    status, out, _err = run_cli(*args)
    return status, json.loads(out)
