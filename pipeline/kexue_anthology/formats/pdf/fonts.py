"""One subset per font in a book merged from parts, instead of one per part.

WeasyPrint subsets each font it embeds with HarfBuzz, keeping glyph ids (RETAIN_GIDS), so the
text of every part refers to a glyph by its id in the installed font.  A book merged from
parts therefore needs each font file once: the installed face, subset to the union of the
glyphs all parts use (read off the fonts' `/W` widths, which list exactly the glyphs drawn),
with the flags WeasyPrint uses.  The face is found by the PostScript name in the embedded
subset's `name` table through fontconfig; a font that cannot be found keeps the parts' own
subsets (a larger file, the same pages).

The parts typeset for a book (formats/pdf/parts.py) need no subsets of their own, since the
merge makes each anew: a worker embeds for an installed face a stub instead (`stub`: its
PostScript name and version, which the merge replaces by the subset whatever the number of
parts using the face), saving a HarfBuzz subset and its compression per face and part.  A
part's cache key holds the installed fonts (`installed_fingerprint`), so a cached part always
names a face as installed now.
"""

from __future__ import annotations

import functools
import hashlib
import io
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pikepdf

_CDEF = """
typedef struct hb_blob_t hb_blob_t; typedef struct hb_face_t hb_face_t; typedef struct hb_set_t hb_set_t;
typedef struct hb_subset_input_t hb_subset_input_t;
hb_blob_t *hb_blob_create_from_file_or_fail(const char *file_name);
void hb_blob_destroy(hb_blob_t *blob);
const char *hb_blob_get_data(hb_blob_t *blob, unsigned int *length);
hb_face_t *hb_face_create(hb_blob_t *blob, unsigned int index);
void hb_face_destroy(hb_face_t *face);
unsigned int hb_face_get_glyph_count(const hb_face_t *face);
hb_blob_t *hb_face_reference_blob(hb_face_t *face);
void hb_set_add(hb_set_t *set, uint32_t codepoint);
void hb_set_add_range(hb_set_t *set, uint32_t first, uint32_t last);
uint32_t hb_tag_from_string(const char *str, int len);
hb_subset_input_t *hb_subset_input_create_or_fail(void);
void hb_subset_input_destroy(hb_subset_input_t *input);
hb_set_t *hb_subset_input_glyph_set(hb_subset_input_t *input);
hb_set_t *hb_subset_input_set(hb_subset_input_t *input, int set_type);
void hb_subset_input_set_flags(hb_subset_input_t *input, unsigned int value);
hb_face_t *hb_subset_or_fail(hb_face_t *source, const hb_subset_input_t *input);
"""
# hb-subset.h
NO_HINTING, RETAIN_GIDS, DESUBROUTINIZE, PASSTHROUGH, NOTDEF_OUTLINE = 0x1, 0x2, 0x4, 0x20, 0x40
DROP_TABLE_TAG = 3
DROPPED_TABLES = (b"BASE", b"DSIG", b"EBDT", b"EBLC", b"EBSC", b"GPOS", b"GSUB", b"JSTF", b"LTSH", b"PCLT",
                  b"SVG ")                  # as WeasyPrint drops them


@functools.lru_cache(maxsize=1)
def _harfbuzz() -> tuple[Any, Any, Any] | None:
    import cffi  # type: ignore[import-untyped]  # WeasyPrint's dependency
    ffi = cffi.FFI()
    ffi.cdef(_CDEF)
    try:
        hb = ffi.dlopen("libharfbuzz.so.0")
        subset = ffi.dlopen("libharfbuzz-subset.so.0")
    except OSError:
        return None
    return ffi, hb, subset


def subset_font(path: Path, index: int, glyphs: set[int]) -> bytes | None:
    """The face `index` of the font file at `path` with only `glyphs` (ids kept), or None."""
    found = _harfbuzz()
    if found is None or not glyphs:
        return None
    ffi, hb, hbs = found
    blob = ffi.gc(hb.hb_blob_create_from_file_or_fail(str(path).encode()), hb.hb_blob_destroy)
    if blob == ffi.NULL:
        return None
    face = ffi.gc(hb.hb_face_create(blob, index), hb.hb_face_destroy)
    # WeasyPrint's two passes: the glyphs at their ids, then everything after the last one dropped.
    first = _subset(ffi, hb, hbs, face, sorted(glyphs), RETAIN_GIDS | PASSTHROUGH | DESUBROUTINIZE | NOTDEF_OUTLINE,
                    drop=True)
    if first is None:
        return None
    second = _subset(ffi, hb, hbs, first, None, PASSTHROUGH | DESUBROUTINIZE | NO_HINTING | NOTDEF_OUTLINE,
                     keep_up_to=max(glyphs))
    return _data(ffi, hb, second if second is not None else first)


