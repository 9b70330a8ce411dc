"""Equation numbers, anchors and references, against AMS rules and the blog's own numbers."""

from __future__ import annotations

import json
import subprocess

import pytest
from kexue_anthology.check.number import number_post
from kexue_anthology.stages import Run, run_stages

from tests.conftest import DATA

pytestmark = pytest.mark.engine


def checked(*paths):
    return run_stages(Run(paths=[str(p) for p in paths]), "validate")


def test_numbers_anchors_and_targets():
    run = checked(DATA / "numbering.md")
    post = run.posts[0]
    n = number_post(post)
    assert [(t.text, t.star, t.label, t.formula, t.row) for t in n.tags] == [
        ("1", False, "eq:first", 2, 0),     # equation; equation* (formula 3) takes no number
        ("2", False, "eq:row1", 4, 0),      # align: a number per row ...
        ("3", False, "eq:row2", 4, 1),      # ... but not for the \nonumber row
        ("4", False, None, 5, 0),           # gather
        ("Q", False, "eq:q", 5, 1),         # \tag replaces the number
        ("5", False, "eq:one", 6, 0),       # aligned inside equation: one number
        ("星", True, "eq:star", 7, 0),       # \tag*: no parentheses
        ("6", False, "eq:last", 13, 0),     # the broken formula (12) takes none
    ]
    assert [t.shown for t in n.tags] == ["(1)", "(2)", "(3)", "(4)", "(Q)", "(5)", "星", "(6)"]
    assert n.tags[0].anchor == "eq-n1-l-eq.3a.first" and n.tags[3].anchor == "eq-n1-4"
    assert len({t.anchor for t in n.tags}) == len(n.tags)
    refs = {i: [(r.shown, r.target.anchor if r.target else None) for r in rs] for i, rs in n.refs.items()}
    assert refs == {
        0: [("(1)", "eq-n1-l-eq.3a.first")],      # forward \eqref
        1: [("3", "eq-n1-l-eq.3a.row2")],         # forward \ref: no parentheses
        8: [("(2)", "eq-n1-l-eq.3a.row1")],       # \eqref inside a larger formula
        9: [("(Q)", "eq-n1-l-eq.3a.q")],          # backward
        10: [("(星)", "eq-n1-l-eq.3a.star")],
        12: [("(???)", None)],                    # unknown label: MathJax 2.7.9 shows (???)
    }
    codes = [(d.code, d.position.line) for d in run.diagnostics.sorted()]
    assert codes == [("double-script", 29), ("unknown-label", 29)]


def test_anchors_are_unique_across_posts(tmp_path):
    for i in (1, 2):
        (tmp_path / f"{i}.md").write_text(f"---\ntitle: 第{i}篇\nid: 'p{i}'\n---\n"
                                          "\\begin{equation}x\\label{eq:a}\\end{equation}\n", encoding="utf-8")
    run = checked(tmp_path)
    anchors = [number_post(p).tags[0].anchor for p in run.posts]
    assert [number_post(p).tags[0].text for p in run.posts] == ["1", "1"]     # restart in every post
    assert sorted(anchors) == ["eq-p1-l-eq.3a.a", "eq-p2-l-eq.3a.a"]


def blog_numbers(oracle, posts):
    lines = "".join(json.dumps({"post": p.id, "formulas": [{"tex": f.tex, "display": f.display}
                                                         for f in p.formulas]}, ensure_ascii=False) + "\n"
                    for p in posts)
    out = subprocess.run(["node", str(oracle / "numbers.js"), "--quiet"], input=lines,
                         capture_output=True, text=True, check=True)
    return {r["post"]: r for r in map(json.loads, out.stdout.splitlines())}


@pytest.mark.corpus
@pytest.mark.oracle
def test_minimum_entropy_five_refs_are_the_blogs(corpus, oracle):
    post = checked(corpus / "7006.txt").posts[0]
    blog = blog_numbers(oracle, [post])["7006"]
    n = number_post(post)
    refs = [r for rs in n.refs.values() for r in rs]
    assert len(refs) >= 10
    for r in refs:
        assert r.target is not None, r.label
        assert r.shown == f"({blog['labels'][r.label]['tag']})"
    assert [t.text for t in n.tags] == [t["tag"] for f in blog["formulas"] for t in f["tags"]]


@pytest.mark.corpus
@pytest.mark.oracle
def test_every_number_in_the_corpus_is_the_blogs(corpus, oracle):
    posts = checked(corpus).posts
    blog = blog_numbers(oracle, posts)
    differ = []
    for post in posts:
        ours = [[(t.tag, t.star, t.label) for t in f.tags] for f in post.formulas]
        theirs = [[(t["tag"], t["star"], t["label"]) for t in f["tags"]] for f in blog[post.id]["formulas"]]
        if ours != theirs:
            differ.append(post.id)
    assert differ == []
