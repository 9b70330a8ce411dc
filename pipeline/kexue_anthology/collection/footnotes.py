"""A post's footnotes (pandoc `Note`s), set at the end of the post with ids of the post's own,
in the HTML of every post (kexue_anthology.collection.bodies)."""

from __future__ import annotations

from kexue_anthology.collection.anchors import note_anchor
from kexue_anthology.core.model import Post
from kexue_anthology.documents.pandoc_ast import (
    Attr,
    Div,
    Inlines,
    Link,
    Node,
    Note,
    OrderedList,
    Plain,
    Str,
    Superscript,
    element,
    replace,
    tag,
)


def notes_at_end(blocks: list[Node], post: Post) -> list[Node]:
    """The post's footnotes (pandoc `Note`s) taken out of `blocks`: each reference becomes a
    link to its note and the notes a list, returned to be put at the end of the post, so that
    they stay with their post when many posts are written by one pandoc run.  Ids are the
    post's own (`note_anchor`)."""
    notes: list[list[Node]] = []

    def reference(node: Node) -> Node | None:
        note = Note.of(node)
        if note is None:
            return None
        notes.append(note.blocks)
        k = len(notes)
        return Link.new(Attr.new(note_anchor(post, k, back=True), ["footnote-ref"], [("role", "doc-noteref")]),
                        [Superscript.new([Str.new(str(k))])], "#" + note_anchor(post, k))
    replace(blocks, reference)
    if not notes:
        return []
    items: list[list[Node]] = []
    for k, note in enumerate(notes, 1):
        back = Link.new(Attr.new("", ["footnote-back"], [("role", "doc-backlink")]),
                        [Str.new("↩︎")], "#" + note_anchor(post, k, back=True))
        body = list(note) or [Plain.new([])]
        last = tag(body[-1])
        if last in ("Para", "Plain"):
            body[-1] = element(last, [*Inlines(body[-1]).inlines, element("Space"), back])
        else:
            body.append(Plain.new([back]))
        items.append([Div.new(Attr.new(note_anchor(post, k), ["footnote"]), body)])
    return [Div.new(Attr.new("", ["footnotes"], [("role", "doc-endnotes")]),
                    [element("HorizontalRule"), OrderedList.new(items)])]
