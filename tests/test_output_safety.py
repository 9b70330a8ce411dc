"""Never lose a file, part two: no input inside the output whatever --force says, and an output
replaced whole or not at all — a build killed at any moment leaves the whole old site or the
whole new one, two builds into one place take turns, and no symbolic link inside a site is
followed."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kexue_anthology.core import fileio
from kexue_anthology.core.outputs import STAMP
from PIL import Image

from tests.conftest import DATA, ROOT, SEEDS
from tests.helpers import run_cli
from tests.test_html import check_links

PYTHON = sys.executable


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry below `folder`: a file's bytes, a link's target, a folder's mark."""
    found: dict[str, bytes | str] = {}
    for here, dirs, names in os.walk(folder):
        for name in (*dirs, *names):
            path = Path(here) / name
            key = path.relative_to(folder).as_posix()
            found[key] = ("link→" + os.readlink(path)) if path.is_symlink() else \
                "folder" if path.is_dir() else path.read_bytes()
    return found


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- 1. no input is ever inside the output ---------------------------------------------------

@pytest.fixture
def content(tmp_path) -> Path:
    """tmp/c: posts in c/posts, a project file with a cover, and a link tmp/link → c."""
    folder = tmp_path / "c"
    (folder / "posts").mkdir(parents=True)
    for name in ("901.md", "902.md"):
        shutil.copy(DATA / "links" / name, folder / "posts" / name)
    Image.new("RGB", (16, 24), "white").save(folder / "cover.png")
    (folder / "anthology.toml").write_text('[book]\ntitle = "测试"\ncover = "cover.png"\n', encoding="utf-8")
    (tmp_path / "link").symlink_to(folder, target_is_directory=True)
    (tmp_path / "elsewhere").mkdir()
    return folder


# (working folder below tmp, the command's arguments after `build`, a file of the input it must name)
HELD = [
    ("c", ["html", ".", "--out", "posts"], "901.md"),
    ("c", ["html", ".", "--out", "posts", "--force"], "901.md"),
    (".", ["html", "c", "--out", "c/posts", "--force"], "901.md"),
    ("elsewhere", ["html", "../c", "--out", "../c/posts", "--force"], "901.md"),
    (".", ["html", "link", "--out", "c/posts", "--force"], "901.md"),
    (".", ["html", "c/posts", "--out", "link", "--force"], "posts"),
    (".", ["html", "link/posts", "--out", "c", "--force"], "posts"),
    ("elsewhere", ["html", "../link", "--out", "../c/posts", "--force"], "901.md"),
    (".", ["epub", "c/posts", "--out", "c/anthology.toml", "--force"], "anthology.toml"),
    (".", ["pdf", "link/posts", "--out", "c/cover.png", "--force"], "cover.png"),
]


@pytest.mark.parametrize(("cwd", "argv", "named"), HELD, ids=[" ".join(a) for _, a, _ in HELD])
def test_an_output_holding_a_file_the_build_read_is_refused_even_with_force(content, tmp_path, monkeypatch,
                                                                              cwd, argv, named):
    before = snapshot(tmp_path)
    monkeypatch.chdir(tmp_path / cwd)
    status, out, err = run_cli("build", *argv, "--no-cache")
    assert status == 2, err
    line = err.strip().splitlines()[-1]
    assert line.startswith("anthology: error: --out") and "input" in line and named in line, err
    assert "not even with --force" in line and "add --force" not in err
    assert "Traceback" not in err and not out
    assert snapshot(tmp_path) == before            # every post, the project file, the cover: untouched


def test_a_post_that_links_into_the_output_is_an_input_too(tmp_path, monkeypatch):
    """A post file of the content folder that is a symbolic link to a file in --out."""
    (tmp_path / "out").mkdir()
    shutil.copy(DATA / "links" / "901.md", tmp_path / "out" / "901.md")
    (tmp_path / "posts").mkdir()
    (tmp_path / "posts" / "901.md").symlink_to(tmp_path / "out" / "901.md")
    before = snapshot(tmp_path)
    monkeypatch.chdir(tmp_path)
    status, _, err = run_cli("build", "html", "posts", "--out", "out", "--force", "--no-cache", "--no-project")
    assert status == 2 and "holds the input posts/901.md" in err, err
    assert snapshot(tmp_path) == before


# --- the pieces: the exchange, the lock, Ctrl-C held back --------------------------------------

def test_two_folders_are_exchanged_in_one_step(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x").write_text("a")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x").write_text("b")
    if not fileio.exchange(tmp_path / "a", tmp_path / "b"):
        pytest.skip("renameat2(RENAME_EXCHANGE) is not available here (not Linux, old glibc, or the file system)")
    assert (tmp_path / "a" / "x").read_text() == "b" and (tmp_path / "b" / "x").read_text() == "a"


def test_a_replaced_folder_is_recorded_and_its_old_self_removed(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "old.html").write_text("old")
    fileio.committed.clear()
    with fileio.atomic_dir(site) as work:
        (work / "new.html").write_text("new")
        assert (site / "old.html").exists()          # the live folder is untouched until the end
    assert sorted(p.name for p in site.iterdir()) == ["new.html"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]      # no temporary left
    assert fileio.committed == [site]


