"""The HTML collection: a static site that opens from the file system, math without JavaScript.

    index.html              posts by date (newest first, by year) and the series with their parts
    series/NAME.html        one page per series, parts in order (kexue_anthology.formats.names.slugs names them)
    posts/ID.html           one page per post: title, date, readers, series navigation, the text
    errors.html             the formulas MathJax rejects, each linked to where it stands
    tags.html               the blog's tags with their posts (when the posts have tags)
    search.html             offline search (formats/html/search.py: assets/search-index.js, search.js);
                            the only page with a script
    images/                 the posts' figures, each named by its content (kexue_anthology.collection.figures)
    assets/                 site.css, math.css and, when installed, a math font (OpenType MATH)

Math is MathML (default) or inline SVG (`--math svg`), from the shared math layer.  Posts carry
contents, permalinks and earlier/later links (formats/html/navigation.py).

A rebuild takes each post's text from the cache when nothing it is made of changed
(kexue_anthology.collection.bodies) and writes only the files whose bytes changed (`write_tree`, the
others are hard-linked from the old site), into a new folder that replaces the old one whole:
the folder ends as a build from scratch into an empty one leaves it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import jinja2
from markupsafe import Markup

from kexue_anthology import TEMPLATES
from kexue_anthology.check.locate import fault
from kexue_anthology.collection.bodies import lazy_bodies
from kexue_anthology.collection.collection import Collection
from kexue_anthology.collection.figures import FigureStyle
from kexue_anthology.config.settings import Settings
from kexue_anthology.core.diagnostics import Diagnostics
from kexue_anthology.core.fileio import atomic_dir, holds
from kexue_anthology.core.locations import root_of, shown
from kexue_anthology.core.model import Formula, Post, rejected
from kexue_anthology.core.outputs import STAMP
from kexue_anthology.formats.base import Emitter
from kexue_anthology.formats.fonts import math_font
from kexue_anthology.formats.html.manifest import Manifest, page_key, templates_digest
from kexue_anthology.formats.html.navigation import by_date, by_tag, contents, post_permalinks
from kexue_anthology.formats.html.search import search_files
from kexue_anthology.formats.names import slug, slugs
from kexue_anthology.formats.templates import environment
from kexue_anthology.formulas.mathhtml import MathHTML, formula_anchor


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

    def write(self, collection: Collection, out: Path, options: Settings, diagnostics: Diagnostics) -> Path:
        env = _environment(options.cache_dir)
        font = math_font()
        mode = self.math_mode(options.math)
        if font is None and mode == "mathml":
            diagnostics.warning("no-math-font", "no font with OpenType math tables is installed (Debian: "
                                "fonts-lmodern); the MathML is drawn with the reader's own math fonts")
        texts = lazy_bodies(collection, MathHTML(mode=mode), page_link, heading_ids=self.keeps_heading_ids,
                            cache_dir=options.cache_dir, figures=FIGURES)
        broken = [(post, f) for post in collection.posts for f in post.formulas if rejected(f)]
        series_file = series_files(collection)
        tags = by_tag(collection.posts)
        common = dict(collection=collection, project=options.project, href=href, post_file=post_file,
                      series_file=series_file, broken=broken, tags=tags)
        files: dict[str, bytes] = {}
        manifest = Manifest(options.cache_dir, out)
        page_keys: dict[str, str] = {}
        kept: set[str] = set()

        def page(path: str, template: str, **values: object) -> None:
            root = "../" * path.count("/")
            files[path] = env.get_template(template).render(root=root, **common, **values).encode("utf-8")

        page("index.html", "html/index.html", years=_by_year(collection.posts))
        for series in collection.series:
            page(series_file(series.name), "html/series.html", series=series)
        dated = by_date(collection)
        site = [templates_digest(), collection.title, repr(options.project)]
        for post in collection.posts:
            path = post_file(post)
            part_of = collection.series_of(post)
            previous, following = collection.neighbours(post)
            earlier, later = dated[post.id]
            page_keys[path] = page_key(site, texts.fingerprint(post.id), post.id in collection.asts, post.id,
                                       post.title, post.date, post.readers, post.url,
                                       [(name, tags[name].anchor) for name in post.tags],
                                       part_of and (part_of.name, series_file(part_of.name)),
                                       [other and (other.title, post_file(other))
                                        for other in (previous, following, earlier, later)])
            if manifest.unchanged(out, path, page_keys[path]):
                kept.add(path)
                continue
            page(path, "html/post.html", post=post, series=part_of,
                 previous=previous, following=following, earlier=earlier, later=later,
                 contents=contents(collection.asts[post.id]) if post.id in collection.asts else [],
                 body=Markup(post_permalinks(collection, post, texts.get(post.id, ""))))
        if common["tags"]:
            page("tags.html", "html/tags.html")
        page("errors.html", "html/errors.html", anchor=formula_anchor,
             where=fault_places(collection.posts, options.project.path))
        page("search.html", "html/search.html")
        files.update(search_files(collection, texts, lambda post: href(post_file(post)), options.cache_dir,
                                  texts.fingerprint))
        files.update(figure_files(collection))
        if font:
            files[f"assets/{font.name}"] = font.read_bytes()
        files["assets/site.css"] = env.get_template("html/site.css").render(
            math_font=font.name if font else None).encode("utf-8")
        files["assets/math.css"] = (TEMPLATES / "math.css").read_bytes()
        files[STAMP] = b"written by `anthology build html`; a later build may replace this folder\n"
        write_tree(out, files, kept)
        manifest.save(out, page_keys)
        return out


EMITTER = HTMLEmitter()
FIGURES = FigureStyle("../images/", linked=True, lazy=True)      # from posts/ID.html


def figure_files(collection: Collection, folder: str = "images/") -> dict[str, bytes]:
    """Every figure found, once, under its content's name: a rebuild writes none that did not change."""
    return {folder + picture.file_name: picture.read()
            for found in collection.pictures.values() for picture in found.values()}


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


