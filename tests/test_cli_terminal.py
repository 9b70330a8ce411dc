"""The terminal: bare usage, examples in every --help, options alike across commands, shell
completion made from the parser, and `check --changed REV` on a temporary git repository."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from kexue_anthology.cli import completion
from kexue_anthology.cli.main import build_parser

from tests.helpers import run_cli
from tests.test_project import posts

READING = ("check", "list", "import", "serve", "build html", "build epub", "build pdf")


def test_bare_anthology_prints_the_usage_and_the_commands():
    status, out, err = run_cli()
    assert status == 0 and err == ""
    assert out.startswith("usage: anthology")
    for name in ("check", "build", "list", "import", "serve", "init", "new", "help", "completion"):
        assert f"\n    {name}" in out
    assert "examples:" in out


@pytest.mark.parametrize("command", ["check", "build", "build html", "build epub", "build pdf", "list", "import",
                                     "serve", "init", "new", "help", "completion"])
def test_every_command_help_has_examples(command):
    status, out, _ = run_cli(*command.split(), "--help")
    assert status == 0
    examples = out[out.index("examples:"):]
    assert f"anthology {command.split()[0]}" in examples


def test_the_commands_that_read_posts_take_the_same_options():
    table = completion.commands(build_parser())
    for path in READING:
        options = table[path].options
        for option in ("-q", "--quiet", "--series", "--project", "--no-project", "--cache-dir", "--no-cache",
                       "--timeout"):
            assert option in options, f"{path} lacks {option}"
    for path in ("build html", "build epub", "build pdf", "serve"):
        for option in ("--title", "--subtitle", "--author"):
            assert option in table[path].options, f"{path} lacks {option}"
    assert "-q" in table["init"].options and "-q" in table["completion"].options


def test_list_accepts_the_engine_options():
    status, out, _ = run_cli("list", "--cache-dir", "/nonexistent-cache", "--no-cache", "--timeout", "3", "-q")
    assert status == 0 and out.strip().endswith("posts")


def bash_complete(script: str, *words: str) -> list[str]:
    """What bash completes for `words` (the last one being completed) with `script` sourced."""
    line = " ".join(f"'{w}'" for w in words)
    program = (f"source /dev/stdin <<'EOF'\n{script}\nEOF\n"
               f"COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}\n"
               "_anthology_complete\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
    result = subprocess.run(["bash", "--norc", "-c", program], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return [line for line in result.stdout.splitlines() if line]


@pytest.mark.skipif(not shutil.which("bash"), reason="needs bash")
def test_bash_completion_made_from_the_parser(tmp_path):
    status, script, _ = run_cli("completion", "bash")
    assert status == 0
    registered = subprocess.run(["bash", "--norc", "-c", f"source /dev/stdin <<'EOF'\n{script}\nEOF\ncomplete -p anthology"],
                                capture_output=True, text=True, timeout=30)
    assert "-F _anthology_complete anthology" in registered.stdout
    assert bash_complete(script, "anthology", "bu") == ["build"]
    assert bash_complete(script, "anthology", "build", "p") == ["pdf"]
    assert bash_complete(script, "anthology", "build", "pdf", "--pa") == ["--paper"]
    assert bash_complete(script, "anthology", "build", "pdf", "--paper", "a") == ["a4", "a5"]
    assert bash_complete(script, "anthology", "check", "--format", "") == ["text", "github", "json"]
    assert bash_complete(script, "anthology", "completion", "") == ["bash", "zsh", "fish"]
    assert "--changed" in bash_complete(script, "anthology", "check", "--")
    assert "--paper" not in bash_complete(script, "anthology", "build", "html", "--")
    # after an option's value the command goes on: `--series NAME build` is no subcommand path
    assert bash_complete(script, "anthology", "build", "epub", "--series", "x", "--ma") == ["--math"]


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_are_made_and_parse(shell):
    status, script, _ = run_cli("completion", shell)
    assert status == 0 and "anthology" in script
    if shell == "fish":
        assert "complete -c anthology -n \"__anthology_at 'build'\" -a 'pdf'" in script
        assert "-l paper -x -a 'a4 a5 b5'" in script
    if shutil.which(shell):
        check = subprocess.run([shell, "-n"], input=script, capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stderr


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "T",
           "GIT_COMMITTER_EMAIL": "t@example.org", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, check=True)
    return result.stdout


@pytest.fixture
def repo(tmp_path) -> Path:
    """A git repository with three posts committed, then one edited and one added."""
    if not shutil.which("git"):
        pytest.skip("needs git")
    root = tmp_path / "repo"
    folder = posts(root / "posts", ("9201", "第一篇", None, None), ("9202", "第二篇", None, None),
                   ("9203", "第三篇", None, None))
    (root / ".gitignore").write_text("ignored.md\n", encoding="utf-8")
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "posts")
    return folder


def test_nothing_changed_is_said_and_exits_0(repo):
    status, out, _ = run_cli("check", repo, "--changed", "HEAD", "--no-cache")
    assert status == 0 and out.strip() == "0 posts changed since HEAD"


def test_changed_outside_a_repository_or_with_an_unknown_revision_is_a_usage_error(repo, tmp_path):
    status, _, err = run_cli("check", repo, "--changed", "no-such-rev")
    assert status == 2 and "--changed no-such-rev: no revision 'no-such-rev'" in err
    outside = posts(tmp_path / "outside", ("9301", "外面", None, None))
    status, _, err = run_cli("check", outside, "--changed", "HEAD")
    assert status == 2 and "is not in a git repository" in err


def test_changed_files_are_the_edited_and_the_untracked_within_the_paths(repo):
    from kexue_anthology.cli.changed import changed_files
    (repo / "9202.md").write_text((repo / "9202.md").read_text(encoding="utf-8") + "\n又一段。\n", encoding="utf-8")
    posts(repo, ("9204", "第四篇", None, None))
    (repo / "ignored.md").write_text("x", encoding="utf-8")
    (repo / "anthology.toml").write_text("", encoding="utf-8")
    (repo.parent / "elsewhere.md").write_text("x", encoding="utf-8")
    assert [p.name for p in changed_files("HEAD", [str(repo)])] == ["9202.md", "9204.md"]
    git(repo.parent, "add", "-A")
    git(repo.parent, "commit", "-q", "-m", "more")
    assert [p.name for p in changed_files("HEAD~1", [str(repo)])] == ["9202.md", "9204.md"]
    assert changed_files("HEAD", [str(repo)]) == []


@pytest.mark.engine
def test_check_changed_checks_only_the_changed_posts(repo, cache_dir):
    (repo / "9202.md").write_text((repo / "9202.md").read_text(encoding="utf-8") + "\n坏公式$x^2^3$。\n",
                                  encoding="utf-8")
    posts(repo, ("9204", "第四篇", None, None))
    status, out, _ = run_cli("check", repo, "--changed", "HEAD", "--cache-dir", cache_dir)
    assert status == 1
    assert "9202.md:8:4: error:" in out and "[double-script]" in out
    assert out.strip().splitlines()[-1].startswith("2 posts, 3 formulas, 1 errors")
