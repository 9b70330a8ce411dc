"""The HTML collection: a static site that opens from the file system, math without JavaScript.

    index.html              posts by date (newest first, by year) and the series with their parts
    series/NAME.html        one page per series, parts in order (pipeline.emit.common.slugs names them)
    posts/ID.html           one page per post: title, date, readers, series navigation, the text
    errors.html             the formulas MathJax rejects, each linked to where it stands
    tags.html               the blog's tags with their posts (when the posts have tags)
    search.html             offline search (pipeline/emit/search.py: assets/search-index.js, search.js);
                            the only page with a script
    assets/                 site.css, math.css and, when installed, a math font (OpenType MATH)

Math is MathML (default) or inline SVG (`--math svg`), from the shared math layer.  Posts carry
contents, permalinks and earlier/later links (pipeline/emit/navigation.py).

A rebuild takes each post's text from the cache when nothing it is made of changed
(pipeline.assemble.bodies) and writes only the files whose bytes changed (`write_tree`): the
folder ends as a build from scratch into an empty one leaves it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import jinja2
from markupsafe import Markup

from pipeline.assemble import Collection, bodies
from pipeline.diagnostics import Diagnostics
from pipeline.emit.base import Emitter
from pipeline.emit.common import TEMPLATES, BuildOptions, environment, math_font, slug, slugs
from pipeline.emit.navigation import by_date, by_tag, contents, post_permalinks
from pipeline.emit.search import search_files
from pipeline.fileio import atomic_dir, atomic_write_bytes
from pipeline.mathhtml import MathHTML, formula_anchor
from pipeline.model import Post, rejected
from pipeline.outputs import STAMP


def post_file(post: Post) -> str:
    return f"posts/{slug(post.id)}.html"


def series_files(collection: Collection) -> Callable[[str], str]:
    """Each series' page, named once for the whole collection: no two series share one."""
    names = slugs(series.name for series in collection.series)
    return lambda name: f"series/{names[name]}.html"


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
        env = _environment(options.cache_dir)
        font = math_font()
        mode = self.math_mode(options.math)
        if font is None and mode == "mathml":
            diagnostics.warning("no-math-font", "no font with OpenType math tables is installed (Debian: "
                                "fonts-lmodern); the MathML is drawn with the reader's own math fonts")
        texts = bodies(collection, MathHTML(mode=mode), page_link, heading_ids=self.keeps_heading_ids,
                       cache_dir=options.cache_dir)
        broken = [(post, f) for post in collection.posts for f in post.formulas if rejected(f)]
        series_file = series_files(collection)
        common = dict(collection=collection, project=options.project, href=href, post_file=post_file,
                      series_file=series_file, broken=broken, tags=by_tag(collection.posts))
        files: dict[str, bytes] = {}

        def page(path: str, template: str, **values: object) -> None:
            root = "../" * path.count("/")
            files[path] = env.get_template(template).render(root=root, **common, **values).encode("utf-8")

        page("index.html", "html/index.html", years=_by_year(collection.posts))
        for series in collection.series:
            page(series_file(series.name), "html/series.html", series=series)
        dated = by_date(collection)
        for post in collection.posts:
            previous, following = collection.neighbours(post)
            earlier, later = dated[post.id]
            page(post_file(post), "html/post.html", post=post, series=collection.series_of(post),
                 previous=previous, following=following, earlier=earlier, later=later,
                 contents=contents(collection.asts[post.id]) if post.id in collection.asts else [],
                 body=Markup(post_permalinks(collection, post, texts.get(post.id, ""))))
        if common["tags"]:
            page("tags.html", "html/tags.html")
        page("errors.html", "html/errors.html", anchor=formula_anchor,
             source=source_names([p.path for p in collection.posts]))
        page("search.html", "html/search.html")
        files.update(search_files(collection, texts, lambda post: href(post_file(post)), options.cache_dir))
        if font:
            files[f"assets/{font.name}"] = font.read_bytes()
        files["assets/site.css"] = env.get_template("html/site.css").render(
            math_font=font.name if font else None).encode("utf-8")
        files["assets/math.css"] = (TEMPLATES / "math.css").read_bytes()
        files[STAMP] = b"written by `anthology build html`; a later build may replace this folder\n"
        write_tree(out, files)
        return out


EMITTER = HTMLEmitter()


def _environment(cache_dir: Path | None) -> jinja2.Environment:
    """The templates' environment; with a cache folder the compiled templates are kept there
    (jinja's bytecode cache, checked against each template's source)."""
    env = environment()
    if cache_dir:
        folder = cache_dir / "templates"
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:            # a cache that cannot be written only costs time
            return env
        env.bytecode_cache = jinja2.FileSystemBytecodeCache(str(folder))
    return env


def write_tree(out: Path, files: dict[str, bytes]) -> None:
    """The site `files` (path → bytes) at `out`.  A site an earlier build wrote (it has the
    stamp) is brought up to date in place: a file whose bytes changed is replaced (atomically),
    one that did not is left untouched, and files and folders the site no longer has are
    removed, so the folder ends as a build into an empty one would leave it.  Anything else
    is built beside it and swapped in whole."""
    if (out / STAMP).is_file():
        try:
            for path, data in files.items():
                if not _holds(out / path, data):
                    atomic_write_bytes(out / path, data)
            _prune(out, set(files))
            return
        except OSError:            # a folder where a file goes, or the like: the whole site anew
            pass
    with atomic_dir(out) as site:
        for path, data in files.items():
            (site / path).parent.mkdir(parents=True, exist_ok=True)
            (site / path).write_bytes(data)


def _holds(path: Path, data: bytes) -> bool:
    try:
        return not path.is_symlink() and path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def _prune(out: Path, keep: set[str]) -> None:
    """Remove what is below `out` and not in `keep` (paths relative to it), deepest first."""
    for folder, dirs, names in os.walk(out, topdown=False):
        here = Path(folder)
        for name in names:
            if (here / name).relative_to(out).as_posix() not in keep:
                (here / name).unlink()
        for name in dirs:
            sub = here / name
            if sub.is_symlink():
                sub.unlink()
            elif not any(sub.iterdir()):
                sub.rmdir()


def source_names(sources: list[str]) -> Callable[[str], str]:
    """A source's name as the reader knows it: relative to the content folder (the common
    parent of the `sources`), never the build machine's absolute path."""
    folders = [os.path.dirname(os.path.abspath(path)) for path in sources]
    try:
        base = os.path.commonpath(folders) if folders else os.getcwd()
    except ValueError:                    # sources on different drives
        base = ""

    def name(path: str) -> str:
        full = os.path.abspath(path)
        try:
            inside = bool(base) and os.path.commonpath([base, full]) == base
        except ValueError:
            inside = False
        return Path(os.path.relpath(full, base) if inside else os.path.basename(full)).as_posix()
    return name


def _by_year(posts: list[Post]) -> list[tuple[str, list[Post]]]:
    years: dict[str, list[Post]] = {}
    for post in sorted(posts, key=lambda p: (p.date or "", p.title), reverse=True):
        years.setdefault((post.date or "----")[:4], []).append(post)
    return list(years.items())
