"""The package's rooms keep their names apart: every class and public function is defined once,
so that a name says which one is meant wherever it is imported."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import kexue_anthology

PACKAGE = Path(kexue_anthology.__file__).parent

# Each input form's module is one reader: `detect` and `read` are the form's interface, named in
# kexue_anthology.read.READERS as a plugin's would be.
PROTOCOL = {("read", "detect"), ("read", "read")}


def _definitions() -> dict[str, list[str]]:
    """Each module-level class and public function name → the modules defining it."""
    found: dict[str, list[str]] = defaultdict(list)
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(PACKAGE).with_suffix("").as_posix()
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef) or (
                    isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.name.startswith("_")):
                if (module.split("/")[0], node.name) not in PROTOCOL:
                    found[node.name].append(module)
    return found


def test_every_class_and_public_function_name_is_defined_once():
    found = _definitions()
    assert len(found) > 100                     # the scan saw the package
    twice = {name: modules for name, modules in found.items() if len(modules) > 1}
    assert not twice, f"defined more than once: {twice}"


def test_the_readers_interface_is_the_only_exception():
    """The exemption covers the input forms' modules and nothing else."""
    readers = [path for path in (PACKAGE / "read").glob("*.py")
               if any(isinstance(node, ast.FunctionDef) and node.name == "detect"
                      for node in ast.parse(path.read_text(encoding="utf-8")).body)]
    assert len(readers) == 4


def _settled(**blog: str) -> str:
    from kexue_anthology.collection.collection import Collection
    from kexue_anthology.collection.links import settle_links
    from kexue_anthology.documents.pandoc_ast import Attr, Link, Para, Str, walk
    collection = Collection(title="t", posts=[], series=[], numbers={}, renders={}, **blog)
    blocks = [Para.new([Link.new(Attr.new(), [Str.new("那篇")], "/archives/42#x")])]
    settle_links(blocks, collection, lambda post, fragment: "#" + post.id)
    return next(Link(node).url for node in walk(blocks) if Link.of(node))


def test_a_link_to_a_post_not_in_the_collection_goes_to_the_projects_blog():
    assert _settled() == "https://kexue.fm/archives/42#x"              # the project's default
    assert _settled(source_url="https://example.org/") == "https://example.org/archives/42#x"


def test_the_assembled_collection_takes_the_blog_it_is_given():
    from kexue_anthology.collection.assemble import assemble
    assert assemble([], {}, {}, {}, "t").source_url == "https://kexue.fm"
    assert assemble([], {}, {}, {}, "t", source_url="https://example.org").source_url == "https://example.org"


def test_an_output_holding_its_bytes_is_left_as_it_is(tmp_path):
    from kexue_anthology.core.fileio import holds, write_if_changed
    out = tmp_path / "book.epub"
    assert write_if_changed(out, b"one") and out.read_bytes() == b"one"
    inode = out.stat().st_ino
    assert not write_if_changed(out, b"one") and out.stat().st_ino == inode
    assert write_if_changed(out, b"two") and out.read_bytes() == b"two"
    link = tmp_path / "link"
    link.symlink_to(out)
    assert holds(link, b"two") and not holds(link, b"two", follow_links=False)
    assert not holds(tmp_path, b"")                    # a folder holds no bytes
