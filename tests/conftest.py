"""Shared fixtures: paths to the bundled sample and to ../shared (skipped with a reason when absent),
and the marks of the tiers (pyproject.toml): a test using a fixture of ../shared is marked with it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SEEDS = ROOT / "pipeline" / "kexue_anthology" / "sample"
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
ORACLE = SHARED / "tools" / "mathjax2-oracle"

# Marks a test gets from the fixtures it uses (also through other fixtures): the other marks are
# written on the tests, since what a test starts (engine, pandoc, WeasyPrint, a browser) is in its body.
FIXTURE_MARKS = {
    "corpus": ("corpus",),
    "corpus_site": ("corpus", "engine", "pandoc"),
    "oracle": ("oracle",),
}


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite the expected sections of tests/data/cases from the current output")


def pytest_collection_modifyitems(items):
    for item in items:
        for fixture in FIXTURE_MARKS.keys() & set(getattr(item, "fixturenames", ())):
            for mark in FIXTURE_MARKS[fixture]:
                item.add_marker(mark)


@pytest.fixture
def update_golden(request) -> bool:
    return request.config.getoption("--update-golden")


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"needs the scraped corpus at {CORPUS} (not redistributable, so not in this repository)")
    return CORPUS


@pytest.fixture(scope="session")
def oracle(tmp_path_factory) -> Path:
    """A working copy of ../shared/tools/mathjax2-oracle with its npm packages installed."""
    if not ORACLE.is_dir():
        pytest.skip(f"needs the MathJax 2.7.9 oracle at {ORACLE}")
    if not shutil.which("npm"):
        pytest.skip("needs npm to install the oracle's packages")
    work = tmp_path_factory.mktemp("oracle")
    for item in ORACLE.iterdir():
        if item.is_file():
            shutil.copy(item, work / item.name)
    result = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=work,
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"could not install the oracle's npm packages: {result.stderr[-500:]}")
    return work


@pytest.fixture
def cache_dir(tmp_path) -> Path:
    return tmp_path / "cache"


@pytest.fixture(scope="session")
def corpus_site(corpus, tmp_path_factory):
    """The corpus built once as a site in MathML mode, shared by every test that looks at it:
    (folder with `site/` and `cache/`, exit status, stdout, stderr)."""
    from tests.helpers import run_cli
    work = tmp_path_factory.mktemp("corpus-site")
    status, stdout, stderr = run_cli("build", "html", corpus, "--out", work / "site", "--cache-dir", work / "cache")
    return work, status, stdout, stderr

