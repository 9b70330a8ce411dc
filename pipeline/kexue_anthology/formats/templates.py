"""The Jinja environment the outputs' templates are read with (templates/), and the partial of a
post's date and readers (`post_meta`) for an output written without a template."""

from __future__ import annotations

import functools
from typing import Any

import jinja2

from kexue_anthology import TEMPLATES
from kexue_anthology.core.model import Post
from kexue_anthology.formulas.formula_text import plain_title


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                             autoescape=jinja2.select_autoescape(["html", "xhtml", "xml"]),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters["plain"] = plain_title        # titles with math, where no formula is drawn
    return env


@functools.lru_cache(maxsize=1)
def _post_meta_partial() -> Any:
    return environment().get_template("post_meta.html").module


def post_meta(post: Post) -> str:
    """A post's date and readers as the partial the templates show under each title
    (templates/post_meta.html), for an output written without a template (EPUB)."""
    return str(_post_meta_partial().post_meta(post))
