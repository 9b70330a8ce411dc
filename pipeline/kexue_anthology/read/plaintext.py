"""Full posts saved as plain text (`../shared/corpus`, second shape): the article only,
paragraphs run together, HTML entities kept.  Title and id come from the citation block
(`@online{kexuefm-ID, title={…}, year=…, month=…}`), the date from the reference line
`苏剑林. (Jun. 14, 2024).` when there is one.  The blog's headings survive as `背景 # 之所以…`
(a short title at a paragraph's start, ` # `, the paragraph): `headings` finds them."""

from __future__ import annotations

import re

from kexue_anthology.check.extract import FormulaSpan, scan_runs, text_runs
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
                 url=f"https://kexue.fm/archives/{c.group('id')}", headings=headings(body.text))]


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


# A heading's mark: one `#` between spaces, the paragraph's text after it.
MARK = re.compile(r"(?<=[^\s#])[ \t]#[ \t]+(?=[^\s#])")
# A title of CJK text is one word (no space), of at most TITLE_MAX characters, none of them
# ending a sentence or belonging to code, formulas or quotations; `，：` may stand inside it
# (`看山是山，看水是水`, `补充：…`), not at its end.  A title without CJK is at most LATIN_WORDS
# Latin words (`Earth Mover's Distance`, `token - token`) and must follow the end of a sentence
# or the start of a line: so a code comment (`f(x) @ vh # exact`) is never a heading.
TITLE_MAX = 20
LATIN_WORDS = 4
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_TITLE_WORD = re.compile(r"[^\s。！？；;.!?…()（）\[\]{}<>=@/\\$\"“”\u2018`《》、,|*&^%~+]+")
_LATIN_WORD = re.compile(r"[A-Za-z0-9\u00c0-\u024f\u0370-\u03ff][\w'’\-\u0370-\u03ff]*|[-–]")
_PARAGRAPH_END = re.compile(r"(?:[。！？.!?；;：:）)」』”’》】…]|\\end\{[a-z]+\*?\}|\$\$|\\\])[ \t]+$")


def headings(text: str) -> list[tuple[int, int, int]]:
    """The `标题 # ` runs of page text `text` that are the blog's headings: (start, end of the
    title, end of the mark), outside formulas (found as `extract` finds them)."""
    math = [(item.start, item.end) for _, _, items in scan_runs(text, text_runs(text))
            for item in items if isinstance(item, FormulaSpan)]
    found: list[tuple[int, int, int]] = []
    k = 0
    for m in MARK.finditer(text):
        while k < len(math) and math[k][1] <= m.start():
            k += 1
        if k < len(math) and math[k][0] <= m.start():
            continue                           # inside a formula
        line_start = text.rfind("\n", 0, m.start()) + 1
        start = _title_start(text, line_start, m.start())
        if start is not None and (not found or found[-1][2] <= start) \
                and not (k > 0 and math[k - 1][1] > start):
            found.append((start, m.start(), m.end()))
    return found


def _title_start(text: str, line_start: int, end: int) -> int | None:
    """Where the title ending at `end` starts, when text[line_start:end] ends in one."""
    words = [(w.start(), w.end()) for w in re.finditer(r"\S+", text[line_start:end])]
    if not words:
        return None
    last = text[line_start + words[-1][0]:line_start + words[-1][1]]
    if _CJK.search(last):
        ok = (len(last) <= TITLE_MAX and _TITLE_WORD.fullmatch(last) is not None and last[-1] not in "，：:,")
        return line_start + words[-1][0] if ok else None
    for n in range(1, min(LATIN_WORDS, len(words)) + 1):
        chosen = words[-n:]
        if not all(_LATIN_WORD.fullmatch(text, line_start + a, line_start + b) for a, b in chosen):
            return None
        start = line_start + chosen[0][0]
        if text[start] in "-–" or len(text[start:end]) > TITLE_MAX + 10:
            continue
        if start == line_start or _PARAGRAPH_END.search(text, max(line_start, start - 40), start):
            return start
    return None
