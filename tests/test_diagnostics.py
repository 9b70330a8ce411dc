"""Issue 15: diagnostics that name the fix.  An undefined macro or unknown environment comes
with the nearest name MathJax knows; a `\\left` without its `\\right` (and the like) is reported
at its own line and column inside the formula; Markdown front matter without `id` or `date`
is a warning naming the field; every code the tool can emit is listed in the README; the
repository ships a pre-commit hook.  The fixture cases in tests/data/cases show the positions
(undefined_macro.md, unknown_environment.md, left_right.md, front_matter_missing.md,
control_character.md)."""

from __future__ import annotations

import json
import os
import random
import re
import shlex
import shutil
import string
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kexue_anthology.check.extract import extract
from kexue_anthology.check.locate import fault, fault_index
from kexue_anthology.check.suggest import KnownNames, distance, hint, known_names, nearest
from kexue_anthology.core.diagnostics import Diagnostics
from kexue_anthology.core.error_codes import CODES
from kexue_anthology.engine.client import Request, Worker
from kexue_anthology.read import read

from tests.conftest import DATA, ROOT
from tests.helpers import check_json, run_cli

MACROS = frozenset({"frac", "frak", "lambda", "alpha", "sqrt", "left", "right", "vec", "vee", "mathbb", "max",
                    "rightarrow", "S", "P"})
ENVIRONMENTS = frozenset({"align", "align*", "aligned", "cases", "pmatrix", "bmatrix", "matrix"})


# --- the nearest name ----------------------------------------------------------------------

@pytest.mark.parametrize("name, want", [
    ("frca", "frac"),            # two neighbours swapped: one edit, not two
    ("lamda", "lambda"),
    ("Alpha", "alpha"),
    ("sqrtt", "sqrt"),
    ("rightarow", "rightarrow"),
    ("mathbbm", "mathbb"),
    ("foobarbaz", None),         # nothing near
    ("R", None),                 # one letter: \S and \P are one edit away, and no fix
    ("xyz", None),
    ("mat", None),               # three letters: \max is one letter changed, too likely by chance
    ("lfet", "left"),
    ("sqr", "sqrt"),
])
def test_nearest_macro(name, want):
    assert nearest(name, MACROS) == want


@pytest.mark.parametrize("name, want", [("aling", "align"), ("aling*", "align*"), ("pmatirx", "pmatrix"),
                                        ("cases*", "cases"), ("foobarbaz", None)])
def test_nearest_environment(name, want):
    assert nearest(name, ENVIRONMENTS) == want


def test_distance_counts_a_swap_as_one_edit_and_stops_past_the_limit():
    assert distance("frca", "frac", 2) == 1
    assert distance("frca", "frak", 2) == 2
    assert distance("kitten", "sitting", 5) == 3
    assert distance("abcdefgh", "zyxwvuts", 2) == 3          # gave up at limit + 1


def test_the_deletions_index_finds_what_measuring_every_name_finds():
    """A large set of names (the engine's) is searched through an index; it must miss nothing."""
    rng = random.Random(15)
    letters = string.ascii_letters
    names = sorted({"".join(rng.choice(letters[:6]) for _ in range(rng.randint(3, 9))) for _ in range(400)})
    queries = []
    for name in names[:60]:
        i = rng.randrange(len(name))
        queries += [name[:i] + name[i + 1:], name[:i] + rng.choice(letters[:6]) + name[i:],
                    name[:i] + name[i + 1:i + 2] + name[i:i + 1] + name[i + 2:], name[::-1], name + "ab"]
    indexed, measured = frozenset(names), list(names)
    assert len(indexed) > 64
    assert [nearest(q, indexed) for q in queries] == [nearest(q, measured) for q in queries]
    assert sum(nearest(q, measured) is not None for q in queries) > 120          # the queries do find names


