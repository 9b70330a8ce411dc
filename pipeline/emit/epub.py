"""EPUB 3 through pandoc: one chapter per post, a nested table of contents, our math.

A book of several series has a part per series (posts under it in series order) and a part
「其他文章」 for the rest by date; a book of one series has its posts as chapters.  Each post
is one chapter file, so equation numbers and `\\eqref` links (always within a post) stay in
one file; links between posts go through pandoc's own link resolution (`#post-ID`).

Math is MathML, or with `--math svg` each distinct formula once as an SVG image with alt text.
The cover is drawn here (Pillow, the CJK font of the system); nothing comes from the network.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import tempfile
import zipfile
from pathlib import Path

import pypandoc

from pipeline.assemble import Collection, drop_heading_ids, post_anchor, settle_links
from pipeline.document import walk
from pipeline.diagnostics import Diagnostics
from pipeline.emit.common import AUTHOR, TEMPLATES, BuildOptions, SetupError, book_id, build_date
from pipeline.emit.cover import draw_cover
from pipeline.fileio import atomic_file
from pipeline.mathhtml import MathHTML, svg_files
from pipeline.render import plain_title
from pipeline.model import Post

def emit(collection: Collection, out: Path, options: BuildOptions, diagnostics: Diagnostics) -> Path:
    with tempfile.TemporaryDirectory(prefix="anthology-epub-") as tmp:
        work = Path(tmp)
        mathhtml = MathHTML(mode="img" if options.math == "svg" else "mathml",
                            image=svg_files(work / "math"))
        groups = collection.groups()
        depth = 1 if len(groups) == 1 and groups[0][0] is None else 2
        blocks = []
        for n, (name, posts) in enumerate(groups, 1):
            if name is not None:
                blocks.append(_header(1, f"part-{n}", name, ["part"]))
            for post in posts:
                blocks.extend(_chapter(collection, post, mathhtml, depth))
        ast = {"pandoc-api-version": next(iter(collection.asts.values()))["pandoc-api-version"],
               "meta": {}, "blocks": blocks}
        when = build_date(collection)
        cover = work / "cover.png"
        draw_cover(cover, collection.title, AUTHOR, when)
        css = work / "book.css"
        css.write_text((TEMPLATES / "epub" / "book.css").read_text(encoding="utf-8")
                       + (TEMPLATES / "math.css").read_text(encoding="utf-8"), encoding="utf-8")
        meta = work / "meta.json"
        meta.write_text(json.dumps({
            "title": collection.title, "author": AUTHOR, "lang": "zh-Hans",
            "identifier": [{"scheme": "UUID", "text": "urn:uuid:" + str(book_id(collection))}],
            "date": when.date().isoformat(), "rights": "文章版权归原作者所有（科学空间 kexue.fm）",
            "description": f"{len(collection.posts)} 篇文章，选自科学空间（kexue.fm）",
        }, ensure_ascii=False), encoding="utf-8")
        source = work / "book.json"
        source.write_text(json.dumps(ast, ensure_ascii=False), encoding="utf-8")
        with atomic_file(out) as target:
            _pandoc([str(source), "--from=json", "--to=epub3", f"--output={target}",
                     f"--metadata-file={meta}", f"--css={css}", f"--epub-cover-image={cover}",
                     f"--split-level={depth}", "--toc", f"--toc-depth={depth}", "--wrap=none",
                     "--syntax-highlighting=none"],
                    cwd=work, env=dict(os.environ, SOURCE_DATE_EPOCH=str(int(when.timestamp()))))
            _title_chapters(target)
    return out


_CHAPTER = re.compile(r"EPUB/text/ch\d+\.xhtml")
_HEADING = re.compile(r'<h[12]\b[^>]*class="(?:post-title|part)"[^>]*>(.*?)</h[12]>', re.S)


def _title_chapters(book: Path) -> None:
    """pandoc names each chapter file's <title> after the file (ch001.xhtml); readers show it,
    so it becomes the post's (or the part's) title.  Entries keep their order, dates and
    compression, so the book stays byte-for-byte reproducible."""
    with zipfile.ZipFile(book) as z:
        items = [(info, z.read(info.filename)) for info in z.infolist()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for info, data in items:
            if _CHAPTER.fullmatch(info.filename):
                text = data.decode("utf-8")
                heading = _HEADING.search(text)
                if heading:
                    title = re.sub(r"<[^>]+>", "", heading.group(1)).strip()
                    text = re.sub(r"<title>[^<]*</title>", lambda _: f"<title>{title}</title>", text, count=1)
                data = text.encode("utf-8")
            z.writestr(info, data, compress_type=info.compress_type)
    book.write_bytes(buffer.getvalue())


def _header(level: int, ident: str, text: str, classes=()) -> dict:
    return {"t": "Header", "c": [level, [ident, list(classes), []], [{"t": "Str", "c": text}]]}


def _chapter(collection: Collection, post: Post, mathhtml: MathHTML, level: int) -> list[dict]:
    ast = mathhtml.document(collection.asts[post.id], post, collection.numbers[post.id], collection.renders)
    settle_links(ast["blocks"], collection, lambda other, fragment: "#" + post_anchor(other))
    _shift_headers(ast["blocks"], level)
    meta = " · ".join(x for x in (post.date, f"{post.readers:,} 位读者" if post.readers else None) if x)
    head = [_header(level, post_anchor(post), plain_title(post.title), ["post-title"])]
    if meta:
        head.append({"t": "Div", "c": [["", ["post-meta"], []], [{"t": "Para", "c": [{"t": "Str", "c": meta}]}]]})
    return head + ast["blocks"]


def _shift_headers(blocks, by: int) -> None:
    """A post's own headings go below its title, and below the level pandoc splits files at."""
    drop_heading_ids(blocks)                 # they repeat between posts; a book needs none
    for node in walk(blocks):
        if node["t"] == "Header":
            node["c"][0] = min(node["c"][0] + by, 6)


def _pandoc(args: list[str], cwd: Path, env: dict) -> None:
    try:
        subprocess.run([pypandoc.get_pandoc_path(), *args], cwd=cwd, env=env, check=True,
                       capture_output=True, text=True)
    except OSError as e:
        raise SetupError(f"pandoc could not be run ({e}): run `make setup` (pypandoc-binary ships it)")
    except subprocess.CalledProcessError as e:
        raise RuntimeError(f"pandoc failed (exit {e.returncode}): {e.stderr.strip()[-2000:]}")
