"""The project file, anthology.toml: found, read, checked to the line, laid under the flags."""

from __future__ import annotations

import json
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest
from kexue_anthology.config import project
from kexue_anthology.config.project import DEFAULT_TITLE, Project, ProjectError
from kexue_anthology.config.settings import Settings
from kexue_anthology.formats import EMITTERS
from PIL import Image

from tests.conftest import SEEDS
from tests.helpers import run_cli

POST = """---
title: {title}
date: {date}
id: "{id}"
{series}---
一段文字，公式$x^{{n}}+y^{{n}}$在这里。
"""


def posts(folder: Path, *specs: tuple[str, str, str | None, int | None]) -> Path:
    """Markdown posts with front matter: (id, title, series, part) each."""
    folder.mkdir(parents=True, exist_ok=True)
    for n, (post_id, title, series, part) in enumerate(specs, 1):
        extra = f"series: {series}\npart: {part}\n" if series else ""
        (folder / f"{post_id}.md").write_text(
            POST.format(title=title, date=f"2024-01-{n:02d}", id=post_id, series=extra), encoding="utf-8")
    return folder


def content(tmp_path: Path, toml: str) -> Path:
    folder = posts(tmp_path / "content", ("9101", "第一篇", None, None), ("9102", "甲系列（一）：开始", "甲系列", 1),
                   ("9103", "乙系列（一）：开始", "乙系列", 1), ("9104", "甲系列（二）：继续", "甲系列", 2))
    (folder / "anthology.toml").write_text(toml, encoding="utf-8")
    return folder


def problems(path: Path) -> list[str]:
    with pytest.raises(ProjectError) as e:
        project.load(path, EMITTERS.values())
    return [p.format() for p in e.value.problems]


def test_a_project_file_is_read_with_every_key(tmp_path):
    Image.new("RGB", (16, 24), "white").save(tmp_path / "cover.png")
    path = tmp_path / "anthology.toml"
    path.write_text('[book]\ntitle = "测试文集"\nsubtitle = "副标题"\nauthor = "张三"\nlanguage = "zh-Hant"\n'
                    'source_name = "某站"\nsource_url = "https://example.org/"\nlicence = "CC BY 4.0"\n'
                    'series = [\n  "甲系列",\n  "乙系列",\n]\nothers = false\npaper = "a5"\nmath = "svg"\n'
                    'cover = "cover.png"\n\n[outputs]\npdf = "book.pdf"\n', encoding="utf-8")
    p = project.load(path, EMITTERS.values())
    assert (p.title, p.subtitle, p.author, p.language, p.source_name, p.licence) == \
        ("测试文集", "副标题", "张三", "zh-Hant", "某站", "CC BY 4.0")
    assert p.series == ("甲系列", "乙系列") and p.series_lines == ((10, 3), (11, 3)) and p.others is False
    assert (p.paper, p.math, p.cover) == ("a5", "svg", (tmp_path / "cover.png").resolve())
    assert p.source == "某站 · example.org" and p.credit == "某站（example.org）"
    assert p.output("pdf") == tmp_path / "book.pdf" and p.output("epub") is None


def test_every_problem_is_reported_at_its_line_with_the_valid_choices(tmp_path):
    path = tmp_path / "anthology.toml"
    path.write_text('[book]\ntitle = "x"\n  titel = "y"\npaper = "a3"\nothers = "no"\ncover = "missing.png"\n'
                    'author = 3\n\n[output]\npdf = "x.pdf"\n', encoding="utf-8")
    found = problems(path)
    name = str(path)
    assert found[0] == (f'{name}:3:3: error: unknown key "titel" in [book]; did you mean "title"? valid keys: '
                        'title, subtitle, author, language, source_name, source_url, licence, series, others, '
                        'paper, math, cover [project-key]')
    assert found[1] == f'{name}:4:1: error: paper = "a3": valid choices: a4, a5, b5 [project-value]'
    assert found[2] == f'{name}:5:1: error: others = "no": must be true or false [project-value]'
    assert found[3].startswith(f'{name}:6:1: error: cover = "missing.png": no such image file')
    assert found[4] == f"{name}:7:1: error: author = 3: must be a string, not a number [project-value]"
    assert found[5] == (f'{name}:9:1: error: unknown table "output"; did you mean "outputs"? valid tables: '
                        '[book], [outputs], [cache], [images] [project-key]')
    assert len(found) == 6