def _subset(ffi: Any, hb: Any, hbs: Any, face: Any, glyphs: list[int] | None, flags: int,
            drop: bool = False, keep_up_to: int = 0) -> Any | None:
    request = ffi.gc(hbs.hb_subset_input_create_or_fail(), hbs.hb_subset_input_destroy)
    keep = hbs.hb_subset_input_glyph_set(request)
    if glyphs is None:
        hb.hb_set_add_range(keep, 0, keep_up_to)
    else:
        for glyph in glyphs:
            hb.hb_set_add(keep, glyph)
    hbs.hb_subset_input_set_flags(request, flags)
    if drop:
        tables = hbs.hb_subset_input_set(request, DROP_TABLE_TAG)
        for tag in DROPPED_TABLES:
            hb.hb_set_add(tables, hb.hb_tag_from_string(tag, -1))
    result = hbs.hb_subset_or_fail(face, request)
    return None if result == ffi.NULL else ffi.gc(result, hb.hb_face_destroy)


def _data(ffi: Any, hb: Any, face: Any) -> bytes:
    blob = ffi.gc(hb.hb_face_reference_blob(face), hb.hb_blob_destroy)
    length = ffi.new("unsigned int *")
    data = hb.hb_blob_get_data(blob, length)
    return bytes(ffi.buffer(data, length[0]))


STUB = b"%AnthologyFace\n"        # after the font's first 4 bytes (its type: OTTO or not)


@functools.lru_cache(maxsize=64)
def _servable(name: str, version: str) -> bool:
    faces = installed_faces()
    return bool(name) and name in faces and _harfbuzz() is not None and _installed_version(*faces[name]) == version


def stub(data: bytes, index: int) -> bytes | None:
    """A stand-in for the font program `data` (face `index` of a collection) of an installed face
    (which the merge subsets), or None when the merge could not make its subset.  A process
    typesets the same few fonts again and again: each is read once (by its size and ends)."""
    return _stub(index, len(data), data[:4096], data[-4096:], data)


_stubs: dict[tuple[int, int, bytes, bytes], bytes | None] = {}


def _stub(index: int, size: int, head: bytes, tail: bytes, data: bytes) -> bytes | None:
    key = (index, size, head, tail)
    if key not in _stubs:
        from fontTools.ttLib import TTFont  # type: ignore[import-untyped]
        try:
            face = TTFont(io.BytesIO(data), lazy=True, fontNumber=index)
            names = face["name"]
            named = str(names.getDebugName(6) or ""), str(names.getDebugName(5) or "")
            kind = face.sfntVersion.encode("latin-1")       # OTTO or not: what the subset will be
        except Exception:
            named, kind = ("", ""), b""
        # the stub begins as the face does: WeasyPrint embeds it as it would the subset
        _stubs[key] = kind + STUB + "\t".join(named).encode() if len(kind) == 4 and _servable(*named) else None
    return _stubs[key]


def _stubbed(data: bytes) -> tuple[str, str] | None:
    """The face (PostScript name, version) a stub stands for, or None for a real font program."""
    if data[4:4 + len(STUB)] != STUB:
        return None
    name, _, version = data[4 + len(STUB):].decode().partition("\t")
    return name, version


@functools.lru_cache(maxsize=1)
def _fontconfig() -> tuple[tuple[str, str], ...]:
    """fontconfig's installed faces, listed once per process for both their uses below: each
    as (PostScript name, "file\tindex\tversion")."""
    if not shutil.which("fc-list"):
        return ()
    listed = subprocess.run(["fc-list", "-f", "%{postscriptname}\t%{file}\t%{index}\t%{fontversion}\n"],
                            capture_output=True, text=True).stdout
    return tuple((name, face) for name, _, face in (line.partition("\t") for line in listed.splitlines()))


@functools.lru_cache(maxsize=1)
def installed_fingerprint() -> str:
    """A digest of the installed fonts (files, faces, versions, sizes): it changes when a font
    does."""
    digest = hashlib.sha256()
    for line in sorted({face for _, face in _fontconfig()}):
        path = Path(line.split("\t")[0])
        try:
            size = path.stat().st_size
        except OSError:
            size = -1
        digest.update(f"{line}\t{size}\n".encode())
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def installed_faces() -> dict[str, tuple[Path, int]]:
    """fontconfig's faces by PostScript name: the file and the face's index in it."""
    faces: dict[str, tuple[Path, int]] = {}
    for name, face in _fontconfig():
        file, index = [*face.rpartition("\t")[0].split("\t"), ""][:2]      # without the version
        if name and file and index.strip().isdigit():
            faces.setdefault(name, (Path(file), int(index)))
    return faces