def write_tree(out: Path, files: dict[str, bytes], kept: set[str] | frozenset[str] = frozenset()) -> None:
    """The site `files` (path → bytes) at `out`, replaced whole: the new site is made beside
    the old one and exchanged with it in one step (fileio.atomic_dir), so that the folder holds
    the whole old site or the whole new one whenever the process dies; the live folder is never
    changed file by file.  A file of the old site whose bytes are the same is hard-linked into
    the new one (it keeps its inode and time); when nothing changed, nothing is written.  No
    symbolic link in the old site is followed: the new site is made fresh, without them.  An
    `out` that is itself a link to a folder (`--out` named so) is kept: the folder it names is
    replaced.  `kept`: files of the old site known to be as wanted (formats/html/manifest.py),
    whose bytes were not even made: they are linked (or copied) as they are."""
    if out.is_symlink() and out.is_dir():
        out = out.resolve()
    old = _old_files(out)
    kept = set(kept) - set(files)
    same = kept | {path for path, data in files.items()
                   if old.get(path) == "file" and holds(out / path, data, follow_links=False)}
    wanted = set(files) | kept
    wanted |= {parent.as_posix() for path in wanted for parent in Path(path).parents if parent != Path(".")}
    if len(same) == len(files) + len(kept) and set(old) == wanted:
        return
    with atomic_dir(out) as site:
        for path in [*files, *sorted(kept)]:
            (site / path).parent.mkdir(parents=True, exist_ok=True)
            if path not in same or not _link(out / path, site / path):
                (site / path).write_bytes(files[path] if path in files else (out / path).read_bytes())


def _old_files(out: Path) -> dict[str, str]:
    """What is below `out` (relative path → "file", "folder" or "other"), without following a
    symbolic link: the files below a linked folder are not there."""
    if out.is_symlink() or not out.is_dir():
        return {}
    found: dict[str, str] = {}
    for folder, dirs, names in os.walk(out):
        here = Path(folder)
        for path in (here / name for name in (*dirs, *names)):
            kind = "other" if path.is_symlink() else "folder" if path.is_dir() else \
                "file" if path.is_file() else "other"
            found[path.relative_to(out).as_posix()] = kind
    return found


def _link(source: Path, target: Path) -> bool:
    try:
        os.link(source, target, follow_symlinks=False)
        return True
    except OSError:                # a file system without hard links: the bytes are written
        return False


def fault_places(posts: list[Post], project_file: Path | None) -> Callable[[Post, Formula], str]:
    """`path:line:col` of a rejected formula's fault as `check` names it (core/locations.py, and
    check/locate.py for the place inside the formula); a file outside the repository is named
    relative to the posts' common folder, never by the build machine's absolute path."""
    paths = [p.path for p in posts]
    root, elsewhere = root_of(paths, project_file), source_names(paths)

    def where(post: Post, f: Formula) -> str:
        at = fault(f, post.body, f.message or "MathJax rejected this formula")[0]
        path = shown(at.path, root)
        return f"{elsewhere(at.path) if os.path.isabs(path) else path}:{at.line}:{at.col}"
    return where


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
