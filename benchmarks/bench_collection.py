"""A big collection for `make bench`: every post available, copied under distinct ids.

The seeds (`sample`, listing pages) and `../shared/corpus` (scraped Markdown and plain
text) give about 160 posts; `make_collection` copies all of them `k` times into a folder so that
the whole-blog figures (≈600 posts) can be measured.  Copy 0 is the files as they are; copy c > 0
rewrites, in every file, what the readers take a post's identity from:

- ids: every `…/archives/N` (heading, citation address, links between posts) and `kexuefm-N`
  (citation) become N + c·ID_SHIFT, so the links of a copy stay inside that copy; a front
  matter `id:` gets the copy as a suffix;
- titles: prefixed with `副本c·` wherever a reader takes the title from (the `# [title](…)`
  heading, the citation's `title={…}`, a listing page's title line, front matter `title:`),
  since posts are merged by title and series are named by it (`名字（一）：…`): each copy's
  posts stay apart from the other copies', and so do its series and their parts.

`edited` appends a paragraph with a new formula to one post's article and restores the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kexue_anthology.read import frontmatter, listing, plaintext, scraped
from kexue_anthology.read.listing import BY_LINE
from kexue_anthology.read.scraped import END_MARKERS, HEADING

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "pipeline" / "kexue_anthology" / "sample"
CORPUS = ROOT.parent / "shared" / "corpus"
ID_SHIFT = 1_000_000                                  # above any archive id of the blog (≈11,000)
ARCHIVE_ID = re.compile(r"(?<=/archives/)\d{1,9}(?!\d)|(?<=kexuefm-)\d{1,9}(?!\d)")
CITATION_TITLE = re.compile(r"@online\{kexuefm-\d{1,15},\s{0,40}title=\{")
FRONT_MATTER = re.compile(r"\A---[ \t]*\n(?P<yaml>.*?\n)?---[ \t]*(\n|\Z)", re.S)
FRONT_FIELD = re.compile(r"^(?P<key>title|series|id)(?P<sep>:[ \t]*)(?P<quote>[\"']?)(?P<value>[^\n]*)$", re.M)
SKIPPED = ("README", "LICENSE", "LICENCE")


def sources() -> list[Path]:
    """The folders of posts there are: the seeds, and the corpus when it is beside the checkout."""
    return [SEEDS] + ([CORPUS] if CORPUS.is_dir() else [])


def prefix(copy: int) -> str:
    return f"副本{copy}·"


def shifted(number: str, copy: int) -> str:
    return str(int(number) + copy * ID_SHIFT)


def copied_text(text: str, copy: int) -> str:
    """`text` (one file of posts) as copy number `copy`: other ids, other titles, the rest as it is.
    The form is told as the readers tell it (`kexue_anthology.read.READERS`, in their order)."""
    if copy == 0:
        return text
    text = ARCHIVE_ID.sub(lambda m: shifted(m.group(), copy), text)
    if frontmatter.detect(text):
        return _front_matter(text, copy)
    if scraped.detect(text) or plaintext.detect(text):
        at = [m.start("title") for m in HEADING.finditer(text)] + [m.end() for m in CITATION_TITLE.finditer(text)]
        for i in sorted(at, reverse=True):
            i += len(text[i:i + 40]) - len(text[i:i + 40].lstrip())      # the readers strip titles
            text = text[:i] + prefix(copy) + text[i:]
        return text
    return _listing_titles(text, copy) if listing.detect(text) else text


def _front_matter(text: str, copy: int) -> str:
    head = FRONT_MATTER.match(text)
    assert head is not None

    def field(m: re.Match[str]) -> str:
        value = m.group("value")
        if m.group("key") == "id":
            bare = value.strip().strip("\"'")
            value = value.replace(bare, shifted(bare, copy) if bare.isdigit() else f"{bare}-c{copy}", 1)
        else:
            value = prefix(copy) + value
        return m.group("key") + m.group("sep") + m.group("quote") + value

    return FRONT_FIELD.sub(field, text[:head.end()]) + text[head.end():]


def _listing_titles(text: str, copy: int) -> str:
    """Each title of a listing page prefixed: the line before a `By … | 引用` line, or the text glued
    after the `引用` of the By line before it (a post with no excerpt)."""
    lines = text.split("\n")
    by = [i for i, line in enumerate(lines) if BY_LINE.match(line)]
    for k, i in enumerate(by):
        if i == 0:
            continue
        line = lines[i - 1]
        glued = BY_LINE.match(line) if k > 0 and by[k - 1] == i - 1 else None
        start = glued.end() if glued else 0
        start += len(line[start:]) - len(line[start:].lstrip())
        lines[i - 1] = line[:start] + prefix(copy) + line[start:]
    return "\n".join(lines)


def post_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")
                  and not p.name.upper().startswith(SKIPPED))


def make_collection(dest: Path, copies: int, folders: list[Path] | None = None) -> Path:
    """`copies` copies of every post of `folders` (default: `sources()`) below `dest`, one folder
    per copy and source; a file named by its archive id is renamed with the id."""
    for copy in range(copies):
        for folder in folders or sources():
            for path in post_files(folder):
                rel = path.relative_to(folder)
                name = shifted(rel.stem, copy) + rel.suffix if rel.stem.isdigit() else rel.name
                target = dest / f"copy{copy}" / folder.name / rel.parent / name
                target.parent.mkdir(parents=True, exist_ok=True)
                text = path.read_bytes().decode("utf-8")
                target.write_text(copied_text(text, copy), encoding="utf-8", newline="")
    return dest


def copies_for(posts: int, target: int) -> int:
    """How many copies of `posts` posts come nearest to `target` posts (at least one)."""
    return max(1, round(target / posts))


def added_paragraph(n: int) -> str:
    """A paragraph with a formula no post has, the same in every form (no backslash, no Markdown escape)."""
    return f"\n\n基准测试追加的第{n}段，带一个新公式：$$x^{{2}}+y^{{2}}={n + 2}^{{2}}$$ 到此为止。\n\n"


def insert_point(text: str) -> int:
    """Where the article of a scraped or plain-text post ends (before the line of the first of the
    page's end markers after its heading), else the end of the file."""
    h = HEADING.search(text)
    start = h.end() if h else 0
    found = [i for i in (text.find(m, start) for m in END_MARKERS) if i >= 0]
    return text.rfind("\n", start, min(found)) + 1 if found else len(text)


@contextmanager
def edited(path: Path, n: int) -> Iterator[None]:
    """`path` with `added_paragraph(n)` at the end of its article while the block runs; its bytes
    are restored after."""
    original = path.read_bytes()
    text = original.decode("utf-8")
    at = insert_point(text)
    path.write_text(text[:at] + added_paragraph(n) + text[at:], encoding="utf-8", newline="")
    try:
        yield
    finally:
        path.write_bytes(original)
