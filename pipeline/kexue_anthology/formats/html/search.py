"""The site's offline search: an index written as a script (`assets/search-index.js`) that
search.html loads with a <script src> — a page opened from file:// may not fetch JSON, but it
may run a script beside it (mdBook's way) — and the page's own script (`assets/search.js`).

The index holds, per post, its title (math as plain text), date, series, tags, address relative
to the site root and its text: the page's words with inline formulas as their TeX and display
formulas dropped (they are long and hardly searched by word), no HTML.  Beside the posts stands
an inverted index of terms — every CJK character bigram (a lone CJK character is its own term)
and every lowercased Latin word or number — each with the posts that hold it, so the page
narrows a query to the posts that can hold it before it looks for the exact words in their text.
No segmenter is needed at build time: bigrams find any word a segmenter would, and more.  The
browser looks for each CJK run of the query as written, and cuts one found nowhere into words
with Intl.Segmenter (or into the same bigrams without it).

Same posts in, same bytes out: posts in the collection's order, terms sorted.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from html import unescape
from operator import sub
from pathlib import Path
from typing import Any

from kexue_anthology import TEMPLATES
from kexue_anthology.collection.collection import Collection
from kexue_anthology.core.cache import BlobCache, Cache, key
from kexue_anthology.core.model import Post
from kexue_anthology.formulas.formula_text import alt_text, plain_title

INDEX_FILE = "assets/search-index.js"
SCRIPT_FILE = "assets/search.js"

# CJK ideographs (the unified blocks and their extensions in the BMP, compatibility ideographs);
# search.js uses the same classes, so a query is cut as the text was.
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_BIGRAMS = re.compile(f"(?=([{_CJK}]{{2}}))")                   # overlapping: 最小熵 → 最小, 小熵
_LONE = re.compile(f"(?<![{_CJK}])[{_CJK}](?![{_CJK}])")
_LATIN = re.compile("[0-9a-z\u00c0-\u024f\u0370-\u03ff]+")

_BLOCK_TAG = re.compile(r"</?(?:p|div|li|ul|ol|blockquote|pre|h[1-6]|tr|td|th|table|br|hr|dt|dd|figure|"
                        r"figcaption|section)\b[^>]*>", re.I)
_ANY_TAG = re.compile(r"<[^>]*>")
_SPAN = re.compile(r"<(/?)span\b[^>]*>")
# A formula (its MathML or SVG, equation numbers) and a web image's stand-in (its address): not words.
_NOT_WORDS = re.compile(r'<span class="(?:(math [^"]*)"(?: data-formula="(\d+)")?|image-placeholder")[^>]*>')


def terms(text: str) -> set[str]:
    """The index terms of `text`: its CJK character bigrams, each CJK character that stands
    alone, and its Latin words and numbers, lowercased (regular expressions, so that the whole
    blog is cut in well under a second)."""
    low = text.lower()
    return set(_BIGRAMS.findall(low)) | set(_LONE.findall(low)) | set(_LATIN.findall(low))


def _words(html: str) -> str:
    return unescape(_ANY_TAG.sub("", _BLOCK_TAG.sub(" ", html)))


_PLAIN: dict[bytes, str] = {}     # a rebuild in the same process (serve) reads each page once


def index_text(html: str, post: Post) -> str:
    """The text of a post's rendered body (markup the site's own, kexue_anthology.formulas.safemarkup): a
    formula becomes its TeX (inline) or nothing (display), blocks are parted by a space,
    whitespace is collapsed.  Regular expressions, not an HTML parser: the pages are ours, and
    a parser takes seconds over the MathML of the whole blog."""
    key = hashlib.sha256(html.encode() + b"\0" + post.id.encode()).digest()
    if key in _PLAIN:
        return _PLAIN[key]
    parts: list[str] = []
    at = 0
    while (found := _NOT_WORDS.search(html, at)) is not None:
        parts.append(_words(html[at:found.start()]))
        depth, at = 1, len(html)
        for tag in _SPAN.finditer(html, found.end()):
            depth += -1 if tag.group(1) else 1
            if not depth:
                at = tag.end()
                break
        classes, number = (found.group(1) or "").split(), found.group(2)
        formula = post.formulas[int(number)] if number and int(number) < len(post.formulas) else None
        parts.append(f" {alt_text(formula.tex)} " if formula and "inline" in classes else " ")
    parts.append(_words(html[at:]))
    if len(_PLAIN) > 4096:
        _PLAIN.clear()
    _PLAIN[key] = text = " ".join("".join(parts).split())
    return text


def build_index(collection: Collection, texts: Mapping[str, str], url: Callable[[Post], str],
                cache: Cache | None = None, fingerprint: Callable[[str], str] | None = None) -> dict[str, Any]:
    """The index as data: `docs`, one list [title, date, series, tags, url, text] per post in
    the collection's order, and `terms`, sorted, each with the numbers of the posts that hold
    it (in its title, series, tags or text), ascending.  With a `cache` each post's entry and
    terms are kept under a key over all they are made of (`_post_key`), so that a rebuild after
    one post's edit cuts that post's text only; `fingerprint(id)`, when given, stands for the
    post's text in that key (a digest the text is made from: the text is then read only when
    its entry is not in the cache)."""
    docs: list[list[object]] = []
    postings: defaultdict[str, list[int]] = defaultdict(list)
    for number, post in enumerate(collection.posts):
        doc, held = _entry(post, texts, url, cache, _post_key(post, texts, url, fingerprint))
        docs.append(doc)
        for term in held:
            postings[term].append(number)
    return {"docs": docs, "terms": dict(sorted(postings.items()))}


def _entry(post: Post, texts: Mapping[str, str], url: Callable[[Post], str], cache: Cache | None,
           k: str) -> tuple[list[object], list[str]]:
    """A post's entry in the index and its terms, sorted: from the `cache` under `k`, else made (and kept)."""
    found = cache.get(k) if cache else None
    if isinstance(found, list) and len(found) == 2:
        return found[0], found[1]
    title = plain_title(post.title)
    text = index_text(texts.get(post.id, ""), post)
    doc: list[object] = [title, post.date or "", post.series or "", list(post.tags), url(post), text]
    held = sorted(terms(" ".join([title, post.series or "", " ".join(post.tags), text])))
    if cache:
        cache.put(k, [doc, held])
    return doc, held


