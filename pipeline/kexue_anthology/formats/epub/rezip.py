"""A zip written again with some entries' data replaced and every other entry's compressed bytes
copied as they are: the EPUB of a rebuild without deflating again what did not change.

`read` takes the records of a zip as Python's zipfile writes it (local headers, data, central
directory, end record; no data descriptor, no ZIP64, stored or deflated entries), each copied
entry checked against its CRC; `written` puts them out again, the entries named in `replace`
with the new data's CRC, sizes and offsets and the data deflated as zipfile deflates it
(`zlib` at its default level, raw): the bytes are the very ones zipfile writes for the same
entries (`writestr` into a seekable file), so a book stays byte-for-byte reproducible.
Anything else in the input raises BadZip (the caller writes the book the long way)."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

_LOCAL = struct.Struct("<4s2B4HL2L2H")          # zipfile's structFileHeader
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")      # zipfile's structCentralDir
_END = struct.Struct("<4s4H2LH")                # zipfile's structEndArchive
_STORED, _DEFLATED = 0, 8


class BadZip(ValueError):
    """A zip not as zipfile writes it, or damaged."""


@dataclass
class ZipEntry:
    name: str
    local: bytes          # the local header, with the name and extra field
    data: bytes           # as stored (deflated or not)
    central: bytes        # the central directory record
    method: int
    content: bytes        # the data as it is in the file


def read(book: bytes) -> tuple[list[ZipEntry], bytes]:
    """The entries of `book` in order, each one's data checked, and the zip's comment."""
    try:
        return _read(book)
    except (struct.error, zlib.error, UnicodeDecodeError, IndexError) as e:
        raise BadZip(str(e)) from None


def _read(book: bytes) -> tuple[list[ZipEntry], bytes]:
    end = book.rfind(b"PK\x05\x06")
    if end < 0:
        raise BadZip("no end record")
    _, disk, disk_dir, count_disk, count, size, start, comment_length = _END.unpack_from(book, end)
    comment = book[end + _END.size:]
    if (disk, disk_dir) != (0, 0) or count_disk != count or len(comment) != comment_length \
            or start + size != end or count == 0xFFFF:
        raise BadZip("not a zip of one part as zipfile writes it")
    entries: list[ZipEntry] = []
    at, offset = start, 0
    for _ in range(count):
        c = _CENTRAL.unpack_from(book, at)
        if c[0] != b"PK\x01\x02":
            raise BadZip("a damaged central directory")
        flags, method, crc, compressed, size_, n, m, k, header = c[5], c[6], c[9], c[10], c[11], c[12], c[13], \
            c[14], c[18]
        central = book[at:at + _CENTRAL.size + n + m + k]
        at += len(central)
        local_fields = _LOCAL.unpack_from(book, header)
        if header != offset or local_fields[0] != b"PK\x03\x04" or flags & 0x08 or method not in (_STORED, _DEFLATED):
            raise BadZip("an entry not as zipfile writes it")
        if local_fields[7:10] != (crc, compressed, size_):
            raise BadZip("an entry's local header and directory record differ")
        local = book[header:header + _LOCAL.size + local_fields[10] + local_fields[11]]
        data = book[header + len(local):header + len(local) + compressed]
        name = central[_CENTRAL.size:_CENTRAL.size + n].decode("utf-8" if flags & 0x800 else "cp437")
        content = zlib.decompress(data, -15) if method == _DEFLATED else data
        if len(data) != compressed or len(content) != size_ or zlib.crc32(content) != crc:
            raise BadZip(f"{name} is damaged")
        entries.append(ZipEntry(name, local, data, central, method, content))
        offset = header + len(local) + compressed
    if offset != start or at != end:
        raise BadZip("bytes outside the entries")
    return entries, comment


def written(entries: list[ZipEntry], replace: dict[str, bytes], comment: bytes) -> bytes:
    """The zip of `entries`, those named in `replace` with that data instead, and `comment`."""
    out = bytearray()
    central = bytearray()
    for entry in entries:
        local, data, record = entry.local, entry.data, entry.central
        if entry.name in replace:
            content = replace[entry.name]
            data = _deflated(content) if entry.method == _DEFLATED else content
            sizes = struct.pack("<3L", zlib.crc32(content), len(data), len(content))
            local = local[:14] + sizes + local[26:]
            record = record[:16] + sizes + record[28:]
        central += record[:42] + struct.pack("<L", len(out)) + record[46:]
        out += local
        out += data
    start = len(out)
    out += central
    out += _END.pack(b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central), start, len(comment))
    out += comment
    return bytes(out)


def _deflated(data: bytes) -> bytes:
    """`data` deflated as zipfile does (`_get_compressor` of ZIP_DEFLATED, one write)."""
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()
