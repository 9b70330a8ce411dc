"""Property tests for read + extract on random mixes of the blog's hard characters.

The properties, for any file made of the pieces below under any of the four headers:
reading and extracting never raise, and every formula found points at its opening
delimiter — the decoded file's text (BOM removed, CRLF read as LF) at the formula's line and
column starts with `$`, `$$`, `\\(`, `\\[`, `\\begin`, `\\ref` or `\\eqref`, either as
written or, in the scraped form whose scraper escaped everything, after undoing the Markdown
escapes and HTML entities there (`\\\\(` and `&#36;` stand for `\\(` and `$`).

`ANTHOLOGY_FUZZ_EXAMPLES` sets the number of examples (default 150, derandomized, a few
seconds); a long run: `ANTHOLOGY_FUZZ_EXAMPLES=20000 .venv/bin/python -m pytest -q
tests/test_fuzz_read.py -p no:cacheprovider`.
"""

from __future__ import annotations

import html
import os
import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kexue_anthology.core.model import Formula
from kexue_anthology.stages import Run, run_stages

EXAMPLES = int(os.environ.get("ANTHOLOGY_FUZZ_EXAMPLES", "150"))

PIECES = [
    "$", "$$", "\\(", "\\)", "\\[", "\\]", "\\begin{equation}", "\\end{equation}", "\\begin{align}",
    "\\end{align*}", "\\end{", "\\ref{a}", "\\eqref{eq:1}", "\\$", "\\\\", "\\", "\\\\(", "\\\\[", "\\_",
    "{", "}", "x^2", "\\frac{a}{b}", "`", "``", "```", "\n```\n", "~~~", "\n> ", "\n- ", "\n1. ", "\n# ",
    "\n", "\n\n", "\r\n", " ", "\t", "中文", "公式", "：", "&gt;", "&amp;", "&#36;", "&lt;", "&", "|",
    "By 苏剑林 \\| 2020-01-01 \\| 5位读者\\|", "[#](#a)", "[", "]", "(", ")", "a", "\u3000",
]

HEADERS = {
    "front matter": "---\ntitle: 测试\ndate: 2020-01-01\nid: \"1\"\n---\n",
    "scraped": "菜单\n\n# [测试](https://kexue.fm/archives/123)\n\nBy 苏剑林 \\| 2020-01-01 \\| 5位读者\\|\n",
    "listing": "测试\nBy 苏剑林 | 2019-10-19 | 161264位读者 | 引用",
    "plain": "",
}
PLAIN_TAIL = "\n转载到请包括本文地址\n@online{kexuefm-1,\n title={测试},\n year={2020},\n month={Jan},\n}\n"

_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def opening(f: Formula) -> tuple[str, ...]:
    if f.delimiter == "env":
        return ("\\begin",)
    if f.delimiter == "ref":
        return ("\\ref", "\\eqref")
    return (f.delimiter,)


def unescaped(text: str) -> str:
    """The scraped form's Markdown escapes and HTML entities undone."""
    return html.unescape(_ESCAPE.sub(r"\1", text))


def decoded(data: bytes) -> str:
    text = data.decode("utf-8-sig")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def at(text: str, line: int, col: int) -> str:
    lines = text.split("\n")
    return "\n".join(lines[line - 1:line + 2])[col - 1:]


@st.composite
def files(draw) -> bytes:
    form = draw(st.sampled_from(sorted(HEADERS)))
    body = "".join(draw(st.lists(st.sampled_from(PIECES), max_size=80)))
    text = HEADERS[form] + body + (PLAIN_TAIL if form == "plain" else "")
    if draw(st.booleans()):
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    data = text.encode()
    return b"\xef\xbb\xbf" + data if draw(st.booleans()) else data


@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files())
def test_read_and_extract_never_raise_and_formulas_point_at_their_openers(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "post.md"
        path.write_bytes(data)
        run = run_stages(Run(paths=[str(path)]), "extract")
    assert not [d for d in run.diagnostics.items if d.code == "read-failed"]
    text = decoded(data)
    for post in run.posts:
        for f in post.formulas:
            here = at(text, f.position.line, f.position.col)
            assert here.startswith(opening(f)) or unescaped(here).startswith(opening(f)), (f, here[:40])