def test_hint_takes_the_posts_own_definitions_up_to_the_formula():
    names = KnownNames(MACROS, ENVIRONMENTS)
    message = "TeX parse error: Undefined control sequence \\myvex"
    assert hint(message, names) is None
    assert hint(message, names, ["\\newcommand{\\myvec}[1]{\\boldsymbol{#1}}", "\\myvex{y}"]) == "did you mean \\myvec?"
    assert hint(message, names, ["\\def\\myvec#1{#1}"]) == "did you mean \\myvec?"
    assert hint("TeX parse error: Unknown environment 'aling'", names) == "did you mean align?"
    assert hint("TeX parse error: Missing \\left or extra \\right", names) is None


def test_names_are_asked_once_and_cached(tmp_path):
    asked = []

    def ask():
        asked.append(1)
        return {"macros": ["frac"], "environments": ["align"]}

    assert known_names(tmp_path, "engine", ask) == KnownNames(frozenset({"frac"}), frozenset({"align"}))
    assert known_names(tmp_path, "engine", lambda: pytest.fail("asked again")) == KnownNames(frozenset({"frac"}),
                                                                                     frozenset({"align"}))
    assert asked == [1]


# --- where inside the formula ---------------------------------------------------------------

@pytest.mark.parametrize("tex, message, at", [
    ("a + \\left( b + \\left[ c \\right] d", "Extra \\left or missing \\right", "\\left( b"),
    ("\\left( {x \\right)}", "Missing \\left or extra \\right", "\\right)"),
    ("\\left. x \\right\\} + y \\right)", "Missing \\left or extra \\right", "\\right)"),
    ("\\left\\{ x \\right. \\right|", "Missing \\left or extra \\right", "\\right|"),
    ("{\\left( x} \\right)", "Extra \\left or missing \\right", "\\left("),
    ("a \\middle| b", "\\middle must be within \\left and \\right", "\\middle"),
    ("\\begin{aligned} a \\\\ \\begin{matrix} b \\end{matrix}", "Missing \\end{aligned}", "\\begin{aligned}"),
    ("\\begin{aligned} a \\end{align}", "\\begin{aligned} ended with \\end{align}", "\\end{align}"),
    ("\\frac{a}{b", "Missing close brace", "{b"),
    ("a } b", "Extra close brace or missing open brace", "} b"),
    ("x \\\\frca + \\frca", "Undefined control sequence \\frca", "\\frca"),     # \\ is a line break
    ("\\begin{aling} a \\end{aling}", "Unknown environment 'aling'", "\\begin{aling}"),
    ("% \\left( in a comment\n\\left[ x", "Extra \\left or missing \\right", "\\left[ x"),
])
def test_fault_index(tex, message, at):
    want = tex.rindex(at) if at == "\\frca" else tex.index(at)
    assert fault_index(tex, "TeX parse error: " + message) == want


def test_nothing_to_point_at_leaves_the_formula_position():
    assert fault_index("x^2^3", "TeX parse error: Double exponent: use braces to clarify") is None
    assert fault_index("\\left( x \\right)", "TeX parse error: Extra \\left or missing \\right") is None


def test_position_inside_a_block_quoted_formula(tmp_path):
    """The TeX of a quoted display has lost its continuation lines' `> `: the position is
    still the file's."""
    path = tmp_path / "quoted.md"
    path.write_text('---\ntitle: 引用\nid: "1"\ndate: 2024-01-01\n---\n> 引文：$$\n> a +\n>   \\left( b\n> $$\n',
                    encoding="utf-8")
    diagnostics = Diagnostics()
    [post] = extract(read([str(path)], diagnostics), diagnostics)
    [f] = post.formulas
    assert ">" not in f.tex
    where, _ = fault(f, post.body, "TeX parse error: Extra \\left or missing \\right")
    assert (where.line, where.col) == (8, 5)
    assert path.read_text().splitlines()[where.line - 1][where.col - 1:].startswith("\\left(")


# --- front matter without id or date ----------------------------------------------------------

def _read(path: Path) -> tuple[list, Diagnostics]:
    diagnostics = Diagnostics()
    return read([str(path)], diagnostics), diagnostics


