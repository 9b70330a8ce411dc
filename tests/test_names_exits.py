"""Names and small exits: file names made from titles and series bounded and unique, `init` that
cannot write, output whose reader went away, and the three shells' completions alike."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from kexue_anthology.cli.main import PIPE_CLOSED, main
from kexue_anthology.formats.names import NAME_BYTES, slug, slugs

from tests.conftest import ROOT
from tests.helpers import run_cli
from tests.test_project import posts

LONG = "长" * 50 + "标题" * 25                        # 100 CJK characters, 300 UTF-8 bytes


def test_ordinary_names_keep_their_file_names():
    assert slug("最小熵原理") == "最小熵原理"
    assert slug("A B") == "A-B" and slug(" 变分/自编码器 ") == "变分-自编码器" and slug("...") == "untitled"
    assert slugs(["最小熵原理", "变分自编码器"]) == {"最小熵原理": "最小熵原理", "变分自编码器": "变分自编码器"}


@pytest.mark.parametrize("name", [LONG, "é" * 200, "a" * 300, "e\u0301" * 90, "😀" * 80, "x" * 119 + "长" * 5])
def test_a_long_name_is_cut_on_a_character_with_its_hash(name):
    made = slug(name)
    data = made.encode("utf-8")
    assert len(data) <= NAME_BYTES
    assert data.decode("utf-8") == made
    assert re.search(r"-[0-9a-f]{8}$", made)
    assert slug(name) == made                               # the same name, the same file
    assert slug(name + "x") != made                         # a longer name sharing the cut: another file


def test_names_that_would_share_a_file_each_get_their_own():
    names = ["A/B", "A B", "A:B", "Ab", "ab", "C", "最小熵原理", LONG, LONG + "二"]
    made = slugs(names)
    assert len({m.casefold() for m in made.values()}) == len(names)
    assert made["C"] == "C" and made["最小熵原理"] == "最小熵原理"     # no clash: unchanged
    assert made["A/B"].startswith("A-B-") and made["A B"].startswith("A-B-")
    assert slugs(list(reversed(names))) == made                       # not the order, only the names
    assert all(len(m.encode("utf-8")) <= NAME_BYTES for m in made.values())


@pytest.mark.engine
def test_long_and_clashing_series_all_get_their_pages(tmp_path, cache_dir):
    folder = posts(tmp_path / "posts", ("9201", LONG, LONG, 1), ("9202", "甲（一）", "A/B", 1),
                   ("9203", "乙（一）", "A B", 1), ("9204", "丙", None, None))
    site = tmp_path / "site"
    status, _, err = run_cli("build", "html", folder, "--out", site, "--title", LONG, "--cache-dir", cache_dir, "-q")
    assert status == 0, err
    pages = sorted((site / "series").iterdir())
    assert len(pages) == 3
    assert all(len(p.name.encode("utf-8")) <= NAME_BYTES + len(".html") for p in pages)
    texts = {p.name: p.read_text(encoding="utf-8") for p in pages}
    assert sum("甲（一）" in t for t in texts.values()) == 1 and sum("乙（一）" in t for t in texts.values()) == 1
    index = (site / "index.html").read_text(encoding="utf-8")
    for page in pages:                                # every page linked from the index, none lost
        assert f'href="series/{_quoted(page.name)}"' in index


def _quoted(name: str) -> str:
    from urllib.parse import quote
    return quote(name, safe="/#.-_~")


@pytest.mark.engine
@pytest.mark.pandoc
def test_a_long_title_names_a_book_that_can_be_written(tmp_path, cache_dir, monkeypatch):
    folder = posts(tmp_path / "posts", ("9301", "第一篇", None, None))
    monkeypatch.chdir(tmp_path)
    status, out, err = run_cli("build", "epub", folder, "--title", LONG, "--cache-dir", cache_dir, "-q")
    assert status == 0, err
    books = list((tmp_path / "out").iterdir())
    assert [b.suffix for b in books] == [".epub"] and len(books[0].stem.encode("utf-8")) <= NAME_BYTES
    assert books[0].stem == slug(LONG) and books[0].name in out


@pytest.mark.engine
@pytest.mark.weasyprint
def test_a_long_series_name_names_a_pdf_that_can_be_written(tmp_path, cache_dir, monkeypatch):
    folder = posts(tmp_path / "posts", ("9401", LONG + "（一）", LONG, 1))
    monkeypatch.chdir(tmp_path)
    status, _, err = run_cli("build", "pdf", folder, "--series", LONG, "--jobs", "1", "--cache-dir", cache_dir, "-q")
    assert status == 0, err
    assert (tmp_path / "out" / f"{slug(LONG)}.pdf").is_file()


@pytest.mark.parametrize("out", ["长" * 100, "a" * 300 + "/book.pdf", "b" * 230 + ".pdf"])
def test_an_out_name_too_long_is_refused_before_any_work(tmp_path, out):
    fmt = "pdf" if out.endswith(".pdf") else "html"
    status, _, err = run_cli("build", fmt, "--out", tmp_path / out, "--no-cache")
    assert status == 2 and "\nanthology: error: --out " in "\n" + err and "bytes long" in err
    assert "Traceback" not in err and list(tmp_path.iterdir()) == []


def _init_fails(folder: Path | str) -> str:
    status, out, err = run_cli("init", folder)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("anthology: error: ") and "Traceback" not in err
    assert f"{folder}/anthology.toml" in err or f"{folder}: no such folder" in err
    return err


@pytest.mark.parametrize("folder", ["/proc", "/proc/self", "/sys", "/dev/null", "a" * 300])
def test_init_where_no_file_can_be_written_is_one_line(folder):
    if not Path("/proc/self").is_dir():
        pytest.skip("needs Linux's /proc and /sys")
    _init_fails(folder)


def test_init_into_an_immutable_folder_is_one_line(tmp_path):
    folder = tmp_path / "fixed"
    folder.mkdir()
    if not shutil.which("chattr") or subprocess.run(["chattr", "+i", folder], capture_output=True).returncode:
        pytest.skip("chattr +i is not allowed here (needs root on a file system with attributes)")
    try:
        assert "Operation not permitted" in _init_fails(folder)
    finally:
        subprocess.run(["chattr", "-i", folder], check=True)
    assert not any(folder.iterdir())


def test_init_into_a_read_only_mount_is_one_line(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    if not shutil.which("mount") or subprocess.run(["mount", "--bind", "-o", "ro", folder, folder],
                                                   capture_output=True).returncode:
        pytest.skip("a read-only bind mount is not allowed here (needs root and mount)")
    try:
        assert "Read-only file system" in _init_fails(folder)
    finally:
        subprocess.run(["umount", folder], check=True)


def _closed_pipe_run(tmp_path: Path, *argv: str, stderr_too: bool = False) -> tuple[int, str]:
    """The real command with its stdout (and with `stderr_too` its stderr) a pipe nobody reads:
    (exit status, what it said on stderr when that is still open)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "pipeline"), "ANTHOLOGY_CACHE": str(tmp_path / "cache"),
           "TMPDIR": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"}
    read, write = os.pipe()
    os.close(read)                        # the reader is gone before the first byte is written
    try:
        result = subprocess.run([sys.executable, "-m", "kexue_anthology", *argv], stdout=write,
                                stderr=write if stderr_too else subprocess.PIPE, text=True, env=env,
                                cwd=tmp_path, timeout=120)
    finally:
        os.close(write)
    return result.returncode, result.stderr or ""


