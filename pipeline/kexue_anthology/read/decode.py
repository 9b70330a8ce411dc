"""Bytes to text: UTF-8 (with or without BOM), UTF-16 with BOM, GB18030/GBK; CRLF and CR to LF.

What cannot be decoded is reported with the reason and the file is left out; what was
decoded in an unusual way (GBK, a BOM, CRLF line ends) is decoded and noted.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field


@dataclass
class Decoded:
    text: str | None
    problem: str | None = None          # set when text is None
    notes: list[str] = field(default_factory=list)


def decode(data: bytes) -> Decoded:
    notes = []
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
        notes.append("starts with a UTF-8 byte order mark (removed)")
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as e:
            return Decoded(None, f"not valid UTF-16 despite its byte order mark: {e.reason} at byte {e.start}")
        return _lines(text, [*notes, "is UTF-16 (decoded)"])
    if b"\x00" in data[:8192]:
        return Decoded(None, "binary file (contains NUL bytes), not text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            return Decoded(None, f"not UTF-8 ({e.reason} at byte {e.start}) and not GBK either")
        notes.append(f"is not UTF-8 ({e.reason} at byte {e.start}); decoded as GBK/GB18030")
    return _lines(text, notes)


def _lines(text: str, notes: list[str]) -> Decoded:
    if "\r" in text:
        if "\r\n" in text:
            notes.append("has CRLF line ends (read as LF)")
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    controls = sum(1 for ch in text[:4096] if ord(ch) < 32 and ch not in "\n\t\f\v")
    if controls > 8:
        return Decoded(None, "binary file (control characters), not text")
    return Decoded(text, None, notes)