def test_the_lock_is_waited_for_then_refused_after_its_time_and_leaves_nothing(tmp_path):
    target = tmp_path / "new" / "deeper" / "site"
    waits: list[str] = []
    with fileio.output_lock(target, lambda: waits.append("held"), timeout=5):
        assert (tmp_path / "new" / "deeper" / ".site.lock").is_file()
        started = time.monotonic()
        with pytest.raises(fileio.LockTimeout):
            with fileio.output_lock(target, lambda: waits.append("waiting"), timeout=0.3):
                pass
        assert 0.3 <= time.monotonic() - started < 3
        assert waits == ["waiting"]                  # said once, not on every try
    assert not (tmp_path / "new").exists()           # the lock file and the folders made for it are gone
    with fileio.output_lock(target, lambda: waits.append("again"), timeout=5):
        pass                                         # free again: taken without waiting
    assert waits == ["waiting"]


def test_ctrl_c_while_an_output_is_put_in_place_takes_effect_after_it(tmp_path):
    done = []
    # Python's own Ctrl-C, even where the tests started with it ignored (as a background job of a
    # shell without job control, `make test-fast &`, does): an ignored Ctrl-C stays ignored.
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            with fileio.held_interrupts():
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)
                done.append(True)
    finally:
        signal.signal(signal.SIGINT, before)
    assert done == [True]


# --- 2. a site replaced whole: the real command, killed, raced, and given links ---------------

def collection(folder: Path, copies: int, edited: bool = False) -> Path:
    """The sample posts `copies` times over under other titles (so other ids); `edited`: a word
    of every post changed (every page differs: a rebuild writes many files)."""
    folder.mkdir(parents=True)
    for k in range(copies):
        for source in sorted(SEEDS.glob("*.txt")):
            title, rest = source.read_text(encoding="utf-8").split("\n", 1)
            if edited:
                rest = rest.replace("。", "。改。", 1)
            (folder / f"{k:02d}_{source.name}").write_text(f"{title}（第{k}份）\n{rest}", encoding="utf-8")
    return folder


def command(source: Path, site: Path, cache: Path) -> list[str]:
    return [PYTHON, "-m", "kexue_anthology", "build", "html", str(source), "--out", str(site), "--cache-dir", str(cache),
            "--no-project"]


