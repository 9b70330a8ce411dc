"""The book's cover: one drawn by us — the title (and subtitle), author, source and year over a
plain design, in the system's CJK serif (kexue_anthology.formats.fonts.cjk_serif_font: without one the
build stops naming fonts-noto-cjk) — or the project's own image (`cover_image`), which must be a
PNG or JPEG file."""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
import warnings
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from kexue_anthology.core.errors import SetupError
from kexue_anthology.formats.fonts import CJKFont, cjk_serif_font

SIZE = (1600, 2400)
INK, PAPER, ACCENT = (34, 34, 34), (250, 246, 236), (122, 30, 36)


def _font(face: CJKFont, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(face.file), size, index=face.index)


# What the drawn cover holds: a title (or subtitle) is cut to MAX_DRAWN characters before it is
# laid out and to MAX_LINES lines at the smallest size, the last ending in an ellipsis, so that
# drawing takes a bounded time whatever the words' length (flags bypass the project file's limits).
MAX_DRAWN = 400
MAX_LINES = 6
ELLIPSIS = "…"


def _fit(draw: ImageDraw.ImageDraw, text: str, font_file: CJKFont, width: int,
         size: int) -> tuple[list[str], ImageFont.FreeTypeFont]:
    """The title broken into lines that fit `width`, and the font it is set in: the largest size
    down to 60 that takes at most 4 lines, else 60 with at most MAX_LINES lines."""
    text = _flat(text)[:MAX_DRAWN]
    while True:
        font = _font(font_file, size)
        lines = _wrap(draw, text, font, width, MAX_LINES)
        if len(lines) <= 4 or size <= 60:
            return lines, font
        size -= 8


def _flat(text: str) -> str:
    """The words on one line: a newline or tab in them is a space on the cover."""
    return re.sub(r"[\t\n\r]+", " ", text)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: int, most: int) -> list[str]:
    """`text` broken into lines of at most `width` (a character at a time: CJK has no spaces);
    past `most` lines the last is cut and ends in an ellipsis."""
    lines: list[str] = []
    line = ""
    for i, ch in enumerate(text):
        if draw.textlength(line + ch, font=font) > width and line:
            lines.append(line)
            if len(lines) == most:
                lines[-1] = _one_line(draw, line + text[i:i + 1] + ELLIPSIS, font, width)
                return lines
            line = ch
        else:
            line += ch
    lines.append(line)
    return lines


def _one_line(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: int) -> str:
    """`text` as one line of at most `width`: cut, with an ellipsis, when it is longer."""
    text = _flat(text)
    if len(text) <= MAX_DRAWN and draw.textlength(text, font=font) <= width:
        return text
    text = text[:MAX_DRAWN].removesuffix(ELLIPSIS)
    while text and draw.textlength(text + ELLIPSIS, font=font) > width:
        text = text[:-1]
    return text + ELLIPSIS


def draw_cover(path: Path, title: str, author: str, source: str, when: dt.datetime,
               subtitle: str | None = None) -> None:
    """The drawn cover as a PNG file at `path`: every word on it is the caller's (the project's)."""
    image = Image.new("RGB", SIZE, PAPER)
    draw = ImageDraw.Draw(image)
    w, h = SIZE
    draw.rectangle([90, 90, w - 90, h - 90], outline=ACCENT, width=6)
    draw.rectangle([120, 120, w - 120, h - 120], outline=ACCENT, width=2)
    lines, font = _fit(draw, title, cjk_serif_font(bold=True), w - 400, 150)
    y = 700
    for line in lines:
        draw.text((w // 2, y), line, font=font, fill=INK, anchor="mm")
        y += int(font.size * 1.35)
    small = _font(cjk_serif_font(), 70)
    if subtitle:
        sub_lines, sub_font = _fit(draw, subtitle, cjk_serif_font(), w - 400, 80)
        y += 20
        for line in sub_lines:
            draw.text((w // 2, y), line, font=sub_font, fill=INK, anchor="mm")
            y += int(sub_font.size * 1.35)
    draw.line([(w // 2 - 200, y + 40), (w // 2 + 200, y + 40)], fill=ACCENT, width=4)
    draw.text((w // 2, y + 160), _one_line(draw, author, small, w - 400), font=small, fill=INK, anchor="mm")
    if source:
        draw.text((w // 2, h - 330), _one_line(draw, source, small, w - 400), font=small, fill=ACCENT, anchor="mm")
    draw.text((w // 2, h - 220), when.strftime("%Y"), font=_font(cjk_serif_font(), 50), fill=INK, anchor="mm")
    image.save(path, format="PNG", optimize=True)


COVER_TYPES = {"PNG": "png", "JPEG": "jpg"}     # what pandoc and every reading system take as a cover


MAX_BYTES = 20 << 20             # a cover is packed whole into the EPUB: 20 MiB is far more than one needs
MAX_PIXELS = 40_000_000          # e.g. 5000 × 8000; read from the image's header, never decoded for this


def cover_image(path: Path) -> str:
    """The file suffix (png, jpg) of a cover image given by the project; a file that is missing,
    not a regular file, over MAX_BYTES or MAX_PIXELS, or not a whole PNG or JPEG image stops the
    build (SetupError), naming the file.  It is opened without blocking (a FIFO cannot hang us)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
        with os.fdopen(fd, "rb") as f:
            _check_size(path, os.fstat(fd))
            with warnings.catch_warnings():     # Pillow's own, looser bomb warning: ours comes first
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                image = Image.open(f)
            with image:
                kind = image.format or ""
                _check_pixels(path, image.size)
                image.verify()
    except Image.DecompressionBombError:
        raise SetupError(f"the cover image {path} has over {MAX_PIXELS:,} pixels, the limit: make it smaller "
                         "(a cover needs about 1600 × 2400 pixels)") from None
    except FileNotFoundError:
        raise SetupError(f"the cover image {path} does not exist: give the path of a PNG or JPEG file as "
                         "`cover`, or leave `cover` out for the drawn cover") from None
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as e:
        raise SetupError(f"the cover image {path} is not a PNG or JPEG image that can be read ({e}): "
                         "give a PNG or JPEG file as `cover`") from None
    if kind not in COVER_TYPES:
        raise SetupError(f"the cover image {path} is {kind}, not PNG or JPEG: convert it (e.g. to PNG) "
                         "or leave `cover` out for the drawn cover")
    return COVER_TYPES[kind]


def _check_size(path: Path, info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise SetupError(f"the cover image {path} is not a regular file: give a PNG or JPEG file as `cover`")
    if info.st_size > MAX_BYTES:
        raise SetupError(f"the cover image {path} is {info.st_size:,} bytes, over the limit of {MAX_BYTES:,} "
                         "(20 MiB): make it smaller (a cover needs about 1600 × 2400 pixels)")


def _check_pixels(path: Path, size: tuple[int, int]) -> None:
    if size[0] * size[1] > MAX_PIXELS:
        raise SetupError(f"the cover image {path} is {size[0]:,} × {size[1]:,} pixels, over the limit of "
                         f"{MAX_PIXELS:,}: make it smaller (a cover needs about 1600 × 2400 pixels)")
