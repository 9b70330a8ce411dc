"""The project file is trusted no further than it should be: the lookup stops at the git top and
the home folder, never takes another user's file, never skips or opens a file that is not a
regular one; every string is checked at its line; the cover has limits and the drawn cover a
bounded time; the file used is named in one line."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import struct
import threading
import time
import warnings
import zlib
from pathlib import Path

import pytest
from kexue_anthology.config import project
from kexue_anthology.config.project import ProjectError
from kexue_anthology.core.errors import SetupError
from kexue_anthology.formats import EMITTERS
from PIL import Image

from tests.helpers import run_cli
from tests.test_project import posts

PLANTED = '[book]\ntitle = "PLANTED"\n\n[outputs]\nhtml = "/tmp/elsewhere"\n'
NOBODY = 65534
as_root = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                             reason="giving a file to another user (chown) needs root")


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A home folder inside tmp_path (HOME points at it), holding a content folder `posts`."""
    home = tmp_path / "home"
    posts(home / "posts", ("9101", "第一篇", None, None))
    monkeypatch.setenv("HOME", str(home))
    return home


def listed_title(folder: Path, *argv: str) -> tuple[int, str, str]:
    status, out, err = run_cli("list", folder, "--format", "json", *argv)
    return status, out, err


def load_problems(path: Path) -> list[str]:
    with pytest.raises(ProjectError) as e:
        project.load(path, EMITTERS.values())
    return [p.format() for p in e.value.problems]


def unhung(fifo: Path, *argv: str | Path, timeout: float = 60) -> tuple[int, str, str]:
    """The command in-process on a thread of its own, so that a hang (a FIFO opened, waiting for a
    writer) is a failed test, not a stuck run: the FIFO is then opened for writing, which ends the wait."""
    said: list[tuple[int, str, str]] = []
    thread = threading.Thread(target=lambda: said.append(run_cli(*argv)), daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail(f"anthology {' '.join(map(str, argv))} still runs after {timeout} s: {fifo} was opened")
    [result] = said
    return result


# --- where the lookup stops -------------------------------------------------------------------------

def test_a_file_above_the_home_folder_is_not_used(home, tmp_path):
    (tmp_path / "anthology.toml").write_text(PLANTED, encoding="utf-8")      # a shared parent folder's
    assert project.find([home / "posts"]) is None
    status, out, err = run_cli("list", home / "posts")
    assert status == 0 and "PLANTED" not in out + err and "project file" not in err
    (home / "anthology.toml").write_text('[book]\ntitle = "我的"\n', encoding="utf-8")    # home itself is looked at
    assert project.find([home / "posts"]) == home / "anthology.toml"


def test_a_file_above_a_repository_top_is_not_used(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "nowhere"))
    (tmp_path / "anthology.toml").write_text(PLANTED, encoding="utf-8")
    repo = posts(tmp_path / "repo" / "posts", ("9101", "第一篇", None, None)).parent
    (repo / ".git").mkdir()
    assert project.find([repo / "posts"]) is None
    assert project.find([tmp_path / "repo" / ".."]) == tmp_path / "anthology.toml"     # outside it, found


@as_root
def test_another_users_file_is_not_used_and_is_named(home, tmp_path):
    (tmp_path / "anthology.toml").write_text(PLANTED, encoding="utf-8")     # above: never reached either
    planted = home / "posts" / "anthology.toml"
    planted.write_text(PLANTED, encoding="utf-8")
    os.chown(planted, NOBODY, NOBODY)
    warnings: list = []
    assert project.find([home / "posts"], warnings) is None
    [warning] = [w.format() for w in warnings]
    assert warning.startswith(f"{planted}: warning: not used: it belongs to another user (uid {NOBODY}, not 0)")
    assert warning.endswith(f"to use it anyway give --project {planted} [project-owner]")
    status, out, err = run_cli("list", home / "posts", "-q")
    assert status == 0 and "PLANTED" not in out and err.count("\n") == 1 and "[project-owner]" in err
    status, out, err = run_cli("list", home / "posts", "--project", planted, "--format", "json")
    assert status == 0 and f"anthology: project file {planted}" in err                  # when asked for, used


@as_root
def test_a_link_to_another_users_file_is_not_used(home, tmp_path):
    elsewhere = tmp_path / "elsewhere.toml"
    elsewhere.write_text(PLANTED, encoding="utf-8")
    os.chown(elsewhere, NOBODY, NOBODY)
    (home / "posts" / "anthology.toml").symlink_to(elsewhere)      # the link is ours, what it names is not
    warnings: list = []
    assert project.find([home / "posts"], warnings) is None
    assert "the file it links to belongs to another user" in warnings[0].message


@as_root
def test_a_file_in_another_users_folder_is_not_used(home):
    folder = home / "posts"
    (folder / "anthology.toml").write_text(PLANTED, encoding="utf-8")
    os.chown(folder, NOBODY, NOBODY)
    warnings: list = []
    assert project.find([folder], warnings) is None
    assert "its folder belongs to another user" in warnings[0].message


