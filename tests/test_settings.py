"""Settings resolved once (kexue_anthology.config.settings): the flags laid over the project file,
every default applied in one place, the same settings for `build` and `serve`; `--jobs` for both
worker pools; one reading of SOURCE_DATE_EPOCH."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from kexue_anthology.cli.main import _settings, build_parser
from kexue_anthology.cli.serve import Site, build_site
from kexue_anthology.collection.assemble import assemble
from kexue_anthology.config.project import DEFAULT_TITLE
from kexue_anthology.config.settings import DateError, Settings, source_date
from kexue_anthology.engine.options import EngineOptions
from kexue_anthology.formats import EMITTERS
from kexue_anthology.formats.common import build_date
from kexue_anthology.formats.pdf.emitter import PDFEmitter
from kexue_anthology.stages import Run, run_stages

from tests.helpers import run_cli

POST = "---\ntitle: {title}\ndate: 2020-0{n}-01\nid: \"{id}\"\n{series}---\n一段文字，公式$x^{{{n}}}+y$与$a_{n}$在这里。\n"


def folder(tmp_path: Path, toml: str | None = None) -> Path:
    """Two posts (one of the series 甲系列), with `toml` as their anthology.toml."""
    content = tmp_path / "content"
    content.mkdir(parents=True)
    for n, (post_id, series) in enumerate((("9201", "series: 甲系列\npart: 1\n"), ("9202", "")), 1):
        (content / f"{post_id}.md").write_text(POST.format(title=f"第{n}篇", n=n, id=post_id, series=series),
                                               encoding="utf-8")
    if toml is not None:
        (content / "anthology.toml").write_text(toml, encoding="utf-8")
    return content


def settings(content: Path, *argv: str) -> Settings:
    """The settings of `anthology ARGV… CONTENT`, as the command resolves them."""
    args = build_parser().parse_args([*argv, str(content)])
    return _settings(args, [str(content)])


COMMANDS = (("build", "html"), ("build", "epub"), ("build", "pdf"), ("serve",))


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_the_title_is_the_flag_then_the_series_then_the_file_then_the_default(tmp_path, command):
    content = folder(tmp_path, '[book]\ntitle = "文件的书名"\n')
    assert settings(content, *command).title == "文件的书名"
    assert settings(content, *command, "--series", "甲系列").title == "甲系列"
    assert settings(content, *command, "--series", "甲系列", "--title", "旗标").title == "旗标"
    assert settings(content, *command, "--title", "旗标").title == "旗标"
    assert settings(content, *command, "--no-project").title == DEFAULT_TITLE
    assert settings(content, *command, "--no-project").project.title is None      # the file's, not the default


def test_the_collection_is_titled_by_the_settings_alone():
    run = Run(paths=[], settings=Settings(title="设定的书名", series="甲系列"))
    run_stages(run, "assemble", start="assemble")
    assert run.collection is not None and run.collection.title == "设定的书名"
    with pytest.raises(TypeError):
        assemble([], {}, {}, {})          # type: ignore[call-arg]  # no title of its own to fall back on


def test_serve_builds_with_the_settings_it_is_given(tmp_path):
    content = folder(tmp_path, '[book]\ntitle = "文件的书名"\nmath = "svg"\n')
    given = settings(content, "serve", "--series", "甲系列", "--no-cache")
    assert (given.title, given.math, given.cache_dir) == ("甲系列", "svg", None)
    given = settings(content, "serve", "--no-cache")
    empty = tmp_path / "empty"
    empty.mkdir()
    run = build_site(Site(paths=[str(empty)], settings=given, engine=EngineOptions.of(given)), tmp_path / "site")
    assert run.settings is given and not run.posts        # nothing read: nothing built, nothing re-resolved
    assert run.build is not None and run.build.emitter is EMITTERS["html"]


def test_flags_override_the_project_file(tmp_path):
    content = folder(tmp_path, '[book]\nauthor = "张三"\nsubtitle = "副"\npaper = "a5"\nmath = "svg"\n')
    s = settings(content, "build", "pdf")
    assert (s.project.author, s.project.subtitle, s.paper, s.math) == ("张三", "副", "a5", "svg")
    s = settings(content, "build", "pdf", "--author", "李四", "--subtitle", "又一个", "--paper", "b5")
    assert (s.project.author, s.project.subtitle, s.paper) == ("李四", "又一个", "b5")
    assert settings(content, "build", "html").math == "svg"                      # the file's, html offers it
    assert settings(content, "build", "html", "--math", "mathml").math == "mathml"
    assert settings(content, "build", "epub", "--no-project").math == "mathml"   # the format's own default
    mathml = folder(tmp_path / "other", '[book]\nmath = "mathml"\n')
    assert settings(mathml, "build", "pdf").math == "svg"                        # pdf offers svg alone
    assert settings(content, "build", "pdf", "--no-project").paper == "a4"


def test_the_cache_and_timeout_are_resolved_once(tmp_path, monkeypatch):
    content = folder(tmp_path)
    monkeypatch.setenv("ANTHOLOGY_CACHE", str(tmp_path / "default-cache"))
    assert settings(content, "check").cache_dir == tmp_path / "default-cache"
    assert settings(content, "build", "html", "--cache-dir", str(tmp_path / "c")).cache_dir == tmp_path / "c"
    assert settings(content, "build", "html", "--no-cache").cache_dir is None
    s = settings(content, "check", "--timeout", "3")
    engine = EngineOptions.of(s)
    assert (engine.cache_dir, engine.timeout) == (s.cache_dir, 3.0)


def test_a_format_declares_its_options_and_gets_their_values_by_name(tmp_path):
    content = folder(tmp_path)
    s = settings(content, "build", "pdf", "--volumes", "2", "--keep-build", str(tmp_path / "kept"))
    assert s.option("volumes") == 2 and s.option("keep_build") == tmp_path / "kept"
    assert PDFEmitter().outputs(tmp_path / "book.pdf", s) == [tmp_path / "book-1.pdf", tmp_path / "book-2.pdf"]
    assert PDFEmitter().other_outputs(s) == [tmp_path / "kept"]
    bare = settings(content, "build", "pdf")
    assert bare.option("volumes") is None and bare.option("keep_build") is None and bare.jobs is None
    assert {o.name for o in EMITTERS["pdf"].options()} == {"paper", "jobs", "volumes", "keep_build"}
    assert {o.name for o in EMITTERS["html"].options()} == {"math"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.title = "别的"          # type: ignore[misc]


def test_jobs_sets_the_mathjax_workers_too(tmp_path):
    content = folder(tmp_path)
    assert EngineOptions.of(settings(content, "build", "pdf", "--jobs", "1")).workers() == 1
    assert EngineOptions.of(settings(content, "build", "pdf", "--jobs", "3")).workers() == 3
    assert EngineOptions.of(settings(content, "build", "pdf")).workers() == EngineOptions().workers()
    assert EngineOptions.of(settings(content, "check")).workers() == EngineOptions().workers()


@pytest.mark.engine
@pytest.mark.pandoc
@pytest.mark.parametrize("jobs", [None, "1"])
def test_a_build_with_jobs_1_draws_with_one_mathjax_worker(tmp_path, monkeypatch, jobs):
    """The workers the render stage draws with, counted, and every worker started: validate's goes
    on to draw, so the build starts no more than it draws with (the PDF itself is not typeset here)."""
    content = folder(tmp_path)
    started: list[float | None] = []
    drawing: list[object] = []
    real_worker, real_take = EngineOptions.worker, EngineOptions.take

    def counted(self: EngineOptions, timeout: float | None = None):
        started.append(timeout)
        return real_worker(self, timeout)

    def taken(self: EngineOptions, timeout: float | None = None):
        worker = real_take(self, timeout)
        drawing.append(worker)
        return worker
    monkeypatch.setattr(EngineOptions, "worker", counted)
    monkeypatch.setattr(EngineOptions, "take", taken)
    monkeypatch.setattr(PDFEmitter, "write", lambda self, collection, out, options, diagnostics: out)
    status, _, err = run_cli("build", "pdf", content, "--no-cache", "--out", tmp_path / "book.pdf", "-q",
                             *(["--jobs", jobs] if jobs else []))
    assert status == 0, err
    expected = 1 if jobs else EngineOptions().workers()
    assert len({id(w) for w in drawing}) == expected
    assert len(started) == expected and started[0] is None          # the first: validate's, kept to draw


ACCEPTED = ["1700000000", " 1700000000 \n", "0", "253402300799"]
REFUSED = ["abc", "-5", "+5", "1_000", "1.5", "9" * 30, "\uff11\uff12\uff13", "253402300800"]


@pytest.mark.parametrize("value", ACCEPTED + REFUSED + ["", "  "])
def test_source_date_epoch_has_one_rule_for_the_check_and_the_build(tmp_path, monkeypatch, value):
    content = folder(tmp_path)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
    status, _, err = run_cli("list", content, "--no-project", "-q")
    empty = assemble([], {}, {}, {}, title=DEFAULT_TITLE)
    if value in REFUSED:
        assert status == 2 and f"SOURCE_DATE_EPOCH={value[:40]!r} is not a date" in err
        with pytest.raises(DateError):
            build_date(empty)
    elif value.strip():
        assert status == 0, err
        assert source_date() == build_date(empty) == dt.datetime.fromtimestamp(int(value), tz=dt.UTC)
    else:
        assert status == 0 and source_date() is None
        assert build_date(empty) == dt.datetime(2000, 1, 1, tzinfo=dt.UTC)       # no posts: the fallback


def test_source_date_epoch_unset(monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert source_date() is None
