"""Outside checkers on what the tool makes: the Nu HTML Checker (vnu) over the whole corpus site,
DAISY Ace over a series EPUB in both math modes.  Both come from tests/checkers (`make test`
installs them with `npm ci --ignore-scripts`: vnu is a jar run with Java, Ace runs on the system
Chromium).  What they may still say is named here and nothing else: vnu's CSS parser does not
know `min()`/`max()` around `calc()` (a wide formula's size, formulas/mathhtml.py fit_width),
and Ace measures the contrast of a colour an author chose with `\\color`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.helpers import run_cli
from tests.test_html import chromium

CHECKERS = ROOT / "tests" / "checkers" / "node_modules"
VNU = CHECKERS / "vnu-jar" / "build" / "dist" / "vnu.jar"
ACE = CHECKERS / "@daisy" / "ace" / "bin" / "ace-puppeteer.js"
SERIES = "最小熵原理"


def needs(path: Path, program: str) -> str:
    if not path.is_file():
        pytest.skip(f"needs the test checkers in {CHECKERS.parent} (make test installs them: npm ci --ignore-scripts)")
    found = shutil.which(program)
    if not found:
        pytest.skip(f"needs {program} to run {path.name}")
    return found


def vnu_lag(message: dict) -> bool:
    """vnu's own CSS parser lagging behind browsers: it takes `font-size:max(0.7em,min(1em,calc(…)))`
    for a parse error."""
    extract = message.get("extract", "")
    return (message.get("message") == "CSS: “font-size”: Parse Error."
            and "font-size:" in extract and any(f in extract for f in ("min(", "max(", "calc(")))


def test_the_nu_html_checker_finds_no_error_on_the_corpus_site(corpus_site):
    java = needs(VNU, "java")
    site = corpus_site[0] / "site"
    result = subprocess.run([java, "-jar", str(VNU), "--errors-only", "--skip-non-html", "--format", "json",
                             str(site)], capture_output=True, text=True, timeout=600)
    report = json.loads(result.stderr or result.stdout)
    messages = report["messages"]
    assert all(m.get("type") != "non-document-error" for m in messages), messages[:3]
    errors = [(m.get("url", "").rsplit("/site/", 1)[-1], m.get("lastLine"), m["message"])
              for m in messages if not vnu_lag(m)]
    # Heading levels: a post's headings shifted so that none skips a level under the page's title.
    assert not errors, (len(errors), errors[:10])


def ace_findings(report: dict) -> list[tuple[str, str, str]]:
    """(chapter, rule, where) for every finding of an Ace report."""
    return [(subject["earl:testSubject"]["url"], a["earl:test"]["dct:title"],
             " ".join(a["earl:result"].get("earl:pointer", {}).get("css", [])))
            for subject in report["assertions"] for a in subject.get("assertions", [])]


def authors_colour(finding: tuple[str, str, str]) -> bool:
    """A contrast finding inside a formula coloured by its author (`\\color{red}` is MathML's
    `mstyle mathcolor`, SVG's `g fill`)."""
    _, rule, where = finding
    return rule == "color-contrast" and ("mathcolor" in where or "[fill=" in where)


@pytest.mark.browser
@pytest.mark.parametrize("math", ["mathml", "svg"])
def test_daisy_ace_finds_nothing_on_a_series_epub(corpus, corpus_site, tmp_path, math):
    node = needs(ACE, "node")
    status, _, stderr = run_cli("build", "epub", corpus, "--series", SERIES, "--math", math,
                                "--out", tmp_path / "s.epub", "--cache-dir", corpus_site[0] / "cache")
    assert status == 0, stderr
    env = {**os.environ, "PUPPETEER_EXECUTABLE_PATH": chromium(), "PUPPETEER_SKIP_DOWNLOAD": "1",
           "HOME": str(tmp_path)}
    result = subprocess.run([node, str(ACE), "--silent", "--force", "--outdir", str(tmp_path / "ace"),
                             str(tmp_path / "s.epub")], capture_output=True, text=True, timeout=600, env=env,
                            cwd=tmp_path)
    report_file = tmp_path / "ace" / "report.json"
    assert result.returncode == 0 and report_file.is_file(), (result.stdout + result.stderr)[-3000:]
    report = json.loads(report_file.read_text(encoding="utf-8"))
    findings = ace_findings(report)
    assert report["earl:testSubject"]["metadata"]["dc:title"] == SERIES
    assert {"schema:accessMode", "schema:accessibilityFeature", "schema:accessibilityHazard",
            "schema:accessibilitySummary", "schema:accessModeSufficient"} <= set(report["a11y-metadata"]["present"])
    assert [f for f in findings if not authors_colour(f)] == []
    if math == "mathml":            # 7695's \color{red} and \color{skyblue}: the checker does look
        assert any(authors_colour(f) for f in findings)
