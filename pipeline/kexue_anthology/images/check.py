"""Is it an image, and a safe one?  The bytes decide, not the name or what a server said.

`check_image` sniffs the type from the first bytes (PNG, JPEG, GIF, WebP, SVG), reads a raster's size
from its header and refuses more than `MAX_PIXELS` before anything is decoded (a decompression bomb),
then lets Pillow verify the file and decode it whole (a truncated or damaged file is refused).  An SVG
is parsed as XML and refused when it could run or fetch anything: a script, an event handler, a
`foreignObject`, an entity declaration, or a reference (`href`, `xlink:href`, `url(…)`, `@import`) to
anything but a fragment of the file itself; what remains is written again without comments,
processing instructions and other vocabularies' elements and attributes (an editor's metadata).
No network here: the same check serves a writer's own images beside a post.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from PIL import Image

MAX_PIXELS = 50_000_000          # a 7000×7000 photograph; the blog's largest figure is far below
SVG_NS, XLINK_NS = "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"
_RASTERS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
_FORBIDDEN_ELEMENTS = {"script", "foreignObject", "iframe", "embed", "object", "handler", "listener"}
_KEPT_NAMESPACES = {SVG_NS, XLINK_NS, "http://www.w3.org/XML/1998/namespace"}
_URL = re.compile(r"url\(\s*['\"]?\s*([^)'\"\s]*)", re.I)
_FRAGMENT = re.compile(r"#[\w.:-]+")


@dataclass(frozen=True)
class CheckedImage:
    """An image as it may be kept (`data`, cleaned for SVG) or, when `refused` says why, not at all."""
    data: bytes
    media_type: str
    width: int
    height: int
    refused: str = ""

    @property
    def ok(self) -> bool:
        return not self.refused


def _refuse(reason: str) -> CheckedImage:
    return CheckedImage(b"", "", 0, 0, reason)


def sniff(data: bytes) -> str:
    """The media type the bytes show, or "" when they are none of the kept images."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<?xml", b"<svg", b"<!--", b"<!doctype svg")) and b"<svg" in data[:4096].lower():
        return "image/svg+xml"
    return ""


def check_image(data: bytes, declared_type: str = "") -> CheckedImage:
    """The image in `data`, checked; `declared_type` (a server's Content-Type) only names what it claimed."""
    media_type = sniff(data)
    if not media_type:
        head = data[:512].lstrip().lower()
        looks = "HTML" if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) else "no image"
        said = f" (served as {declared_type})" if declared_type else ""
        return _refuse(f"not an image: {looks}{said}" if data else f"empty file{said}")
    if media_type == "image/svg+xml":
        return _check_svg(data)
    return _check_raster(data, media_type)


def _check_raster(data: bytes, media_type: str) -> CheckedImage:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as im:       # reads the header only
                width, height = im.size
                found = _RASTERS.get(im.format or "", "")
                if width * height > MAX_PIXELS:
                    return _refuse(f"too large: {width}×{height} pixels (a decompression bomb?), "
                                   f"more than {MAX_PIXELS // 1_000_000} million")
                im.verify()
            with Image.open(io.BytesIO(data)) as im:       # verify leaves it unusable; decode afresh
                im.load()
        except Image.DecompressionBombError as e:
            return _refuse(f"too large (a decompression bomb?): {e}")
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error) as e:
            return _refuse(f"damaged or truncated {media_type.split('/')[1].upper()}: {e}")
    if found != media_type or width <= 0 or height <= 0:
        return _refuse(f"not a readable {media_type}")
    return CheckedImage(data, media_type, width, height)


def _local(name: str) -> tuple[str, str]:
    """(namespace, local name) of an ElementTree name."""
    if name.startswith("{"):
        ns, _, local = name[1:].partition("}")
        return ns, local
    return "", name


def _outside(value: str) -> bool:
    """Whether a text refers to anything outside the file (`url(…)` not to a fragment, an @import)."""
    if "@import" in value.lower() or "expression(" in value.lower():
        return True
    return any(not _FRAGMENT.fullmatch(target) for target in _URL.findall(value))


def _svg_problem(root: ET.Element) -> str:
    """Why an SVG tree may not be kept, or ""."""
    if _local(root.tag) != (SVG_NS, "svg"):
        return "not an SVG: its root is not <svg> in the SVG namespace"
    for el in root.iter():
        ns, tag = _local(el.tag) if isinstance(el.tag, str) else ("", "")
        if tag in _FORBIDDEN_ELEMENTS:
            return f"an SVG with <{tag}>"
        if ns == SVG_NS and tag in ("set", "animate") and el.get("attributeName", "").endswith("href"):
            return "an SVG that animates a link"
        for name, value in el.attrib.items():
            _, attr = _local(name)
            if attr.lower().startswith("on"):
                return f"an SVG with an event handler ({attr})"
            if attr == "href" and not _FRAGMENT.fullmatch(value.strip()):
                return f"an SVG referring outside itself (href {value[:80]!r})"
            if _outside(value):
                return f"an SVG referring outside itself ({attr} {value[:80]!r})"
        if tag == "style" and _outside("".join(el.itertext())):
            return "an SVG whose stylesheet refers outside itself"
    return ""


def _clean(el: ET.Element) -> None:
    """Drop other vocabularies' elements and attributes (an editor's metadata), in place."""
    for child in list(el):
        if not isinstance(child.tag, str) or _local(child.tag)[0] not in _KEPT_NAMESPACES:
            el.remove(child)
        else:
            _clean(child)
    for name in list(el.attrib):
        ns, _ = _local(name)
        if ns and ns not in _KEPT_NAMESPACES:
            del el.attrib[name]


def _length(value: str | None) -> float:
    m = re.fullmatch(r"\s*([0-9.]+)\s*(px)?\s*", value or "")
    try:
        return float(m.group(1)) if m else 0.0
    except ValueError:
        return 0.0


def _svg_size(root: ET.Element) -> tuple[int, int]:
    width, height = _length(root.get("width")), _length(root.get("height"))
    box = (root.get("viewBox") or "").replace(",", " ").split()
    if (not width or not height) and len(box) == 4:
        try:
            width, height = width or float(box[2]), height or float(box[3])
        except ValueError:
            pass
    return round(width), round(height)


def _check_svg(data: bytes) -> CheckedImage:
    if re.search(rb"<!ENTITY|<!DOCTYPE[^>]*\[", data, re.I):
        return _refuse("an SVG declaring entities")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _refuse("an SVG not in UTF-8")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        return _refuse(f"damaged SVG: {e}")
    problem = _svg_problem(root)
    if problem:
        return _refuse(problem)
    _clean(root)
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", XLINK_NS)
    cleaned = ET.tostring(root, encoding="unicode").encode()
    width, height = _svg_size(root)
    return CheckedImage(cleaned, "image/svg+xml", width, height)
