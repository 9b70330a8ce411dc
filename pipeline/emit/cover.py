"""A cover drawn by us: the title and author over a plain design, in the system's CJK serif
(pipeline.emit.common.cjk_serif_font: without one the build stops naming fonts-noto-cjk)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from pipeline.emit.common import CJKFont, cjk_serif_font

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


def draw_cover(path: Path, title: str, author: str, when: dt.datetime) -> None:
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
    draw.line([(w // 2 - 200, y + 40), (w // 2 + 200, y + 40)], fill=ACCENT, width=4)
    small = _font(cjk_serif_font(), 70)
    draw.text((w // 2, y + 160), author, font=small, fill=INK, anchor="mm")
    draw.text((w // 2, h - 330), "科学空间 · kexue.fm", font=small, fill=ACCENT, anchor="mm")
    draw.text((w // 2, h - 220), when.strftime("%Y"), font=_font(cjk_serif_font(), 50), fill=INK, anchor="mm")
    image.save(path, format="PNG", optimize=True)