def _postscript_name(data: bytes) -> tuple[str, str] | None:
    """The PostScript name and version of an embedded font program."""
    from fontTools.ttLib import TTFont
    try:
        names = TTFont(io.BytesIO(data), lazy=True)["name"]
        return str(names.getDebugName(6) or ""), str(names.getDebugName(5) or "")
    except Exception:             # a font program fontTools cannot read: leave it as it is
        return None


def _installed_version(path: Path, index: int) -> str | None:
    from fontTools.ttLib import TTFont
    try:
        return str(TTFont(str(path), lazy=True, fontNumber=index)["name"].getDebugName(5) or "")
    except Exception:
        return None


@dataclass
class _Program:
    """Every embedding of one installed face in the merged book."""
    descriptors: list[tuple[pikepdf.Dictionary, str]] = field(default_factory=list)
    glyphs: set[int] = field(default_factory=lambda: {0})


def _resources(pdf: pikepdf.Pdf) -> Iterator[pikepdf.Dictionary]:
    """Every resource dictionary of the book: the pages' and those of the forms they draw (the
    page numbers are forms), each once."""
    seen: set[tuple[int, int]] = set()
    pending = [page.obj.get("/Resources") for page in pdf.pages]
    while pending:
        found = pending.pop()
        if not isinstance(found, pikepdf.Dictionary) or (found.is_indirect and found.objgen in seen):
            continue
        seen.add(found.objgen)
        yield found
        for form in found.get("/XObject", pikepdf.Dictionary()).values():
            if form.get("/Subtype") == pikepdf.Name.Form:
                pending.append(form.get("/Resources"))


def _descendants(pdf: pikepdf.Pdf) -> Iterator[pikepdf.Object]:
    """Each CID font of the book (Type0 fonts' descendants), once."""
    seen: set[tuple[int, int]] = set()
    for resources in _resources(pdf):
        for font in resources.get("/Font", pikepdf.Dictionary()).values():
            for cid in font.get("/DescendantFonts", pikepdf.Array()):
                if cid.objgen not in seen:
                    seen.add(cid.objgen)
                    yield cid


def _glyphs(widths: pikepdf.Object) -> Iterator[int]:
    """The glyph ids a CID font's /W array lists."""
    return (glyph for glyph, _ in _widths(widths))


def _widths(widths: pikepdf.Object) -> Iterator[tuple[int, pikepdf.Object]]:
    """Each glyph id of a CID font's /W array with its width: `c [w…]` and `first last w`."""
    items, i = list(widths), 0
    while i < len(items):
        start = int(items[i])
        if isinstance(items[i + 1], pikepdf.Array):
            yield from enumerate(items[i + 1], start)
            i += 2
        else:
            yield from ((glyph, items[i + 2]) for glyph in range(start, int(items[i + 1]) + 1))
            i += 3


def _programs(pdf: pikepdf.Pdf, faces: dict[str, tuple[Path, int]]
              ) -> tuple[dict[tuple[str, str], _Program], set[tuple[str, str]]]:
    """The book's embeddings of each installed face (PostScript name, version), and the faces
    embedded as stubs."""
    programs: dict[tuple[str, str], _Program] = {}
    stubs: set[tuple[str, str]] = set()
    for cid in _descendants(pdf):
        descriptor = cid.get("/FontDescriptor")
        if not isinstance(descriptor, pikepdf.Dictionary) or "/W" not in cid:
            continue
        slot = next((s for s in ("/FontFile2", "/FontFile3") if s in descriptor), None)
        if slot is None:
            continue
        data = descriptor[slot].read_bytes()
        named = _stubbed(data)
        if named is not None:
            stubs.add(named)
            if named[0] not in faces:
                raise RuntimeError(f"the font {named[0]} was removed while the book was typeset")
        else:
            named = _postscript_name(data)
        if named is None or named[0] not in faces:
            continue
        program = programs.setdefault(named, _Program())
        program.descriptors.append((descriptor, slot))
        program.glyphs.update(_glyphs(cid["/W"]))
    return programs, stubs