# The real process (marked `process`, the full suite): what its interpreter says at exit and its
# status, with its standard streams closed, full or a pipe nobody reads; the fast tier runs `main`
# in-process on the same streams (the `_in_process` tests below) and one real process.

@pytest.mark.process
@pytest.mark.parametrize("argv", [("completion", "bash"), ("completion", "fish"), ("list",),
                                  ("list", "--format", "json", "-q"), ("init", "--help"), ("--version",)])
def test_output_nobody_reads_ends_quietly(tmp_path, argv):
    status, err = _closed_pipe_run(tmp_path, *argv)
    assert "Traceback" not in err and "Exception ignored" not in err and "internal error" not in err
    assert status in (141, 0)                 # 0: argparse's --help/--version drop the error themselves
    assert status == 141 or argv[-1].startswith("--")
    assert not list(tmp_path.rglob("anthology-crash-*"))


def test_output_and_errors_nobody_reads_end_quietly(tmp_path):
    status, _ = _closed_pipe_run(tmp_path, "list", stderr_too=True)
    assert status == 141
    assert not list(tmp_path.rglob("anthology-crash-*"))


@pytest.mark.process
@pytest.mark.parametrize("shell", ["list >&-", "list <&- >&- 2>&-", "completion bash >&-", "completion zsh >/dev/full",
                                   "list >/dev/full", "list --format json >/dev/full", "--help >/dev/full"])
