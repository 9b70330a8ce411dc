"""Progress on long runs: one plain line per stage on a pipe (CI), none with -q, a live display
on a terminal; never on stdout, and not in the streams of a caller that passes its own (the
tests' `run_cli`).  The command's stderr is a real pipe or pseudo-terminal here: each test runs it
in-process (`main` with no streams of its own, as `python -m kexue_anthology` calls it) and, in the
full suite (marked `process`), again as a real process."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable

import pytest
from kexue_anthology.cli.main import main
from kexue_anthology.core import progress
from rich.console import Console

from tests.conftest import ROOT, SEEDS
from tests.helpers import case_source, run_cli

LINE = re.compile(r"^(?P<stage>[\w/]+): (?:(?P<count>\d+(?:/\d+)? \w+) in )?\d+(?:\.\d s| min \d+ s)$")


def environment(**changes: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "TERM", "COLUMNS")}
    env.update({k: v for k, v in changes.items() if v is not None})
    return env


def process(*args: object, **env: str | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kexue_anthology", *map(str, args)], cwd=ROOT, env=environment(**env),
                          capture_output=True, text=True, timeout=600, check=False)


def process_on_terminal(*args: object, **env: str | None) -> tuple[int, str, str]:
    """The command with its stderr on a pseudo-terminal: status, stdout, what the terminal got."""
    master, slave = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "kexue_anthology", *map(str, args)], cwd=ROOT, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=slave, env=environment(**env))
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:                      # EIO: the process closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    out = process.stdout.read().decode() if process.stdout else ""
    return process.wait(timeout=600), out, shown.decode(errors="replace")


def _in_process(monkeypatch: pytest.MonkeyPatch, args: tuple[object, ...], env: dict[str, str | None],
                terminal: bool) -> tuple[int, str, str]:
    """`main` with the process's own stdout (a file) and stderr (a pipe, or a pseudo-terminal's),
    read on a thread while it runs: status, stdout, what stderr got."""
    read, write = pty.openpty() if terminal else os.pipe()
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                chunk = os.read(read, 65536)
            except OSError:                  # EIO: the terminal's other end is closed
                break
            if not chunk:
                break
            chunks.append(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    with tempfile.TemporaryFile("w+", encoding="utf-8") as out, monkeypatch.context() as m:
        err = open(write, "w", encoding="utf-8")           # closed below, before the reader is joined
        try:
            for name in ("CI", "TERM", "COLUMNS"):
                m.delenv(name, raising=False)
            for name, value in env.items():
                if value is not None:
                    m.setenv(name, value)
            m.chdir(ROOT)
            m.setattr(sys, "stdout", out)
            m.setattr(sys, "stderr", err)
            status = main([str(a) for a in args])
        finally:
            err.close()
            reader.join(60)
            os.close(read)
        out.seek(0)
        return status, out.read(), b"".join(chunks).decode(errors="replace")


Runner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(params=["in-process", pytest.param("process", marks=pytest.mark.process)])
def anthology(request, monkeypatch) -> Runner:
    """The command with its stderr a pipe: (args, **environment) -> its status, stdout and stderr."""
    if request.param == "process":
        return process

    def run(*args: object, **env: str | None) -> subprocess.CompletedProcess[str]:
        status, out, err = _in_process(monkeypatch, args, env, terminal=False)
        return subprocess.CompletedProcess(args, status, out, err)
    return run


@pytest.fixture(params=["in-process", pytest.param("process", marks=pytest.mark.process)])
def on_terminal(request, monkeypatch) -> Callable[..., tuple[int, str, str]]:
    """The command with its stderr on a pseudo-terminal: (args, **environment) -> its status,
    stdout and what the terminal got."""
    if request.param == "process":
        return process_on_terminal
    return lambda *args, **env: _in_process(monkeypatch, args, env, terminal=True)


def stage_lines(err: str) -> list[tuple[str, str | None]]:
    return [(m["stage"], m["count"]) for line in err.splitlines() if (m := LINE.match(line))]


def warned_post(tmp_path):
    path = tmp_path / "broken.md"
    path.write_text(case_source("broken.md"), encoding="utf-8")
    return path


def test_a_pipe_gets_one_plain_line_per_stage_and_stdout_is_unchanged(anthology):
    result = anthology("list", SEEDS)
    assert result.returncode == 0
    assert stage_lines(result.stderr) == [("read", "39 posts"), ("extract", "39 posts")]
    assert result.stderr.count("\n") == 3                        # and the project file's: the sample has no warning
    assert "anthology: project file " in result.stderr
    assert result.stdout == run_cli("list", SEEDS)[1]


def test_quiet_prints_only_the_diagnostics_and_the_summary(tmp_path, anthology):
    post = warned_post(tmp_path)
    loud, quiet = anthology("list", post), anthology("list", post, "-q")
    assert stage_lines(loud.stderr) == [("read", "1 post"), ("extract", "1 post")]
    assert stage_lines(quiet.stderr) == []
    assert "[unclosed-math]" in quiet.stderr
    assert quiet.stderr == "".join(line for line in loud.stderr.splitlines(True) if not LINE.match(line))
    assert quiet.stdout == loud.stdout and quiet.stdout.endswith("1 posts\n")


def test_a_caller_with_its_own_streams_gets_no_progress():
    status, out, err = run_cli("list", SEEDS)
    assert status == 0 and stage_lines(out) == stage_lines(err) == []
    assert err.startswith("anthology: project file ") and err.endswith("anthology.toml\n") and err.count("\n") == 1


@pytest.mark.engine
def test_check_json_and_github_keep_progress_off_stdout(tmp_path):
    post, cache = warned_post(tmp_path), tmp_path / "cache"
    result = process("check", post, "--format", "json", "--cache-dir", cache)
    assert json.loads(result.stdout)["summary"]["formulas"] == 9
    assert stage_lines(result.stderr) == [("read", "1 post"), ("extract", "1 post"), ("validate", "9 formulas")]
    github = process("check", post, "--format", "github", "--cache-dir", cache)
    assert "::error file=" in github.stdout and stage_lines(github.stdout) == []
    assert [stage for stage, _ in stage_lines(github.stderr)] == ["read", "extract", "validate"]
    assert process("check", post, "--format", "github", "--cache-dir", cache, "--quiet").stderr == ""


def test_a_terminal_gets_the_live_display(on_terminal):
    status, out, shown = on_terminal("list", SEEDS, TERM="xterm-256color", COLUMNS="100")
    assert status == 0 and out.endswith("39 posts\n")
    assert "\x1b[" in shown and "read" in shown and "extract" in shown and "39 posts" in shown
    assert stage_lines(shown.replace("\r", "")) == []                 # drawn, not the plain lines


@pytest.mark.parametrize("env", [{"TERM": "dumb"}, {"TERM": "xterm", "CI": "true"}])
def test_a_dumb_terminal_or_ci_gets_plain_lines(env, on_terminal):
    status, _, shown = on_terminal("list", SEEDS, **env)
    assert status == 0 and "\x1b[" not in shown
    assert stage_lines(shown.replace("\r", "")) == [("read", "39 posts"), ("extract", "39 posts")]


def test_plain_lines_name_nested_tasks_by_their_path_and_say_when_a_task_stopped():
    stream = io.StringIO()
    before = progress.use(progress.PlainProgress(stream))
    try:
        with progress.task("emit"):
            with progress.task("typeset", 45, "parts") as advance:
                advance()
                progress.advance(3)             # from code that did not open the task
            with progress.task("merge", 1, "files"):
                pass
            with pytest.raises(RuntimeError), progress.task("outline", 10, "posts") as advance:
                advance(4)
                raise RuntimeError("stop")
    finally:
        progress.use(before)
    assert stage_lines(stream.getvalue()) == [("emit/typeset", "45 parts"), ("emit/merge", "1 file"), ("emit", None)]
    assert re.search(r"^emit/outline: stopped after 4/10 posts, \d+\.\d s$", stream.getvalue(), re.M)


def test_the_rich_display_shows_each_stage_its_count_and_nested_tasks():
    file = io.StringIO()
    before = progress.use(progress.Rich(Console(file=file, force_terminal=True, width=100)))
    try:
        with progress.task("read", unit="posts") as advance:
            advance(131)
        with progress.task("emit"):
            with progress.task("typeset", 45, "parts") as advance:
                for _ in range(12):
                    advance()
            with pytest.raises(ValueError), progress.task("merge", 3, "files"):
                raise ValueError
    finally:
        progress.use(before)
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", file.getvalue())       # the text, without the escapes
    assert "read" in shown and "131 posts" in shown
    assert "emit" in shown and "  typeset" in shown and "45 parts" in shown
    assert "merge (stopped)" in shown and "0/3 files" in shown


def test_reporting_changes_nothing_the_stages_make():
    from kexue_anthology.stages import Run, run_stages
    quiet = run_stages(Run(paths=[str(SEEDS)]), "extract")
    before = progress.use(progress.PlainProgress(io.StringIO()))
    try:
        shown = run_stages(Run(paths=[str(SEEDS)]), "extract")
    finally:
        progress.use(before)
    assert [(p.id, len(p.formulas)) for p in shown.posts] == [(p.id, len(p.formulas)) for p in quiet.posts]


def test_timings_record_each_stage_wall_and_processor_time(tmp_path, anthology):
    # ANTHOLOGY_TIMINGS (core/timings.py), what `make bench` reads the cold build's stages from
    target = tmp_path / "timings.jsonl"
    result = anthology("list", SEEDS, "-q", ANTHOLOGY_TIMINGS=str(target))
    assert result.returncode == 0 and result.stdout == run_cli("list", SEEDS)[1]
    records = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert [r["stage"] for r in records] == ["read", "extract"]
    assert all(r["wall"] >= 0 and r["cpu"] >= r["children"] >= 0 for r in records)
    shown = anthology("list", SEEDS, "-q", ANTHOLOGY_TIMINGS="-")
    assert [json.loads(line.removeprefix("timing: "))["stage"] for line in shown.stderr.splitlines()
            if line.startswith("timing: ")] == ["read", "extract"]
    assert "timing" not in anthology("list", SEEDS, "-q").stderr