def test_a_cover_the_epub_could_not_take_is_reported_at_its_line(tmp_path):
    Image.new("RGB", (16, 24), "white").save(tmp_path / "cover.gif")
    (tmp_path / "cover.png").write_bytes(b"\x89PNG\r\n\x1a\n")        # the signature and nothing after
    path = tmp_path / "anthology.toml"
    path.write_text('[book]\ntitle = "x"\ncover = "cover.gif"\n', encoding="utf-8")
    [gif] = problems(path)
    assert gif.startswith(f'{path}:3:1: error: cover = "cover.gif": the cover image ') and "is GIF, not PNG or JPEG" in gif
    path.write_text('[book]\ntitle = "x"\n\ncover = "cover.png"\n', encoding="utf-8")
    [png] = problems(path)
    assert png.startswith(f'{path}:4:1: error: cover = "cover.png": the cover image ') and "not a PNG or JPEG image" in png


def test_a_book_key_outside_its_table_is_named(tmp_path):
    path = tmp_path / "anthology.toml"
    path.write_text('# mine\ntitle = "测试文集"\n[book]\nauthor = "张三"\n', encoding="utf-8")
    assert problems(path) == [f'{path}:2:1: error: "title" belongs in [book]: write it below a [book] line '
                              '[project-key]']


def test_a_toml_syntax_error_has_its_line_and_column(tmp_path):
    path = tmp_path / "anthology.toml"
    path.write_text('[book]\ntitle = "测试文集"\nauthor = 张三\n', encoding="utf-8")
    assert problems(path) == [f"{path}:3:10: error: not valid TOML: Invalid value [project-syntax]"]


def test_found_walking_up_from_the_inputs_and_not_past_a_repository(tmp_path):
    (tmp_path / "anthology.toml").write_text("", encoding="utf-8")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    (deep / "post.md").write_text("x", encoding="utf-8")
    assert project.find([deep / "post.md"]) == tmp_path / "anthology.toml"
    assert project.find([deep, tmp_path / "a"]) == tmp_path / "anthology.toml"
    (tmp_path / "a" / ".git").mkdir()               # a repository's top: no project file of its own
    assert project.find([deep]) is None
    assert project.find([SEEDS]) == SEEDS / "anthology.toml"


def test_the_bundled_sample_carries_the_defaults():
    sample = project.load(SEEDS / "anthology.toml", EMITTERS.values())
    assert project.settings_of(sample) == project.settings_of(Project(title=DEFAULT_TITLE))


def test_init_writes_a_file_with_the_writers_own_name_that_loads_and_is_never_replaced(tmp_path):
    status, out, err = run_cli("init", tmp_path)
    assert status == 0 and "anthology.toml" in out
    written = (tmp_path / "anthology.toml").read_text(encoding="utf-8")
    assert all(f"{key} =" in written for key in project.BOOK_KEYS)        # every key, some commented out
    loaded = project.load(tmp_path / "anthology.toml", EMITTERS.values())
    # no one else's name, site or licence: the blog's defaults are left only where they are no one's
    assert loaded.author != "苏剑林" and (loaded.source_name, loaded.source_url, loaded.licence) == ("", "", "")
    assert loaded.title == tmp_path.name
    uncommented = "\n".join(line.split("#")[0] for line in written.splitlines())
    assert "苏剑林" not in uncommented and "kexue" not in uncommented and "科学空间" not in uncommented
    others = {k: v for k, v in project.settings_of(loaded).items()
              if k not in ("title", "author", "source_name", "source_url", "licence")}
    assert others == {k: v for k, v in project.settings_of(Project()).items() if k in others}
    (tmp_path / "anthology.toml").write_text("# mine\n", encoding="utf-8")
    (tmp_path / "posts" / "hello.md").unlink()
    status, _, err = run_cli("init", tmp_path)
    assert status == 2 and "anthology.toml exists already" in err
    assert (tmp_path / "anthology.toml").read_text(encoding="utf-8") == "# mine\n"
    assert not (tmp_path / "posts" / "hello.md").exists()           # nothing written when one file is in the way


