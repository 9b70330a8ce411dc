"""Full posts saved as plain text (`../shared/corpus`, second shape): the article only,
paragraphs run together, HTML entities kept.  Title and id come from the citation block
(`@online{kexuefm-ID, title={…}, year=…, month=…}`), the date from the reference line
`苏剑林. (Jun. 14, 2024).` when there is one."""

from __future__ import annotations

import re

from kexue_anthology.core.diagnostics import Diagnostics
from kexue_anthology.core.model import Post
from kexue_anthology.core.sourcetext import SourceFile
from kexue_anthology.read.markup import unescape

FORM = "plain-text"
# Bounded repeats: a search must not read to the end of the file at every `@online{`.
CITATION = re.compile(r"@online\{kexuefm-(?P<id>\d{1,15}),\s{0,40}title=\{(?P<title>.{0,1000}?)\},"
                      r"(?P<rest>.{0,2000}?)\n\s{0,40}\}", re.S)
REFERENCE_DATE = re.compile(r"\((?P<mon>[A-Z][a-z]{2})\.? (?P<day>\d{1,2}), (?P<year>\d{4})\)")
MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
DATE_CHIP = re.compile(r"[ \t]*(\d{1,2}[A-Z][a-z]{2})?[ \t]*\n")
END_MARKER = "转载到请包括本文地址"


def detect(text: str) -> bool:
    return CITATION.search(text) is not None


def read(source: SourceFile, diagnostics: Diagnostics) -> list[Post]:
    text = source.text
    c = CITATION.search(text)
    assert c is not None                          # `detect` chose this reader for it
    start = body_start(text)
    end = text.find(END_MARKER, start)
    if end < 0:
        end = c.start()
    end = text.rfind("\n", start, end) + 1 or end
    body = unescape(source.slice(start, end), markdown=False)
    body = body[: len(body.text.rstrip())]
    date = citation_date(source, c, end, diagnostics)
    title = unescape(source.slice(c.start("title"), c.end("title")), markdown=False).text.strip()
    return [Post(id=c.group("id"), title=title, date=date, readers=None, body=body,
                 body_format="text", form=FORM, position=source.position(c.start("title")),
                 url=f"https://kexue.fm/archives/{c.group('id')}")]


def body_start(text: str, start: int = 0) -> int:
    """Past the date chips (`14Jun`) and blank lines a saved article starts with."""
    while (m := DATE_CHIP.match(text, start)) and m.end() > start:
        start = m.end()
    return start


def citation_date(source: SourceFile, c: re.Match[str], end: int, diagnostics: Diagnostics) -> str | None:
    """The date of the reference line after `end` (`苏剑林. (Jun. 14, 2024).`), else year and
    month of the citation block `c` (day 01, warned), else None (warned)."""
    m = REFERENCE_DATE.search(source.text, end)
    if m and m.group("mon") in MONTHS:
        return f"{m.group('year')}-{MONTHS[m.group('mon')]:02d}-{int(m.group('day')):02d}"
    date = None
    ym = re.search(r"year=\{(\d{4})\},\s*month=\{([A-Z][a-z]{2})\}", c.group("rest"))
    if ym and ym.group(2) in MONTHS:
        date = f"{ym.group(1)}-{MONTHS[ym.group(2)]:02d}-01"
    diagnostics.warning("no-date", "no full date in the reference line; day taken as 01"
                        if date else "no date found", source.position(c.start()))
    return date
