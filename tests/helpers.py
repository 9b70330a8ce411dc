"""Running the `anthology` command in-process, as the tests do; a local web server for the fetch tests."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import threading
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


Answer = tuple[int, dict[str, str], bytes]          # status, headers, body


class LocalServer:
    """A web server on 127.0.0.1 for the fetch tests: every GET is counted (by `key(path)`) and
    answered by `answer(path, times asked)`; the User-Agents seen are kept.  Without `sized` no
    Content-Length is sent (the body ends where the connection does)."""

    def __init__(self, answer: Callable[[str, int], Answer], key: Callable[[str], str] = str,
                 sized: bool = True) -> None:
        self.counts: Counter[str] = Counter()
        self.agents: set[str] = set()
        lock, server = threading.Lock(), self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                with lock:
                    server.counts[key(self.path)] += 1
                    times = server.counts[key(self.path)]
                    server.agents.add(self.headers.get("User-Agent", ""))
                status, headers, body = answer(self.path, times)
                if status >= 400 and not body:
                    self.send_error(status)
                    return
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if sized:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