def test_closed_or_full_standard_streams_give_no_traceback(tmp_path, shell):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "pipeline"), "ANTHOLOGY_CACHE": str(tmp_path / "cache"), "TMPDIR": str(tmp_path)}
    result = subprocess.run(["sh", "-c", f"{sys.executable} -m kexue_anthology {shell} -q"], capture_output=True, text=True,
                            env=env, timeout=120, cwd=tmp_path)
    full = "/dev/full" in shell
    assert result.returncode == (2 if full else 0), result.stderr
    assert result.stderr == ("anthology: error: the output cannot be written: No space left on device\n" if full else "")
    assert not list(tmp_path.rglob("anthology-crash-*"))


@pytest.mark.process
def test_a_pipe_into_head_gives_no_traceback(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "pipeline"), "ANTHOLOGY_CACHE": str(tmp_path / "cache"), "TMPDIR": str(tmp_path)}
    command = f"{sys.executable} -m kexue_anthology completion fish | head -c1; {sys.executable} -m kexue_anthology list | head -c1"
    result = subprocess.run(["sh", "-c", command], capture_output=True, text=True, env=env, timeout=120)
    assert result.stdout.startswith("#") and len(result.stdout) == 2
    assert result.stderr.count("Traceback") == 0 and "Exception ignored" not in result.stderr
    assert not list(tmp_path.rglob("anthology-crash-*"))


@pytest.fixture
def away(tmp_path, monkeypatch) -> Path:
    """A working folder (the bundled sample is what `list` reads there) and a cache of its own."""
    monkeypatch.setenv("ANTHOLOGY_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("argv", [("completion", "bash"), ("completion", "fish"), ("list",),
                                  ("list", "--format", "json", "-q")])
def test_output_nobody_reads_ends_quietly_in_process(away, argv):
    read, write = os.pipe()
    os.close(read)                        # the reader is gone before the first byte is written
    err = io.StringIO()
    with open(write, "w", encoding="utf-8") as out:
        status = main(list(argv), out=out, err=err)
    assert status == PIPE_CLOSED == 141
    assert "Traceback" not in err.getvalue() and "internal error" not in err.getvalue()
    assert not list(away.rglob("anthology-crash-*"))


@pytest.mark.parametrize("argv", [("list",), ("list", "--format", "json"), ("completion", "zsh"), ("--help",)])
def test_a_full_output_is_one_line_in_process(away, argv):
    err, out = io.StringIO(), open("/dev/full", "w", encoding="utf-8")
    try:
        status = main([*argv, "-q"], out=out, err=err)
    finally:
        with contextlib.suppress(OSError):            # what is still buffered cannot be written either
            out.close()
    assert status == 2
    assert err.getvalue() == "anthology: error: the output cannot be written: No space left on device\n"
    assert not list(away.rglob("anthology-crash-*"))


# The words each shell offers after these inputs: the same in bash, zsh and fish.
INPUTS = ["anthology ", "anthology b", "anthology build ", "anthology build pdf --p", "anthology check --format ",
          "anthology completion ", "anthology build pdf --paper ", "anthology build epub --series build --ma",
          "anthology list --series build ", "anthology check html --f", "anthology import ", "anthology build h",
          "anthology init p"]


END = "\x1e"            # ends each line's words where one shell completes several lines


