"""The book's cover: one drawn by us — the title (and subtitle), author, source and year over a
plain design, in the system's CJK serif (pipeline.emit.common.cjk_serif_font: without one the
build stops naming fonts-noto-cjk) — or the project's own image (`cover_image`), which must be a
PNG or JPEG file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from pipeline.emit.common import CJKFont, SetupError, cjk_serif_font

SIZE = (1600, 2400)
INK, PAPER, ACCENT = (34, 34, 34), (250, 246, 236), (122, 30, 36)


def _font(face: CJKFont, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(face.file), size, index=face.index)


def _fit(draw: ImageDraw.ImageDraw, text: str, font_file: CJKFont, width: int,
         size: int) -> tuple[list[str], ImageFont.FreeTypeFont]:
    """The title broken into lines that fit `width`, and the font it is set in."""
    while True:
        font = _font(font_file, size)
        lines: list[str] = []
        line = ""
        for ch in text:
            if draw.textlength(line + ch, font=font) > width and line:
                lines.append(line)
                line = ch
            else:
                line += ch
        lines.append(line)
        if len(lines) <= 4 or size <= 60:
            return lines, font
        size -= 8


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
    draw.text((w // 2, y + 160), author, font=small, fill=INK, anchor="mm")
    if source:
        draw.text((w // 2, h - 330), source, font=small, fill=ACCENT, anchor="mm")
    draw.text((w // 2, h - 220), when.strftime("%Y"), font=_font(cjk_serif_font(), 50), fill=INK, anchor="mm")
    image.save(path, format="PNG", optimize=True)


COVER_TYPES = {"PNG": "png", "JPEG": "jpg"}     # what pandoc and every reading system take as a cover


def cover_image(path: Path) -> str:
    """The file suffix (png, jpg) of a cover image given by the project; a file that is missing or
    is not a whole PNG or JPEG image stops the build (SetupError), naming the file."""
    try:
        with Image.open(path) as image:
            kind = image.format or ""
            image.verify()
    except FileNotFoundError:
        raise SetupError(f"the cover image {path} does not exist: give the path of a PNG or JPEG file as "
                         "`cover`, or leave `cover` out for the drawn cover") from None
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError, SyntaxError, ValueError) as e:
        raise SetupError(f"the cover image {path} is not a PNG or JPEG image that can be read ({e}): "
                         "give a PNG or JPEG file as `cover`") from None
    if kind not in COVER_TYPES:
        raise SetupError(f"the cover image {path} is {kind}, not PNG or JPEG: convert it (e.g. to PNG) "
                         "or leave `cover` out for the drawn cover")
    return COVER_TYPES[kind]