def test_the_commented_template_loads_back_to_the_defaults(tmp_path):
    (tmp_path / "anthology.toml").write_text(project.template(EMITTERS.values()), encoding="utf-8")
    loaded = project.load(tmp_path / "anthology.toml", EMITTERS.values())
    assert project.settings_of(loaded) == project.settings_of(Project())


def test_list_takes_the_series_the_project_names_in_its_order(tmp_path):
    folder = content(tmp_path, '[book]\ntitle = "测试文集"\nseries = ["乙系列", "甲系列", "丙系列"]\nothers = false\n')
    status, out, err = run_cli("list", folder, "--format", "json")
    assert status == 0
    assert sorted(p["id"] for p in json.loads(out)) == ["9102", "9103", "9104"]       # 9101 has no series
    # shown relative to the content folder (no git repository here): core/locations.py
    assert '\nanthology.toml:3:25: warning: series "丙系列" of the project file has no posts' in err
    status, out, _ = run_cli("list", folder, "--format", "json", "--no-project")
    assert status == 0 and len(json.loads(out)) == 4
    status, out, _ = run_cli("list", folder, "--format", "json", "--series", "甲系列")      # the flag wins
    assert status == 0 and sorted(p["id"] for p in json.loads(out)) == ["9102", "9104"]


def test_a_bad_project_file_stops_every_command_before_any_work(tmp_path):
    folder = content(tmp_path, '[book]\ntitel = "测试文集"\n')
    for argv in (("list", folder), ("check", folder, "--no-cache"), ("build", "html", folder, "--out", tmp_path / "s")):
        status, out, err = run_cli(*argv)
        assert status == 2 and out == ""
        assert f'{folder / "anthology.toml"}:2:1: error: unknown key "titel" in [book]' in err
    assert not (tmp_path / "s").exists()
    status, _, _ = run_cli("list", folder, "--no-project")
    assert status == 0
    status, _, err = run_cli("list", folder, "--project", tmp_path / "nowhere.toml")
    assert status == 2 and "no such file" in err


def test_flags_override_the_file(tmp_path):
    from kexue_anthology.cli.main import _settings, build_parser
    folder = content(tmp_path, '[book]\ntitle = "测试文集"\nauthor = "张三"\npaper = "a5"\nsubtitle = "副"\n')
    parse = build_parser().parse_args

    def settings(*argv: str) -> Settings:
        args = parse(["build", "pdf", str(folder), *argv])
        return _settings(args, [str(folder)])
    s = settings()
    assert (s.title, s.project.author, s.paper, s.project.subtitle) == ("测试文集", "张三", "a5", "副")
    s = settings("--title", "别的", "--author", "李四", "--paper", "b5", "--subtitle", "又一个")
    assert (s.title, s.project.author, s.paper, s.project.subtitle) == ("别的", "李四", "b5", "又一个")
    assert settings("--series", "甲系列").title == "甲系列"               # a one-series book is titled by it
    assert settings("--series", "甲系列", "--title", "T").title == "T"
    assert settings("--no-project").title == DEFAULT_TITLE and settings("--no-project").project.author == "苏剑林"


def test_the_read_stage_leaves_the_project_file_and_images_alone(tmp_path):
    folder = content(tmp_path, '[book]\ntitle = "测试文集"\ncover = "cover.png"\n')
    Image.new("RGB", (16, 24), "white").save(folder / "cover.png")
    status, out, err = run_cli("list", folder)
    assert status == 0 and out.strip().endswith("4 posts") and "error" not in err


def test_the_git_helper_is_not_needed_to_read_a_project(tmp_path):
    # a content folder outside any repository still finds its file (walks up to the root)
    folder = content(tmp_path, '[book]\ntitle = "测试文集"\n')
    assert subprocess.run(["git", "-C", str(folder), "rev-parse"], capture_output=True).returncode != 0
    assert project.find([folder]) == folder / "anthology.toml"


BOOK = ('[book]\ntitle = "测试文集"\nauthor = "张三"\nsource_name = "某站"\nsource_url = "https://example.org"\n'
        'licence = "版权归张三所有"\n')