def _post_key(post: Post, texts: Mapping[str, str], url: Callable[[Post], str],
              fingerprint: Callable[[str], str] | None = None) -> str:
    """What a post's entry in the index is made of: its id, title, date, series, tags, address,
    formulas and page text (or the text's `fingerprint`), and this module's version."""
    return key("search-post", INDEX_VERSION, post.id, post.title, post.date, post.series, post.tags, url(post),
               [f.tex for f in post.formulas], _text_digest(post, texts, fingerprint))


def _text_digest(post: Post, texts: Mapping[str, str], fingerprint: Callable[[str], str] | None) -> str:
    if fingerprint is not None and post.id in texts:
        return "key " + fingerprint(post.id)
    return hashlib.sha256(texts.get(post.id, "").encode()).hexdigest()


def index_script(index: dict[str, Any]) -> bytes:
    """The index as a script that sets `window.KX_SEARCH` to {docs, terms}: `docs` as JSON in a
    string given to JSON.parse, `terms` as one string of lines `\nTERM D,D,…` (sorted; the
    posts as differences, 3, 7, 8 → 3, 4, 1, in base 36) that the page searches with indexOf.
    Both are string literals because a browser reads a long string far faster than it parses
    the same data written as JavaScript objects and arrays."""
    return _script(*_parts(index))


