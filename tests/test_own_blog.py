"""A writer's own blog (issue 24): `init`, `new`, the content folder as every command's default,
plain Markdown read as a post, and the references `anthology help` prints.  Fast: nothing here
starts MathJax, pandoc or WeasyPrint (the installed command's whole first steps are
tests/test_new_user.py)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess

import pytest
from kexue_anthology.cli import scaffold
from kexue_anthology.config import project
from kexue_anthology.core.diagnostics import Diagnostics
from kexue_anthology.read import frontmatter, read
from PIL import Image

from tests.helpers import run_cli

SAMPLE_LINE = "no anthology.toml here or above: using the bundled sample"


def _listed(*argv: str) -> tuple[list[dict[str, object]], str]:
    status, out, err = run_cli("list", "--format", "json", *argv)
    assert status == 0, err
    return json.loads(out), err


def test_with_no_path_a_command_reads_the_content_folder_from_anywhere_inside_it(tmp_path, monkeypatch):
    (tmp_path / ".git").mkdir()                                  # the lookup's top
    blog = tmp_path / "blog"
    assert run_cli("init", blog)[0] == 0
    (blog / "posts" / "deep").mkdir()
    for where in (blog, blog / "posts" / "deep"):
        monkeypatch.chdir(where)
        posts, err = _listed()
        assert [p["title"] for p in posts] == ["你好，文集（一）：第一篇文章"], err
        assert SAMPLE_LINE not in err


def test_with_no_project_file_the_sample_is_read_and_said_in_one_line(tmp_path, monkeypatch):
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    posts, err = _listed()
    assert len(posts) == 39
    lines = [line for line in err.splitlines() if SAMPLE_LINE in line]
    assert len(lines) == 1 and "anthology init" in lines[0]
    _, err = _listed("-q")
    assert SAMPLE_LINE not in err                               # -q: the line goes as progress goes


def test_init_makes_the_folder_and_an_example_post_that_reads_cleanly(tmp_path):
    blog = tmp_path / "a" / "blog"
    status, out, err = run_cli("init", blog)
    assert status == 0, err
    for name in ("anthology.toml", "posts/hello.md", "posts/hello.png", ".gitignore",
                 ".github/workflows/anthology.yml", ".pre-commit-config.yaml"):
        assert (blog / name).is_file() and f"wrote {blog / name}" in out, name
    assert "anthology new" in out and "anthology check" in out
    diagnostics = Diagnostics()
    posts = read([str(blog)], diagnostics)
    assert not diagnostics.items, [d.format() for d in diagnostics.items]
    [post] = posts
    assert (post.series, post.part, post.date) == ("你好，文集", 1, dt.date.today().isoformat())
    text = post.body.text
    assert "\\label{eq:gauss}" in text and "\\eqref{eq:gauss}" in text and "$e^{i\\pi} + 1 = 0$" in text
    assert "](hello.png)" in text
    with Image.open(blog / "posts" / "hello.png") as image:
        assert image.format == "PNG" and image.size == (64, 40)
    assert "out/" in (blog / ".gitignore").read_text(encoding="utf-8").splitlines()
    workflow = (blog / ".github" / "workflows" / "anthology.yml").read_text(encoding="utf-8")
    assert "anthology check --changed" in workflow and "--format github" in workflow and "pip install" in workflow
    assert "entry: anthology check" in (blog / ".pre-commit-config.yaml").read_text(encoding="utf-8")


def test_init_replaces_nothing_and_writes_nothing_when_one_file_is_in_the_way(tmp_path):
    (tmp_path / ".gitignore").write_text("mine\n", encoding="utf-8")
    status, out, err = run_cli("init", tmp_path)
    assert status == 2 and out == ""
    assert f"{tmp_path / '.gitignore'} exists already" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [".gitignore"]
    assert (tmp_path / ".gitignore").read_text(encoding="utf-8") == "mine\n"


def test_new_writes_a_fresh_post_in_posts_and_never_overwrites(tmp_path, monkeypatch):
    assert run_cli("init", tmp_path)[0] == 0
    (tmp_path / "posts" / "deep").mkdir()
    monkeypatch.chdir(tmp_path / "posts" / "deep")                # from anywhere inside
    status, out, err = run_cli("new", "熵的故事（一）：开始", "--series", "熵的故事")
    assert status == 0, err
    first = (tmp_path / "posts" / "deep" / out.strip()).resolve()
    assert first.parent == tmp_path / "posts" and first.name.startswith(dt.date.today().isoformat())
    status, out, err = run_cli("new", "熵的故事（二）：继续")
    second = (tmp_path / "posts" / "deep" / out.strip()).resolve()
    assert status == 0 and second != first
    monkeypatch.chdir(tmp_path)
    posts, _ = _listed()
    made = {p["id"]: p for p in posts}
    assert len(made) == 3                                         # ids unique: no duplicate-id
    one = next(p for p in posts if p["series"] == "熵的故事")
    assert one["title"] == "熵的故事（一）：开始" and one["date"] == dt.date.today().isoformat()


def test_new_takes_an_injected_day_and_skips_ids_and_names_in_use(tmp_path):
    day = dt.date(2030, 1, 2)
    (tmp_path / "posts").mkdir()
    (tmp_path / "posts" / "2030-01-02-1.md").write_text("not mine\n", encoding="utf-8")
    (tmp_path / "posts" / "other.md").write_text('---\ntitle: x\nid: "2030-01-02-2"\n---\n', encoding="utf-8")
    path = scaffold.new_post(tmp_path, '带 "引号" 的: 标题', today=day)
    assert path == tmp_path / "posts" / "2030-01-02-3.md"
    assert (tmp_path / "posts" / "2030-01-02-1.md").read_text(encoding="utf-8") == "not mine\n"
    diagnostics = Diagnostics()
    [post] = [p for p in read([str(path)], diagnostics)]
    assert (post.title, post.date, post.id) == ('带 "引号" 的: 标题', "2030-01-02", "2030-01-02-3")


def test_new_outside_a_content_folder_says_how_to_start_one(tmp_path, monkeypatch):
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    status, out, err = run_cli("new", "标题")
    assert status == 2 and out == "" and "anthology init" in err
    assert run_cli("new", "  ")[0] == 2


def _git(folder, *args, **env):
    subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t", **env})


def test_plain_markdown_is_a_post_with_one_note_saying_what_was_assumed(tmp_path):
    (tmp_path / "notes.md").write_text("```\n# not this\n```\n\n# 我的笔记\n\n正文 $x^2$。\n", encoding="utf-8")
    (tmp_path / "无题.md").write_text("只有正文 $y$。\n", encoding="utf-8")
    diagnostics = Diagnostics()
    posts = {p.title: p for p in read([str(tmp_path)], diagnostics)}
    assert set(posts) == {"我的笔记", "无题"}
    assert "# 我的笔记" not in posts["我的笔记"].body.text and "$x^2$" in posts["我的笔记"].body.text
    notes = [d for d in diagnostics.items if d.code == "post-assumed"]
    assert len(notes) == 2 and all(d.severity == "note" for d in notes) and len(diagnostics.items) == 2
    shown = notes[0].format()
    assert shown.startswith(f"{tmp_path / 'notes.md'}:1:1: note: no front matter: title from the first heading")
    assert "`title: 标题`" in shown and "`date: YYYY-MM-DD`" in shown
    assert posts["我的笔记"].date == dt.date.fromtimestamp((tmp_path / "notes.md").stat().st_mtime).isoformat()
    diagnostics.strict()
    assert diagnostics.errors == 0 and diagnostics.warnings == 0          # --strict leaves a note a note


def test_plain_markdown_takes_the_date_of_its_last_commit(tmp_path):
    _git(tmp_path, "init", "-q")
    (tmp_path / "a.md").write_text("# 标题\n", encoding="utf-8")
    _git(tmp_path, "add", "a.md")
    _git(tmp_path, "commit", "-q", "-m", "a", GIT_COMMITTER_DATE="2021-03-04T05:06:07+08:00")
    diagnostics = Diagnostics()
    [post] = read([str(tmp_path / "a.md")], diagnostics)
    assert post.date == "2021-03-04" and "date from the last commit" in diagnostics.items[0].message


def test_a_file_in_no_form_is_refused_naming_the_front_matter_that_would_make_it_a_post(tmp_path):
    (tmp_path / "notes.txt").write_text("just words\n", encoding="utf-8")
    diagnostics = Diagnostics()
    assert read([str(tmp_path)], diagnostics) == []
    [d] = diagnostics.items
    assert d.code == "unknown-form" and "`---` / `title: 标题` / `date: YYYY-MM-DD` / `---`" in d.message


def test_the_references_hold_every_field_and_key():
    status, out, _ = run_cli("help", "front-matter")
    assert status == 0 and set(frontmatter.FIELD_HELP) == set(frontmatter.FIELDS)
    assert all(f"\n  {name} " in out for name in frontmatter.FIELDS)
    status, out, _ = run_cli("help", "project")
    assert status == 0 and all(f"{key} =" in out for key in project.BOOK_KEYS)
    assert all(f"[{table}]" in out for table in project.TABLES)


@pytest.mark.parametrize("argv", [(), ("--help",)])
def test_the_help_points_to_anthology_help_not_to_a_readme(argv):
    status, out, _ = run_cli(*argv)
    assert status == 0 and "README" not in out and "anthology help front-matter" in out
    status, out, _ = run_cli("--version")
    assert status == 0 and out.startswith("anthology ")
