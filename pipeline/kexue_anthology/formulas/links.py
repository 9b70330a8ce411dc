"""The link policy every output follows: which link targets are kept, and how a link drawn
inside a formula is titled."""

from __future__ import annotations

import re

WEB_URL = re.compile(r"^\s*(?:https?:|mailto:)", re.I)    # the only link schemes an output keeps


def is_kept(url: str) -> bool:
    """A link an output keeps: an anchor of the page, or a web or mail address."""
    return url.strip().startswith("#") or bool(WEB_URL.match(url))


def link_title(url: str) -> str:
    """The tooltip of a link drawn inside a formula."""
    if url.startswith("#"):
        return "跳到公式"
    return url if WEB_URL.match(url) else "链接"