def test_front_matter_without_id_and_date_is_read_with_a_warning_each(tmp_path):
    path = tmp_path / "post.md"
    path.write_text("---\ntitle: 标题\n---\n正文。\n", encoding="utf-8")
    [post], diagnostics = _read(path)
    assert [(d.severity, d.code, d.position.line, d.position.col) for d in diagnostics.items] == [
        ("warning", "missing-id", 1, 1), ("warning", "missing-date", 1, 1)]
    missing_id, missing_date = (d.message for d in diagnostics.items)
    assert "`id:`" in missing_id and post.id in missing_id and '`id: "post"`' in missing_id
    assert "`date:`" in missing_date and "YYYY-MM-DD" in missing_date


@pytest.mark.parametrize("front, codes", [
    ('title: 标题\nid: "7"\n', ["missing-date"]),
    ("title: 标题\ndate: 2020-01-01\n", ["missing-id"]),
    ('title: 标题\nid: "a b"\ndate: 2020-02-30\n', ["bad-field", "bad-field"]),   # bad, not missing
    ("date: 2020-01-01\n", ["front-matter"]),                                       # no post, no warning
    ('title: 标题\nid: "7"\ndate: null\npart:\n', ["missing-date"]),     # empty: left out (as import writes it)
])
def test_only_a_field_left_out_is_warned_about(tmp_path, front, codes):
    path = tmp_path / "post.md"
    path.write_text(f"---\n{front}---\n正文。\n", encoding="utf-8")
    assert [d.code for d in _read(path)[1].items] == codes


@pytest.mark.parametrize("case", ["plain.txt", "scraped.txt", "listing_state.txt"])
def test_forms_without_front_matter_get_no_such_warning(case):
    posts, diagnostics = _read(DATA / "cases" / case)
    assert posts
    assert not {"missing-id", "missing-date"} & {d.code for d in diagnostics.items}


# --- every code in the README -------------------------------------------------------------------

_LITERAL = re.compile(r'\.(?:error|warning|note)\(\s*"([a-z][a-z0-9-]*)"'          # diagnostics.error("code", …
                      r'|_report\(\s*\w+,\s*"([a-z][a-z0-9-]*)"'              # document.py's helper
                      r'|\bcode(?::\s*str)?\s*=\s*"([a-z][a-z0-9-]*)"')     # input_error(…, code="…"), defaults
_CONSTANT = re.compile(r"\.(?:error|warning|note)\(\s*([A-Z][A-Z0-9_]*)\s*,")


def emitted_codes() -> set[str]:
    """Every code the source can report: literal codes of diagnostics.error/warning/input_error
    calls and code defaults, module constants passed as codes, and error_codes' table."""
    codes = {code for _, code in CODES} | {"tex-error"}
    for path in (ROOT / "pipeline").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        codes |= {next(g for g in m.groups() if g) for m in _LITERAL.finditer(text)}
        for m in _CONSTANT.finditer(text):
            value = re.search(rf'^{m.group(1)}\s*=\s*"([a-z][a-z0-9-]*)"', text, re.M)
            assert value, f"{path}: the code {m.group(1)} is not a string constant of the module"
            codes.add(value.group(1))
    return codes


def readme_codes() -> dict[str, str]:
    """The README's Diagnostics table: code → the rest of its row."""
    section = README.split("\n## Diagnostics\n", 1)[1].split("\n## ", 1)[0]
    return {m.group(1): m.group(2) for m in re.finditer(r"^\| `([a-z][a-z0-9-]*)` \|(.*)$", section, re.M)}


README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_code_is_listed_in_the_readme_with_a_meaning_and_an_example():
    codes = emitted_codes()
    assert {"control-character", "missing-id", "missing-date", "undefined-macro", "unreadable",
            "dangling-link", "too-deep"} <= codes                          # the collector finds them all
    listed = readme_codes()
    assert not codes - listed.keys(), f"codes missing from README's Diagnostics: {sorted(codes - listed.keys())}"
    assert not listed.keys() - codes, f"README lists codes the tool never emits: {sorted(listed.keys() - codes)}"
    for code, row in listed.items():
        severity, meaning, example = (cell.strip() for cell in row.strip().strip("|").split(" | "))
        assert severity in ("error", "warning", "note", "error (exit 2)"), code
        assert meaning and example, code