# --- not a regular file -----------------------------------------------------------------------------

def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _dangling(path: Path) -> None:
    path.symlink_to(path.parent / "gone.toml")


def _folder(path: Path) -> None:
    path.mkdir()


def _socket(path: Path) -> None:
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.close()


@pytest.mark.parametrize(("make", "kind"), [(_fifo, "is a FIFO (named pipe)"), (_dangling, "is a link to nothing"),
                                            (_folder, "is a folder"), (_socket, "is a socket")])
def test_a_project_file_that_is_not_a_regular_file_is_an_error_naming_it(home, tmp_path, make, kind):
    (tmp_path / "anthology.toml").write_text(PLANTED, encoding="utf-8")
    bad = home / "posts" / "anthology.toml"
    make(bad)
    with pytest.raises(ProjectError) as e:
        project.find([home / "posts"])
    assert f"the project file {kind}" in e.value.problems[0].message
    status, out, err = unhung(bad, "list", home / "posts", "--format", "json")    # a FIFO is never opened: no hang
    assert status == 2 and out == ""
    assert f"{bad}: error: the project file {kind}" in err and "PLANTED" not in err
    status, out, err = unhung(bad, "list", home / "posts", "--project", bad)
    assert status == 2 and str(bad) in err


def test_a_fifo_swapped_in_is_not_read(tmp_path):
    os.mkfifo(tmp_path / "anthology.toml")
    started = time.monotonic()
    [problem] = load_problems(tmp_path / "anthology.toml")
    assert "is a FIFO (named pipe), not a regular file" in problem and time.monotonic() - started < 5


def test_a_huge_project_file_is_refused_unread(tmp_path):
    path = tmp_path / "anthology.toml"
    path.write_text("# " + "x" * (project.MAX_FILE + 10) + "\n", encoding="utf-8")
    [problem] = load_problems(path)
    assert "over the limit of 1,048,576" in problem


# --- the strings ------------------------------------------------------------------------------------

def test_control_characters_and_noncharacters_are_errors_at_their_lines(tmp_path):
    path = tmp_path / "anthology.toml"
    path.write_text('[book]\ntitle = "好\\u0001书"\nauthor = "张\\uFFFE三"\nsubtitle = "行一\\n行二\\t制表"\n'
                    'source_name = "\\u0085站"\nseries = ["甲", "乙\\u0007"]\n\n[outputs]\nhtml = "out/\\u001b"\n',
                    encoding="utf-8")
    found = load_problems(path)
    assert found == [
        f'{path}:2:1: error: title = "好\\u0001书": holds the control character or noncharacter U+0001 (character 2), '
        'which a book cannot hold: remove it [project-value]',
        f'{path}:3:1: error: author = "张\\uFFFE三": holds the control character or noncharacter U+FFFE '
        '(character 2), which a book cannot hold: remove it [project-value]',
        f'{path}:5:1: error: source_name = "\\u0085站": holds the control character or noncharacter U+0085 '
        '(character 1), which a book cannot hold: remove it [project-value]',
        f'{path}:6:1: error: series = ["甲", "乙\\u0007"]: a series name holds the control character or '
        'noncharacter U+0007 (character 2), which a book cannot hold: remove it [project-value]',
        f'{path}:9:1: error: html = "out/\\u001B": holds the control character or noncharacter U+001B '
        '(character 5), which a book cannot hold: remove it [project-value]']       # tab and newline are fine
    assert project.text_problem("\ud800") and project.text_problem("\U0010ffff") and project.text_problem("\x7f")
    assert project.text_problem("科学空间\t文集\n第二行") is None


def test_strings_have_length_limits_at_their_lines(tmp_path):
    path = tmp_path / "anthology.toml"
    long = "长" * 201
    path.write_text(f'[book]\ntitle = "{"长" * 200}"\nauthor = "{long}"\n\nlicence = "{"x" * 2001}"\n'
                    f'source_url = "https://{"a" * 2000}"\nseries = ["{long}"]\n', encoding="utf-8")
    found = load_problems(path)
    assert [line.split(": error: ")[0] for line in found] == [f"{path}:{n}:1" for n in (3, 5, 6, 7)]
    assert found[0] == (f'{path}:3:1: error: author = "{"长" * 60}…": is 201 characters long; the limit is 200 '
                        '[project-value]')                      # the value shown is cut short too
    assert "is 2,001 characters long; the limit is 2,000" in found[1]
    assert "is 2,008 characters long; the limit is 2,000" in found[2]
    assert "a series name is 201 characters long; the limit is 200" in found[3]
    path.write_text(f'[book]\ntitle = "{"长" * 200}"\n', encoding="utf-8")
    assert project.load(path, EMITTERS.values()).title == "长" * 200                  # at the limit: fine


