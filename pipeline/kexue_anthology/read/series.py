"""Series and part from a post's title: `名字（一）：副标题`, `名字(十二):…`, `名字：2、副标题`."""

from __future__ import annotations

import re
import unicodedata

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
           "六": 6, "七": 7, "八": 8, "九": 9}
_NUMERAL = "[零〇一二两三四五六七八九十百]+"
_PAREN = re.compile(rf"^(?P<name>.+?)\s*\((?P<n>{_NUMERAL}|\d+)\)\s*(?::\s*(?P<sub>.*))?$")
_COLON = re.compile(r"^(?P<name>.+?)\s*:\s*(?P<n>\d+)\s*[、.]\s*(?P<sub>.+)$")


def normalize_title(title: str) -> str:
    """The form two titles are compared in: NFKC (full-width punctuation to ASCII), no spaces."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", title)).lower()


def chinese_number(text: str) -> int | None:
    """一 → 1, 十 → 10, 十二 → 12, 二十 → 20, 三十五 → 35, 一百零二 → 102."""
    if text.isdigit():
        return int(text)
    total, current = 0, 0
    for ch in text:
        if ch in _DIGITS:
            current = _DIGITS[ch]
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
        else:
            return None
    return total + current


def parse_series(title: str) -> tuple[str | None, int | None]:
    """(series, part) when the title names one, else (None, None)."""
    t = unicodedata.normalize("NFKC", title).strip()
    for pattern in (_PAREN, _COLON):
        m = pattern.match(t)
        if m:
            part = chinese_number(m.group("n"))
            name = m.group("name").strip(" ·-—:")
            if part and name:
                return name, part
    return None, None