def merge_fonts(pdf: pikepdf.Pdf) -> int:
    """Replace the parts' subsets (or stubs) of each installed face by one subset of that face;
    returns how many font programs were replaced."""
    faces = installed_faces()
    programs, stubs = _programs(pdf, faces)
    replaced = 0
    for (name, version), program in programs.items():
        stubbed = (name, version) in stubs
        if len(program.descriptors) < 2 and not stubbed:
            continue
        path, index = faces[name]
        data = subset_font(path, index, program.glyphs) if _installed_version(path, index) == version else None
        if data is None:
            if stubbed:
                raise RuntimeError(f"the font {name} {version} changed while the book was typeset")
            continue                  # another release than the one typeset: the parts' own subsets
        stream = pdf.make_stream(data)
        if data[:4] == b"OTTO":
            stream.Subtype = pikepdf.Name.OpenType
        else:
            stream.Length1 = len(data)
        for descriptor, slot in program.descriptors:
            descriptor[slot] = stream
            replaced += 1
    return replaced


_BFCHAR = re.compile(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]*)>")


def _program(font: pikepdf.Object) -> tuple[int, int] | None:
    try:
        descriptor = font.DescendantFonts[0].FontDescriptor
        return next(descriptor[s].objgen for s in ("/FontFile2", "/FontFile3") if s in descriptor)
    except (AttributeError, IndexError, KeyError, StopIteration, TypeError):
        return None


def merge_font_dictionaries(pdf: pikepdf.Pdf) -> int:
    """One font dictionary for the fonts of all parts that share a name and (after
    merge_fonts) a font program: their widths and Unicode maps joined.  Returns how many
    dictionaries were folded into another."""
    resources = list(_resources(pdf))
    folded: dict[tuple[int, int], pikepdf.Object] = {}
    for fonts in _font_groups(resources):
        if len(fonts) < 2:
            continue
        kept = _join(pdf, fonts)
        for font in fonts[1:]:
            folded[font.objgen] = kept
    for found in resources:
        table = found.get("/Font")
        if isinstance(table, pikepdf.Dictionary):
            for key, font in list(table.items()):
                if font.objgen in folded:
                    table[key] = folded[font.objgen]
    return len(folded)


def _font_groups(resources: list[pikepdf.Dictionary]) -> list[list[pikepdf.Object]]:
    """The composite fonts with widths in `resources`, grouped by name and font program."""
    groups: dict[tuple[str, tuple[int, int]], list[pikepdf.Object]] = {}
    for found in resources:
        for font in found.get("/Font", pikepdf.Dictionary()).values():
            program = _program(font)
            if font.get("/Subtype") == pikepdf.Name.Type0 and program is not None and "/W" in font.DescendantFonts[0]:
                group = groups.setdefault((str(font.BaseFont), program), [])
                if all(font.objgen != other.objgen for other in group):
                    group.append(font)
    return list(groups.values())


def _join(pdf: pikepdf.Pdf, fonts: list[pikepdf.Object]) -> pikepdf.Object:
    """The first of `fonts`, given the widths and Unicode maps of them all."""
    widths: dict[int, pikepdf.Object] = {}
    text: dict[bytes, bytes] = {}
    for font in fonts:
        for glyph, width in _widths(font.DescendantFonts[0].W):
            widths.setdefault(glyph, width)
        if "/ToUnicode" in font:
            for glyph_hex, unicode_hex in _BFCHAR.findall(font.ToUnicode.read_bytes()):
                text.setdefault(glyph_hex.lower(), unicode_hex)
    kept = fonts[0]
    kept.DescendantFonts[0].W = pikepdf.Array([x for glyph in sorted(widths)
                                               for x in (glyph, pikepdf.Array([widths[glyph]]))])
    kept.ToUnicode = pdf.make_stream(_cmap(text))
    return kept


def _cmap(text: dict[bytes, bytes]) -> bytes:
    """A ToUnicode CMap of `text` (glyph id in hex → UTF-16 in hex), as WeasyPrint writes one."""
    lines = [b"/CIDInit /ProcSet findresource begin", b"12 dict begin", b"begincmap",
             b"/CIDSystemInfo", b"<< /Registry (Adobe)", b"/Ordering (UCS)", b"/Supplement 0", b">> def",
             b"/CMapName /Adobe-Identity-UCS def", b"/CMapType 2 def", b"1 begincodespacerange",
             b"<0000> <ffff>", b"endcodespacerange"]
    items = sorted(text.items(), key=lambda item: int(item[0], 16))
    for start in range(0, len(items), 100):
        batch = items[start:start + 100]
        lines.append(f"{len(batch)} beginbfchar".encode())
        lines += [b"<%s> <%s>" % (glyph, code) for glyph, code in batch]
        lines.append(b"endbfchar")
    lines += [b"endcmap", b"CMapName currentdict /CMap defineresource pop", b"end", b"end"]
    return b"\n".join(lines)