# --- the pre-commit hook -----------------------------------------------------------------------

HOOKS = ROOT / ".pre-commit-hooks.yaml"


def hook() -> dict:
    [entry] = yaml.safe_load(HOOKS.read_text(encoding="utf-8"))
    return entry


def selected(paths: list[str]) -> list[str]:
    """The files pre-commit hands the hook: `files` matches and `exclude` does not (re.search)."""
    h = hook()
    return [p for p in paths if re.search(h["files"], p) and not re.search(h["exclude"], p)]


def test_the_hook_is_anthology_check_on_posts():
    h = hook()
    assert {k: h[k] for k in ("id", "entry", "language", "pass_filenames")} == {
        "id": "anthology-check", "entry": "anthology check", "language": "python", "pass_filenames": True}
    assert h["files"] == r"\.(md|markdown|txt)$"
    assert selected(["posts/7006.md", "a.markdown", "scraped/001.txt", "README.md", "docs/readme.txt",
                     "LICENSE.md", ".github/pull_request_template.md", "posts/.draft.md", "cover.png",
                     "notes.md.bak"]) == ["posts/7006.md", "a.markdown", "scraped/001.txt"]
    assert "anthology" in (ROOT / "pyproject.toml").read_text()        # the console script the entry names


@pytest.mark.engine
def test_the_hooks_entry_checks_the_files_it_is_given(tmp_path):
    """The entry run as pre-commit runs it: its words, then the selected files; the console
    script of this checkout's environment."""
    repo = tmp_path / "content"
    (repo / "posts").mkdir(parents=True)
    (repo / "README.md").write_text("# 我的文集\n", encoding="utf-8")          # no post: never handed over
    good = "---\ntitle: 好\nid: \"1\"\ndate: 2024-01-01\n---\n$x^2$\n"
    (repo / "posts" / "1.md").write_text(good, encoding="utf-8")
    (repo / "posts" / "2.md").write_text(good.replace('"1"', '"2"').replace("好", "坏").replace("x^2", "\\frca{1}{2}"),
                                         encoding="utf-8")
    files = selected(["README.md", "posts/1.md", "posts/2.md"])
    assert files == ["posts/1.md", "posts/2.md"]
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
               ANTHOLOGY_CACHE=str(tmp_path / "cache"))
    command = shlex.split(hook()["entry"])
    if not shutil.which(command[0], path=env["PATH"]):
        pytest.skip(f"the `{command[0]}` console script is not installed beside {sys.executable} (pip install -e .)")

    def run(*names: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*command, *names], cwd=repo, env=env, capture_output=True, text=True, timeout=300)

    passed = run(files[0])
    assert passed.returncode == 0, passed.stdout + passed.stderr
    failed = run(*files)
    assert failed.returncode == 1
    assert "posts/2.md:6:2: error: TeX parse error: Undefined control sequence \\frca; did you mean \\frac? " \
           "[undefined-macro]" in failed.stdout


# --- through the engine ---------------------------------------------------------------------

@pytest.mark.engine
def test_the_workers_names_are_mathjaxs_own():
    """Every name the worker gives is defined for MathJax as the blog sets it up, and what the
    blog does not load (\\cancel, \\ce, CD) or the tool adds for itself is not among them."""
    with Worker(timeout=20) as worker:
        names = worker.names()
        macros, environments = names["macros"], names["environments"]
        assert {"frac", "alpha", "langle", "rightarrow", "xrightarrow", "xtwoheadrightarrow", "mathbb",
                "boldsymbol", "eqref", "color", "bbox"} <= set(macros)
        assert {"align", "align*", "aligned", "cases", "pmatrix", "eqnarray"} <= set(environments)
        assert not {"cancel", "ce", "enclose", "anthologyReset", "anthologyNames"} & set(macros)
        assert "CD" not in environments
        answers = worker.check([Request("names", f"\\{m}", True) for m in macros]
                               + [Request("names", f"\\begin{{{e}}}x\\end{{{e}}}", True) for e in environments])
    unknown = [a["error"] for a in answers if a and re.search(r"Undefined control sequence|Unknown environment",
                                                              a["error"] or "")]
    assert unknown == []