def _parts(index: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """What `_script` writes the index from: each post's entry as JSON, each term's posts as written."""
    digits = [_base36(n) for n in range(len(index["docs"]) + 1)]      # every difference there can be
    return ([_doc_json(doc) for doc in index["docs"]],
            {term: _posting(numbers, digits.__getitem__) for term, numbers in index["terms"].items()})


def _posting(numbers: list[int], digit: Callable[[int], str] | None = None) -> str:
    """A term's posts (ascending numbers) as the index writes them: differences in base 36
    (`digit`: `_base36`, or a table of it)."""
    return ",".join(map(digit or _base36, map(sub, numbers, [0, *numbers[:-1]])))


def _doc_json(doc: list[object]) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def _script(docs: list[str], postings: Mapping[str, str]) -> bytes:
    """`index_script` from its parts: each post's entry as JSON, each term's posts as written (sorted by term)."""
    lines = "".join(f"\n{term} {posts}" for term, posts in postings.items())
    return ("/* kexue-anthology search index: written by `anthology build html` */\n"
            f"window.KX_SEARCH={{docs:JSON.parse({_js_string('[' + ','.join(docs) + ']')}),"
            f"terms:{_js_string(lines + chr(10))}}};\n").encode()


def _js_string(text: str) -> str:
    """`text` as a JavaScript string literal (JSON's, with U+2028/2029 escaped for older engines)."""
    return json.dumps(text, ensure_ascii=False).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, d = divmod(n, 36)
        out = digits[d] + out
        if not n:
            return out


INDEX_VERSION = "1"     # of the index's form: bump on a change to this module


def search_files(collection: Collection, texts: Mapping[str, str], url: Callable[[Post], str],
                 cache_dir: Path | None = None, fingerprint: Callable[[str], str] | None = None) -> dict[str, bytes]:
    """The files search adds to the site (path → bytes): the index and the search page's script.
    With a cache folder, an index is made again only when a post's page text, title, date,
    series, tags, address or formulas changed (a rebuild with nothing changed reads it back).
    `fingerprint`: see `build_index`."""
    digest = hashlib.sha256(INDEX_VERSION.encode())
    for post in collection.posts:
        digest.update(json.dumps([post.id, post.title, post.date, post.series, post.tags, url(post),
                                  [f.tex for f in post.formulas]], ensure_ascii=False).encode())
        digest.update(_text_digest(post, texts, fingerprint).encode())
    cache = BlobCache(cache_dir, "search")
    index = cache.get_bytes(digest.hexdigest())
    if index is None:
        index = _index_again(collection, texts, url, cache_dir, fingerprint)
        cache.put_bytes(digest.hexdigest(), index)
    return {INDEX_FILE: index,
            SCRIPT_FILE: (TEMPLATES / "html" / "search.js").read_bytes()}


def _index_again(collection: Collection, texts: Mapping[str, str], url: Callable[[Post], str],
                 cache_dir: Path | None, fingerprint: Callable[[str], str] | None) -> bytes:
    """The index script, made from the last index of the same posts (its parts: each post's
    `_post_key`, entry as JSON and each term's posts as written, one cache entry) with the
    entries of the posts whose key changed patched in, so that a rebuild after an edit costs
    what the edit changed; made whole (`build_index`) when there is no such index or when many
    posts changed.  The same bytes either way (`_script`)."""
    entries = Cache(cache_dir, "search-posts")
    kept = Cache(cache_dir, "search-parts")
    posts = collection.posts
    where = key("search-parts", INDEX_VERSION, [post.id for post in posts])
    keys = [_post_key(post, texts, url, fingerprint) for post in posts]
    parts = kept.get(where)
    patched = _patch(parts, keys, posts, texts, url, entries) if parts is not None else None
    if patched is None:
        docs, postings = _parts(build_index(collection, texts, url, entries, fingerprint))
        patched = {"keys": keys, "docs": docs, "terms": postings}
    script = _script(patched["docs"], patched["terms"])
    kept.put(where, patched)
    return script


def _patch(parts: Any, keys: list[str], posts: list[Post], texts: Mapping[str, str], url: Callable[[Post], str],
           entries: Cache) -> dict[str, Any] | None:
    """The kept `parts` with the changed posts' entries and terms in their place, or None when
    they cannot be had that way (damaged, of other posts, a changed post's old entry gone, many changed)."""
    if not (isinstance(parts, dict) and set(parts) == {"keys", "docs", "terms"} and isinstance(parts["keys"], list)
            and len(parts["keys"]) == len(keys) == len(parts["docs"]) and isinstance(parts["terms"], dict)
            and all(isinstance(doc, str) for doc in parts["docs"])
            and all(isinstance(posts, str) for posts in parts["terms"].values())):
        return None
    changed = [n for n, (was, now) in enumerate(zip(parts["keys"], keys, strict=True)) if was != now]
    if len(changed) > max(8, len(keys) // 8):
        return None
    terms_of: dict[str, str] = parts["terms"]
    added = False
    for n in changed:
        old = entries.get(parts["keys"][n])
        if not (isinstance(old, list) and len(old) == 2 and isinstance(old[1], list)):
            return None
        doc, held = _entry(posts[n], texts, url, entries, keys[n])
        parts["docs"][n] = _doc_json(doc)
        was, now = set(old[1]), set(held)
        for term in was ^ now:
            try:
                numbers = _numbers(terms_of.get(term, ""))
            except ValueError:
                return None
            numbers = sorted(set(numbers) - {n}) if term in was else sorted({*numbers, n})
            added |= term not in terms_of
            if numbers:
                terms_of[term] = _posting(numbers)
            else:
                del terms_of[term]
        parts["keys"][n] = keys[n]
    if added:
        parts["terms"] = dict(sorted(terms_of.items()))
    return parts


def _numbers(written: str) -> list[int]:
    """A term's posts as `index_script` writes them (differences in base 36), as numbers."""
    numbers, at = [], 0
    for step in written.split(",") if written else ():
        at += int(step, 36)
        numbers.append(at)
    return numbers
