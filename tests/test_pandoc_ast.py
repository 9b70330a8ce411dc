"""The facade over pandoc's JSON AST: views write to the JSON itself, one walk, one replace, one text."""

from __future__ import annotations

import json

from kexue_anthology.documents.pandoc_ast import (
    Attr,
    Header,
    Link,
    Math,
    Note,
    Para,
    Span,
    Str,
    element,
    replace,
    tag,
    text,
    walk,
)

# as pandoc writes `## 第 *一* 节 {#a .b k=v}`, a link, a note and a formula
HEADER = {"t": "Header", "c": [2, ["a", ["b"], [["k", "v"]]],
                               [{"t": "Str", "c": "第"}, {"t": "Space"}, {"t": "Emph", "c": [{"t": "Str", "c": "一"}]},
                                {"t": "SoftBreak"}, {"t": "Code", "c": [["", [], []], "x"]},
                                {"t": "Math", "c": [{"t": "InlineMath"}, "y"]}]]}


def copy(node):
    return json.loads(json.dumps(node))


def test_views_read_and_write_the_json_itself():
    node = copy(HEADER)
    header = Header.of(node)
    assert header is not None and Link.of(node) is None and Header.of("Header") is None
    assert (header.level, header.attr.id, header.attr.classes, header.attr["k"], header.attr.get("z")) == (
        2, "a", ["b"], "v", None)
    header.level += 1
    header.attr.id = "c"
    header.attr.classes.append("d")
    assert node["c"][0] == 3 and node["c"][1] == ["c", ["b", "d"], [["k", "v"]]]
    link = Link(Link.new(Attr.new(), [Str.new("t")], "u"))
    link.url = "#v"
    assert link.node == {"t": "Link", "c": [["", [], []], [{"t": "Str", "c": "t"}], ["#v", ""]]}
    assert link.title == "" and Str(link.inlines[0]).text == "t"
    assert Span.new(Attr.new("", ["math"], [("data-formula", "0")]), [Math.new(True, "x")]) == {
        "t": "Span", "c": [["", ["math"], [["data-formula", "0"]]], [{"t": "Math", "c": [{"t": "DisplayMath"}, "x"]}]]}
    assert Math(Math.new(False, "x")).display is False and element("Space") == {"t": "Space"}
    assert tag({"t": "Para", "c": []}) == "Para" and tag(["Para"]) == "" and tag({}) == ""


def test_walk_is_depth_first_in_document_order():
    kinds = [n["t"] for n in walk([copy(HEADER), Para.new([Str.new("z")])])]
    assert kinds == ["Header", "Str", "Space", "Emph", "Str", "SoftBreak", "Code", "Math", "InlineMath", "Para", "Str"]


def test_walking_a_deep_tree_keeps_no_python_stack():
    tree: dict = Str.new("leaf")
    for _ in range(100_000):
        tree = {"t": "BlockQuote", "c": [tree]}
    assert sum(1 for _ in walk(tree)) == 100_001
    replace(tree, lambda n: Str.new("new") if tag(n) == "Str" else None)
    assert text(tree) == "new"


def test_replace_splices_in_place_list_by_list():
    note = {"t": "Note", "c": [Para.new([Str.new("n"), {"t": "Note", "c": [Para.new([Str.new("m")])]}])]}
    blocks = [Para.new([Str.new("a"), note, Str.new("b")])]
    inlines = blocks[0]["c"]
    seen: list[str] = []

    def fn(node):
        if tag(node) == "Str":
            seen.append(Str(node).text)
            return [Str.new(Str(node).text.upper()), element("Space")] if Str(node).text == "a" else None
        if tag(node) == "Note":
            return Str.new(f"[{len(Note(node).blocks)}]")
        return None
    replace(blocks, fn)
    assert blocks[0]["c"] is inlines                              # the same list, changed in place
    assert [tag(n) for n in inlines] == ["Str", "Space", "Str", "Str"]
    # a list's items before anything inside them; what is taken out is still walked, not what is put in
    assert seen == ["a", "b", "n", "m"]
    assert note["c"][0]["c"][1] == Str.new("[1]")


def test_text():
    assert text(copy(HEADER)) == "第 一 xy"
    assert text(copy(HEADER), space="") == "第一xy"
    assert text(Header(copy(HEADER)).inlines, code=False) == "第 一 y"
    assert text(Link.new(Attr.new(), [Str.new("t")], "https://example.com")) == "t"