def _bash(script: Path, lines: list[str], cwd: Path) -> list[list[str]]:
    """The words bash's completion offers after each of `lines` (one bash, a fresh COMPREPLY each)."""
    program = f"source {script}\n"
    for line in lines:
        words = line.split(" ")
        program += (f"COMPREPLY=(); COMP_WORDS=({' '.join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
                    f"_anthology_complete\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\nprintf '{END}\\n'\n")
    result = subprocess.run(["bash", "--norc", "--noprofile", "-c", program], capture_output=True, text=True,
                            timeout=30, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return _split(result.stdout, len(lines))


def _fish(script: Path, lines: list[str], cwd: Path) -> list[list[str]]:
    """The words fish offers after each of `lines` (one fish, the lines its arguments)."""
    result = subprocess.run(["fish", "--no-config", "-c", f"source {script}; for line in $argv; complete -C $line; "
                             f"echo {END}; end", *lines], capture_output=True, text=True, timeout=30, cwd=cwd)
    assert result.returncode == 0 and not result.stderr, result.stderr
    return [[entry.split("\t")[0] for entry in words] for words in _split(result.stdout, len(lines))]


def _split(output: str, count: int) -> list[list[str]]:
    blocks = output.split(f"{END}\n")
    assert len(blocks) == count + 1 and blocks[-1] == "", output
    return [block.splitlines() for block in blocks[:-1]]


# zsh completes only inside its line editor: an interactive zsh in a pseudo-terminal (zsh/zpty) is
# typed each line and a Tab, with compadd wrapped to write down the words it is given.
ZSH_HARNESS = r"""
zmodload zsh/zpty || exit 3
out=$1; shift
zpty -b z env ZDOTDIR=$out HOME=$out zsh -i
zpty -w z "print -r -- READ''Y"
zpty -r z line "*READY*" || exit 4
n=0
for input in "$@"; do
  (( n++ ))
  zpty -w z "__n=$n"
  zpty -n -w z "$input"$'\t'$'\C-u'
  zpty -w z "print -r -- DONE''$n"
  zpty -r z line "*DONE$n*" || exit 5
done
zpty -d z
"""

ZSHRC = r"""
PS1='' PROMPT='' RPROMPT=''
unsetopt autolist automenu listambiguous beep
autoload -U compinit && compinit -u -D
source {script}
compadd() {{
  if (( ${{@[(I)-[OAD]*]}} )); then builtin compadd "$@"; return; fi
  local -a __hits
  builtin compadd -A __hits "$@"
  (( $#__hits )) && print -rl -- "${{__hits[@]}}" >> {out}/hits.$__n
  builtin compadd "$@"
}}
"""


def _zsh(script: Path, lines: list[str], cwd: Path, work: Path) -> list[list[str]]:
    work.mkdir()
    (work / ".zshrc").write_text(ZSHRC.format(script=script, out=work), encoding="utf-8")
    result = subprocess.run(["zsh", "-f", "-c", ZSH_HARNESS, "harness", str(work), *lines], capture_output=True,
                            text=True, timeout=60, cwd=cwd)
    assert result.returncode == 0, result.stderr
    hits = [work / f"hits.{n}" for n in range(1, len(lines) + 1)]
    return [h.read_text(encoding="utf-8").splitlines() if h.exists() else [] for h in hits]


def _same(words: list[str]) -> list[str]:
    """Sorted, without the slash a shell shows after a folder."""
    return sorted(w.rstrip("/") for w in words)


@pytest.mark.skipif(not all(shutil.which(s) for s in ("bash", "zsh", "fish")),
                    reason="needs bash, zsh and fish (Debian: apt-get install zsh fish; make test-system)")
def test_bash_zsh_and_fish_complete_alike(tmp_path):
    scripts = {}
    for shell in ("bash", "zsh", "fish"):
        status, text, _ = run_cli("completion", shell)
        assert status == 0
        scripts[shell] = tmp_path / f"anthology.{shell}"
        scripts[shell].write_text(text, encoding="utf-8")
    here = tmp_path / "here"                          # what file names complete to
    (here / "posts").mkdir(parents=True)
    (here / "post.md").write_text("", encoding="utf-8")
    (here / "notes.txt").write_text("", encoding="utf-8")
    zsh = _zsh(scripts["zsh"], INPUTS, here, tmp_path / "zsh")
    bash, fish = _bash(scripts["bash"], INPUTS, here), _fish(scripts["fish"], INPUTS, here)
    for line, zsh_words, bash_words, fish_words in zip(INPUTS, zsh, bash, fish, strict=True):
        assert bash_words, line
        assert _same(zsh_words) == _same(bash_words), line
        assert _same(fish_words) == _same(bash_words), line
    said = dict(zip(INPUTS, bash, strict=True))
    assert _same(said["anthology "]) == sorted(
        ["check", "build", "list", "import", "fetch", "serve", "init", "new", "help", "completion", "cache"])
    assert _same(said["anthology build pdf --p"]) == ["--paper", "--project"]
    assert _same(said["anthology list --series build "]) == ["notes.txt", "post.md", "posts"]