def test_a_control_character_in_a_flag_is_a_usage_error(home):
    status, _, err = run_cli("build", "html", home / "posts", "--title", "好\x01书", "--out", home / "site")
    assert status == 2 and "anthology: error: --title: holds the control character or noncharacter U+0001" in err
    assert not (home / "site").exists()
    status, _, err = run_cli("build", "epub", home / "posts", "--series", "熵\ufffe", "--out", home / "b.epub")
    assert status == 2 and "anthology: error: --series: holds the control character or noncharacter U+FFFE" in err
    assert not (home / "b.epub").exists()


# --- the cover --------------------------------------------------------------------------------------

def test_a_cover_over_the_size_limit_is_an_error_at_its_line_before_any_work(home):
    from kexue_anthology.formats.cover import MAX_BYTES
    big = home / "posts" / "cover.png"
    Image.new("RGB", (16, 24), "white").save(big)
    with big.open("ab") as f:
        f.truncate(MAX_BYTES + 1)                                  # sparse: no 20 MB written
    (home / "posts" / "anthology.toml").write_text('[book]\ntitle = "书"\n\ncover = "cover.png"\n', encoding="utf-8")
    status, _out, err = run_cli("build", "epub", home / "posts", "--out", home / "book.epub")
    assert status == 2 and not (home / "book.epub").exists()
    assert f'{home / "posts" / "anthology.toml"}:4:1: error: cover = "cover.png": the cover image' in err
    assert f"is {MAX_BYTES + 1:,} bytes, over the limit of {MAX_BYTES:,}" in err


def test_a_cover_over_the_pixel_limit_is_refused_from_its_header(tmp_path):
    from kexue_anthology.formats.cover import MAX_PIXELS, cover_image
    wide = tmp_path / "wide.png"
    Image.new("1", (10_000, 4_001)).save(wide)                    # 40,010,000 pixels, a small file
    started = time.monotonic()
    with pytest.raises(SetupError, match=r"is 10,000 × 4,001 pixels, over the limit of 40,000,000"):
        cover_image(wide)
    assert time.monotonic() - started < 2 and 10_000 * 4_001 > MAX_PIXELS
    bomb = tmp_path / "bomb.png"                                  # a header claiming 60,000 × 60,000, no pixels
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 60_000, 60_000, 1, 0, 0, 0, 0))
                     + _chunk(b"IEND", b""))
    with warnings.catch_warnings():
        warnings.simplefilter("error")                              # and no warning of Pillow's escapes
        with pytest.raises(SetupError, match=r"has over 40,000,000 pixels, the limit"):
            cover_image(bomb)
    os.mkfifo(tmp_path / "fifo.png")
    with pytest.raises(SetupError, match="is not a regular file"):
        cover_image(tmp_path / "fifo.png")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def test_the_drawn_cover_takes_a_bounded_time_for_any_title(tmp_path):
    from kexue_anthology.formats.cover import SIZE, draw_cover
    try:
        from kexue_anthology.formats.fonts import cjk_serif_font
        cjk_serif_font()
    except SetupError as e:
        pytest.skip(f"needs a CJK serif font: {e}")
    started = time.monotonic()
    draw_cover(tmp_path / "cover.png", "数学" * 30_000, "作者" * 30_000, "某站 · example.org" * 3000,
               dt.datetime(2024, 1, 1), subtitle="副标题\n第二行" * 10_000)
    took = time.monotonic() - started                              # 60,000 characters took 49-86 s before
    assert took < 5, took
    with Image.open(tmp_path / "cover.png") as image:
        assert image.size == SIZE
        title_band = image.crop((200, 640, SIZE[0] - 200, 760)).convert("L")
        assert title_band.getextrema()[0] < 100                     # the title is drawn


# --- the project file used, named -------------------------------------------------------------------

def test_the_project_file_used_is_named_in_one_line_on_stderr(home):
    used = home / "posts" / "anthology.toml"
    used.write_text('[book]\ntitle = "测试文集"\n', encoding="utf-8")
    status, out, err = run_cli("list", home / "posts", "--format", "json")
    assert status == 0 and err == f"anthology: project file {used}\n"
    assert [p["id"] for p in json.loads(out)] == ["9101"]                  # stdout stays pure JSON
    status, out, err = run_cli("list", home / "posts", "--format", "json", "-q")
    assert status == 0 and err == ""
    status, out, err = run_cli("list", home / "posts", "--no-project")
    assert status == 0 and "project file" not in err
    used.unlink()
    status, out, err = run_cli("list", home / "posts")
    assert status == 0 and "project file" not in err


@pytest.mark.engine
def test_check_json_stays_pure_json_with_the_project_line(home, tmp_path):
    used = home / "posts" / "anthology.toml"
    used.write_text('[book]\ntitle = "测试文集"\n', encoding="utf-8")
    status, out, err = run_cli("check", home / "posts", "--format", "json", "--cache-dir", tmp_path / "cache")
    assert status == 0 and json.loads(out)["summary"]["formulas"] == 1
    assert f"anthology: project file {used}\n" in err
