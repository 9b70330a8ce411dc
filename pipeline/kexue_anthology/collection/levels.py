"""A post's heading levels as its page, chapter or section holds it: the topmost one right
under the title above the post, and no level skipped (`##` then `####` is h2 then h3).  A
screen reader's list of headings, the Nu HTML Checker and an EPUB's contents show a skipped
level as a gap; the blog's posts start at `##` or `###` and skip levels here and there."""

from __future__ import annotations

from kexue_anthology.documents.pandoc_ast import Header, Node, walk

DEEPEST = 6


def settle_levels(blocks: list[Node], top: int) -> None:
    """Each heading of `blocks` one level below the nearest heading before it of a higher
    level as written (`top` when there is none), at most DEEPEST: what nests in what is kept,
    and only the gaps go."""
    open_: list[tuple[int, int]] = []          # (level as written, level given) of the headings open
    for node in walk(blocks):
        header = Header.of(node)
        if header is None:
            continue
        written = header.level
        while open_ and open_[-1][0] >= written:
            open_.pop()
        given = min(open_[-1][1] + 1 if open_ else top, DEEPEST)
        open_.append((written, given))
        header.level = given