@pytest.mark.engine
def test_messages_read_well_in_every_format(tmp_path):
    path = tmp_path / "undefined_macro.md"
    path.write_text((DATA / "cases" / "undefined_macro.md").read_text(encoding="utf-8").split("%%% expected")[0],
                    encoding="utf-8")
    status, out, _ = run_cli("check", path, "--no-cache")
    assert status == 1
    assert (f"{path}:6:7: error: TeX parse error: Undefined control sequence \\frca; did you mean \\frac? "
            "[undefined-macro]\n    $\\frca{1}{2}$\n") in out
    assert f"{path}:10:13: error: TeX parse error: Undefined control sequence \\foobarbaz [undefined-macro]" in out
    status, out, _ = run_cli("check", path, "--no-cache", "--format", "github")
    assert (f"::error file={path},line=14,col=5,title=undefined-macro::TeX parse error: Undefined control "
            "sequence \\sqrtt; did you mean \\sqrt?%0A$$%0Aa = b + \\frac{1}{2}%0A  + \\sqrtt{3}%0A$$") in out
    status, result = check_json(path)
    [d] = [d for d in result["diagnostics"] if "myvex" in d["message"]]
    assert d["message"].endswith("did you mean \\myvec?") and (d["line"], d["col"]) == (8, 61)


@pytest.mark.engine
def test_the_hint_is_made_when_every_verdict_comes_from_the_cache(tmp_path):
    path = tmp_path / "post.md"
    path.write_text('---\ntitle: 缓存\nid: "1"\ndate: 2024-01-01\n---\n$\\frca{1}{2}$\n', encoding="utf-8")
    cache = tmp_path / "cache"
    first = check_json(path, cache_dir=cache)[1]["diagnostics"]
    shutil.rmtree(cache / "names")                   # a worker is started for the names alone
    again = check_json(path, cache_dir=cache)[1]
    assert again["diagnostics"] == first
    assert first[0]["message"].endswith("; did you mean \\frac?")
    assert (cache / "names").is_dir()
    assert again["summary"]["errors"] == 1


@pytest.mark.engine
def test_the_names_are_what_the_blogs_readers_get(oracle):
    """Against the blog's MathJax (the oracle): every name the worker gives is defined there, and
    names the worker leaves out are undefined there too."""
    with Worker(timeout=20) as worker:
        names = worker.names()
    texs = [f"\\{m}" for m in names["macros"]] + [f"\\begin{{{e}}}x\\end{{{e}}}" for e in names["environments"]]
    left_out = ["\\cancel{x}", "\\ce{H2O}", "\\enclose{circle}{x}", "\\begin{CD}x\\end{CD}", "\\frca", "\\mat"]
    lines = "".join(json.dumps({"id": i, "tex": tex, "display": True}) + "\n"
                    for i, tex in enumerate(texs + left_out))
    run = subprocess.run(["node", str(oracle / "oracle.js"), "--quiet"], input=lines,
                         capture_output=True, text=True, check=True, timeout=600)
    errors = [json.loads(line)["error"] or "" for line in run.stdout.splitlines()]
    assert len(errors) == len(texs) + len(left_out)
    unknown = re.compile(r"Undefined control sequence|Unknown environment")
    assert [t for t, e in zip(texs, errors, strict=False) if unknown.search(e)] == []
    assert all(unknown.search(e) for e in errors[len(texs):]), errors[len(texs):]
