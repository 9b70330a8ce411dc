"""Equation numbers and cross-references: our pass, since pandoc and WeasyPrint drop them.

The numbers are MathJax's own: the worker journals every numbered row as AMS numbering
gives it on the blog's page (restarting at 1 in each post, `\\nonumber`/`\\notag` and starred
environments unnumbered, one number for `aligned`/`split` inside `equation`, one per row of
`align`/`gather`, `\\tag`/`\\tag*` replacing the number).  This pass turns them into tags with
anchors unique in the whole collection (post id + label) and resolves every `\\ref`/`\\eqref`
to its tag — also references inside larger formulas and references made before the equation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kexue_anthology.core.model import Post


@dataclass
class EquationTag:
    text: str                 # the tag: "3", or what \tag{…} says
    star: bool                # \tag*{…}: shown without parentheses
    label: str | None
    anchor: str               # element id, unique in the collection
    formula: int              # index of the formula in its post
    row: int                  # which numbered row of that formula (0-based)

    @property
    def shown(self) -> str:
        return self.text if self.star else f"({self.text})"


@dataclass
class Reference:
    label: str
    eqref: bool
    target: EquationTag | None

    @property
    def shown(self) -> str:
        tag = self.target.text if self.target else UNKNOWN
        return f"({tag})" if self.eqref else tag


@dataclass
class PostNumbers:
    tags: list[EquationTag] = field(default_factory=list)
    labels: dict[str, EquationTag] = field(default_factory=dict)
    by_formula: dict[int, list[EquationTag]] = field(default_factory=dict)
    refs: dict[int, list[Reference]] = field(default_factory=dict)


# What MathJax 2.7.9 shows for a reference to a label no numbered equation has (AMS
# `badref`): the blog's readers see `(???)` for \eqref and `???` for \ref.
UNKNOWN = "???"
_UNSAFE = re.compile(r"[^A-Za-z0-9-]")


def id_part(text: str) -> str:
    """`text` as a piece of an XML id: letters, digits and '-' kept, any other character
    written `.hex.` (so that two labels never share an id)."""
    return _UNSAFE.sub(lambda m: f".{ord(m.group(0)):x}.", text)


def anchor(post_id: str, label: str | None, n: int) -> str:
    base = f"eq-{id_part(post_id)}-"
    return base + (f"l-{id_part(label)}" if label else str(n))


def number_post(post: Post) -> PostNumbers:
    numbers = PostNumbers()
    for f in post.formulas:
        for row, t in enumerate(f.tags):
            label = t.label
            if label in numbers.labels:       # defined twice (MathJax's error): the id stays unique
                label = None
            tag = EquationTag(text=t.tag if t.tag is not None else "", star=t.star,
                              label=t.label, anchor=anchor(post.id, label, len(numbers.tags) + 1),
                              formula=f.index, row=row)
            numbers.tags.append(tag)
            numbers.by_formula.setdefault(f.index, []).append(tag)
            if tag.label and tag.label not in numbers.labels:
                numbers.labels[tag.label] = tag
    for f in post.formulas:
        refs = [Reference(r.label, r.eqref, numbers.labels.get(r.label)) for r in f.refs]
        if refs:
            numbers.refs[f.index] = refs
    return numbers


def number(posts: list[Post]) -> dict[str, PostNumbers]:
    return {post.id: number_post(post) for post in posts}


def _labels_in(tex: str) -> set[str]:
    return set(re.findall(r"\\label\s*\{([^{}]*)\}", tex))


def unknown_label_message(post: Post, label: str, eqref: bool) -> str:
    """Why `\\eqref{label}` (or `\\ref`) finds no equation in `post`, for the `unknown-label`
    warning: a label put in a display with no number (`$$…$$`, `\\[…\\]`, a starred
    environment, a `\\nonumber` row) is the usual cause, and says how to fix it."""
    command = "\\eqref" if eqref else "\\ref"
    shown = f"{command}{{{label}}}: the blog shows {'(' + UNKNOWN + ')' if eqref else UNKNOWN}"
    unnumbered = next((f for f in post.formulas if label in _labels_in(f.tex)
                       and not any(t.label == label for t in f.tags)), None)
    if unnumbered is None:
        return f"{shown}: no equation of this post has that label"
    if unnumbered.delimiter in ("$$", "\\["):
        opener = "$$" if unnumbered.delimiter == "$$" else "\\["
        return (f"{shown}: the label stands in a `{opener}…` display (line {unnumbered.position.line}), "
                "which has no number under the blog's AMS numbering; write the equation as "
                "`\\begin{equation}…\\end{equation}` to number it")
    return (f"{shown}: the label stands in an equation without a number (line {unnumbered.position.line}: "
            "a starred environment or a `\\nonumber`/`\\notag` row); use an unstarred environment "
            "(`\\begin{equation}`) or drop `\\nonumber` to number it")
