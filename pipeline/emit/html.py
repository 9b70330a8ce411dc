"""The HTML collection: a static site that opens from the file system, math without JavaScript.

    index.html              posts by date (newest first, by year) and the series with their parts
    series/NAME.html        one page per series, parts in order
    posts/ID.html           one page per post: title, date, readers, series navigation, the text
    errors.html             the formulas MathJax rejects, each linked to where it stands
    assets/                 site.css, math.css and, when installed, a math font (OpenType MATH)

Math is MathML (default) or inline SVG (`--math svg`), from the shared math layer.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import quote

from markupsafe import Markup

from pipeline.assemble import Collection, bodies
from pipeline.diagnostics import Diagnostics
from pipeline.emit.base import Emitter
from pipeline.emit.common import AUTHOR, TEMPLATES, BuildOptions, environment, math_font, slug
from pipeline.fileio import atomic_dir
from pipeline.mathhtml import MathHTML, formula_anchor
from pipeline.model import Post, rejected
from pipeline.outputs import STAMP


def post_file(post: Post) -> str:
    return f"posts/{slug(post.id)}.html"


def series_file(name: str) -> str:
    return f"series/{slug(name)}.html"


def href(path: str) -> str:
    return quote(path, safe="/#.-_~")


def page_link(post: Post, fragment: str) -> str:
    """Where a link from one post's page to another post goes."""
    return "../" + href(post_file(post)) + fragment


class HTMLEmitter(Emitter):
    name = "html"
    help = "a static site that opens from the file system"
    default_out = "site"
    writes_folder = True
    keeps_heading_ids = True              # a page per post: the blog's `#小节` links work
    svg_embedding = "inline"
    math_choices = ("mathml", "svg")

    def write(self, collection: Collection, out: Path, options: BuildOptions, diagnostics: Diagnostics) -> Path:
        env = environment()
        font = math_font()
        mode = self.math_mode(options.math)
        if font is None and mode == "mathml":
            diagnostics.warning("no-math-font", "no font with OpenType math tables is installed (Debian: "
                                "fonts-lmodern); the MathML is drawn with the reader's own math fonts")
        texts = bodies(collection, MathHTML(mode=mode), page_link, heading_ids=self.keeps_heading_ids)
        broken = [(post, f) for post in collection.posts for f in post.formulas if rejected(f)]
        common = dict(collection=collection, author=AUTHOR, href=href, post_file=post_file,
                      series_file=series_file, broken=broken)
        with atomic_dir(out) as site:
            def page(path: str, template: str, **values: object) -> None:
                root = "../" * path.count("/")
                (site / path).parent.mkdir(parents=True, exist_ok=True)    # the whole site is swapped in at once
                (site / path).write_text(env.get_template(template).render(root=root, **common, **values),
                                         encoding="utf-8")

            page("index.html", "html/index.html", years=_by_year(collection.posts))
            for series in collection.series:
                page(series_file(series.name), "html/series.html", series=series)
            for post in collection.posts:
                previous, following = collection.neighbours(post)
                page(post_file(post), "html/post.html", post=post, series=collection.series_of(post),
                     previous=previous, following=following, body=Markup(texts.get(post.id, "")))
            page("errors.html", "html/errors.html", anchor=formula_anchor)
            assets = site / "assets"
            assets.mkdir()
            if font:
                shutil.copy(font, assets / font.name)
            (assets / "site.css").write_text(env.get_template("html/site.css").render(
                math_font=font.name if font else None), encoding="utf-8")
            shutil.copy(TEMPLATES / "math.css", assets / "math.css")
            (site / STAMP).write_text("written by `anthology build html`; a later build may replace this folder\n",
                                      encoding="utf-8")
        return out


EMITTER = HTMLEmitter()


def _by_year(posts: list[Post]) -> list[tuple[str, list[Post]]]:
    years: dict[str, list[Post]] = {}
    for post in sorted(posts, key=lambda p: (p.date or "", p.title), reverse=True):
        years.setdefault((post.date or "----")[:4], []).append(post)
    return list(years.items())