def environment() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT / "pipeline"), TERM="dumb", CI="1")


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory):
    """Two collections that differ in one sentence, their sites (the references) and a warm cache."""
    base = tmp_path_factory.mktemp("builds")
    cache = base / "cache"
    sources = {"a": collection(base / "a" / "posts", 12), "b": collection(base / "b" / "posts", 12, edited=True)}
    refs = {}
    for name, source in sources.items():
        result = subprocess.run(command(source, base / f"ref-{name}", cache), env=environment(),
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        refs[name] = tree(base / f"ref-{name}")
    changed = {path for path in refs["a"] if refs["a"][path] != refs["b"].get(path)}
    assert len(changed) >= 40 and set(refs["a"]) == set(refs["b"])
    return sources, refs, cache


def which(site: Path, refs: dict[str, dict[str, bytes]]) -> str | None:
    found = tree(site)
    return next((name for name, ref in refs.items() if found == ref), None)


def start_until_emit(argv: list[str]) -> tuple[subprocess.Popen[str], float]:
    """The command started and followed until its emit stage begins (the line `assemble: …`)."""
    process = subprocess.Popen(argv, env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    for line in process.stderr:
        if line.startswith("assemble:"):
            return process, time.monotonic()
    raise AssertionError(f"the build ended before its emit stage: status {process.wait()}")


@pytest.mark.engine
@pytest.mark.pandoc
def test_a_site_rebuild_killed_at_random_moments_leaves_the_old_site_or_the_new(two_builds, tmp_path):
    sources, refs, cache = two_builds
    site = tmp_path / "site"
    windows = []
    for name in ("b", "a", "b"):                     # the emit stage of a rebuild, measured
        process, began = start_until_emit(command(sources[name], site, cache))
        assert process.wait(timeout=120) == 0
        windows.append(time.monotonic() - began)
    window = min(windows)                            # the kills land across it (the writes are at its end)
    rng = random.Random(21)
    alive, outcomes = 0, []
    # 20 kills that land while the build runs: a kill after the build ended counts as a try only,
    # so a machine faster or slower than when the window was measured changes the time, not the test
    for _ in range(60):
        if alive == 20:
            break
        now = which(site, refs)
        assert now is not None
        process, began = start_until_emit(command(sources["b" if now == "a" else "a"], site, cache))
        time.sleep(max(0.0, began + rng.uniform(window * 0.1, window * 1.05) - time.monotonic()))
        alive += process.poll() is None
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        assert process.stderr is not None
        process.stderr.close()
        outcome = which(site, refs)
        assert outcome is not None, "a killed build left a site that is neither the old one nor the new"
        assert (site / STAMP).is_file() and not (site / "posts").is_symlink()
        check_links(site)
        outcomes.append(outcome)
    assert alive == 20, f"only {alive} of {len(outcomes)} kills landed while the build ran (emit took {window:.2f} s)"
    # the next build cleans up what the killed ones left beside the site
    assert subprocess.run(command(sources["a"], site, cache), env=environment(), capture_output=True,
                          timeout=120).returncode == 0
    assert which(site, refs) == "a"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


@pytest.mark.engine
@pytest.mark.pandoc
def test_two_builds_into_one_site_at_once_take_turns(two_builds, tmp_path):
    sources, refs, cache = two_builds
    site = tmp_path / "site"
    for _ in range(2):
        runs = [subprocess.Popen(command(sources[name], site, cache), env=environment(), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for name in ("a", "b")]
        results = [run.communicate(timeout=300) for run in runs]
        assert [run.returncode for run in runs] == [0, 0], results
        assert which(site, refs) in ("a", "b")
        check_links(site)
        assert all("Traceback" not in err for _, err in results)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]      # no lock file, no temporary


@pytest.mark.engine
@pytest.mark.pandoc
def test_a_build_waits_for_the_one_writing_its_site_and_says_so(two_builds, tmp_path):
    sources, refs, cache = two_builds
    site = tmp_path / "site"
    with fileio.output_lock(site, lambda: None, timeout=1):
        process = subprocess.Popen(command(sources["b"], site, cache), env=environment(), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        assert process.stderr is not None
        line = process.stderr.readline()
        assert line.strip() == f"anthology: waiting for another build writing {site}…"
        time.sleep(1)
        assert process.poll() is None and not site.exists()       # it waits, and writes nothing meanwhile
    _out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    assert which(site, refs) == "b"


@pytest.mark.engine
@pytest.mark.pandoc
def test_a_symbolic_link_inside_a_site_is_replaced_never_followed(tmp_path, cache_dir):
    posts = collection(tmp_path / "posts", 1)
    site, outside = tmp_path / "site", tmp_path / "outside"
    assert run_cli("build", "html", posts, "--out", site, "--cache-dir", cache_dir, "--no-project")[0] == 0
    fresh = tree(site)
    outside.mkdir()
    (outside / "mine.txt").write_text("someone's file\n")
    shutil.copytree(site / "posts", outside / "posts")
    (outside / "index.html").write_text("someone's page\n")
    shutil.rmtree(site / "posts")
    (site / "posts").symlink_to(outside / "posts", target_is_directory=True)
    (site / "index.html").unlink()
    (site / "index.html").symlink_to(outside / "index.html")
    (site / "series").rename(tmp_path / "series")
    (site / "series").symlink_to(tmp_path / "series")
    before = snapshot(outside)
    status, _, err = run_cli("build", "html", posts, "--out", site, "--cache-dir", cache_dir, "--no-project")
    assert status == 0, err
    assert snapshot(outside) == before                              # nothing written (or removed) outside
    assert not any(p.is_symlink() for p in [site / "posts", site / "index.html", site / "series"])
    assert tree(site) == fresh                                       # the site whole again
    assert tree(tmp_path / "series") == {k[len("series/"):]: v for k, v in fresh.items() if k.startswith("series/")}


@pytest.mark.engine
@pytest.mark.pandoc
def test_ctrl_c_during_a_rebuild_says_truly_whether_anything_was_written(two_builds, tmp_path):
    sources, refs, cache = two_builds
    site = tmp_path / "site"
    assert subprocess.run(command(sources["a"], site, cache), env=environment(), capture_output=True,
                          timeout=120).returncode == 0
    rng = random.Random(7)
    for _ in range(8):
        before = which(site, refs)
        assert before is not None
        process, _began = start_until_emit(command(sources["b" if before == "a" else "a"], site, cache))
        time.sleep(rng.uniform(0, 0.3))
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
        after = which(site, refs)
        if process.returncode == 130:
            nothing = "anthology: interrupted; nothing was written" in err
            assert nothing == (after == before), err
            assert nothing or f"interrupted; {site} written already, whole" in err, err
        else:
            # the signal came after the command ended (-2: while Python was exiting): it was written
            assert process.returncode in (0, -signal.SIGINT) and after != before, err
        assert "Traceback" not in err


@pytest.mark.engine
@pytest.mark.pandoc
def test_an_out_named_through_a_link_keeps_the_link_and_replaces_the_site_it_names(tmp_path, cache_dir):
    posts = collection(tmp_path / "posts", 1)
    site, linked = tmp_path / "site", tmp_path / "linked"
    assert run_cli("build", "html", posts, "--out", site, "--cache-dir", cache_dir, "--no-project")[0] == 0
    linked.symlink_to(site, target_is_directory=True)
    page = next(iter(sorted((site / "posts").iterdir())))
    page.write_text("damaged\n")
    assert run_cli("build", "html", posts, "--out", linked, "--cache-dir", cache_dir, "--no-project")[0] == 0
    assert linked.is_symlink() and page.read_text() != "damaged\n"
    check_links(site)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