@pytest.fixture
def book(tmp_path, monkeypatch) -> Path:
    """A content folder whose anthology.toml names the book 测试文集 by 张三."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    return content(tmp_path, BOOK)


@pytest.mark.engine
@pytest.mark.pandoc
def test_the_site_shows_the_project(book, tmp_path):
    status, _out, err = run_cli("build", "html", book, "--out", tmp_path / "site", "--cache-dir", tmp_path / "cache")
    assert status == 0, err
    index = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    post = (tmp_path / "site" / "posts" / "9101.html").read_text(encoding="utf-8")
    for page in (index, post):
        assert "<title>" in page and "测试文集" in page
        assert "文：张三，某站（example.org）。" in page and "苏剑林" not in page and "kexue.fm）" not in page
    assert "<title>测试文集</title>" in index
    # series in the order the file lists them, others last
    (book / "anthology.toml").write_text(BOOK + 'series = ["乙系列", "甲系列"]\n', encoding="utf-8")
    status, _, err = run_cli("build", "html", book, "--out", tmp_path / "site", "--cache-dir", tmp_path / "cache")
    index = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert status == 0 and index.index('乙系列</a> <span class="count">') < index.index('甲系列</a> <span class="count">')
    status, _, err = run_cli("build", "html", book, "--out", tmp_path / "site", "--cache-dir", tmp_path / "cache",
                             "--title", "别的书", "--author", "李四")
    index = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert status == 0 and "<title>别的书</title>" in index and "文：李四，" in index


@pytest.mark.engine
@pytest.mark.pandoc
def test_the_epub_metadata_and_title_page_show_the_project(book, tmp_path):
    import re
    import zipfile
    status, _, err = run_cli("build", "epub", book, "--out", tmp_path / "book.epub", "--cache-dir", tmp_path / "cache")
    assert status == 0, err
    with zipfile.ZipFile(tmp_path / "book.epub") as z:
        files = {n: z.read(n).decode("utf-8", "replace") for n in z.namelist() if n.endswith((".opf", ".xhtml"))}
    opf = next(text for name, text in files.items() if name.endswith(".opf"))
    assert re.search(r"<dc:title[^>]*>测试文集</dc:title>", opf)
    assert re.search(r"<dc:creator[^>]*>张三</dc:creator>", opf) and "苏剑林" not in opf
    title_page = next(text for text in files.values() if re.search(r'<(section|body)[^>]*epub:type="titlepage"', text))
    assert re.search(r"<h1[^>]*>测试文集</h1>", title_page) and re.search(r"<p[^>]*>张三</p>", title_page)
    assert "某站 · example.org" in title_page and "苏剑林" not in title_page


@pytest.mark.engine
@pytest.mark.pandoc
@pytest.mark.weasyprint
def test_the_pdf_metadata_and_title_page_show_the_project(book, tmp_path):
    import pikepdf
    if not shutil.which("pdftotext"):
        pytest.skip("needs poppler-utils (pdftotext)")
    out = tmp_path / "book.pdf"
    status, _, err = run_cli("build", "pdf", book, "--out", out, "--cache-dir", tmp_path / "cache", "--jobs", "1")
    assert status == 0, err
    with pikepdf.open(out) as pdf:
        assert str(pdf.docinfo["/Title"]) == "测试文集" and str(pdf.docinfo["/Author"]) == "张三"
    first = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(out), "-"], capture_output=True, text=True).stdout
    assert "测试文集" in first and "张三" in first and "苏剑林" not in first


def test_the_templates_notes_stand_in_one_column_as_a_terminal_shows_them():
    own = {"title": "我的文集", "author": "张三 Zhang", "source_name": "", "source_url": "", "licence": ""}
    for text in (project.template(EMITTERS.values()), project.template(EMITTERS.values(), own)):
        columns = set()
        for line in text.splitlines():
            setting, sep, _ = line.partition("   #") if not line.startswith("#   ") else ("", "", "")
            if sep and not line.startswith("# anthology.toml"):
                before = line[:line.index("#", len(setting))]
                width = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in before)
                if width <= 36:
                    columns.add(width)
        assert columns == {36}
