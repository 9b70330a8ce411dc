"""Naming the fix: the known name nearest to an undefined macro or an unknown environment.

The names are MathJax's own, as the worker sets MathJax up for the blog (TeX.Definitions'
macros, mathchar0mi, mathchar0mo, mathchar7 and delimiter tables and its environments, with
AMSmath, AMSsymbols, extpfeil and the blog's configuration): asked of the worker once and
cached under the engine's fingerprint, so they change exactly when the engine does.  The
`\\newcommand`, `\\def`, `\\let`, `\\DeclareMathOperator` and `\\newenvironment` names a post
defines up to the formula are added to them.

A name is suggested only when it is close: at most one edit (a letter added, dropped,
changed, or two neighbours swapped) for a name of up to five letters, two for a longer one.
Short names are crowded: one or two letters get no suggestion (`\\R` is no misspelt `\\S`),
and three only for a letter added, dropped or swapped, not changed (`\\mat`, a scrape's
remains of `\\mathbb`, is no misspelt `\\max`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path

from kexue_anthology.core.cache import Cache, key

UNDEFINED = re.compile(r"Undefined control sequence \\([A-Za-z]+)$")
UNKNOWN_ENV = re.compile(r"Unknown environment '([^']*)'$")
_DEFINED_MACRO = re.compile(r"\\(?:(?:re)?newcommand|DeclareMathOperator)\*?\s*\{?\s*\\([A-Za-z]+)"
                            r"|\\(?:def|let)\s*\\([A-Za-z]+)")
_DEFINED_ENV = re.compile(r"\\(?:re)?newenvironment\s*\{([A-Za-z]+\*?)\}")
SHORTEST = 3          # letters; shorter names get no suggestion
SHORT = 3             # letters; a name this short gets none for a changed letter
INDEXED = 64          # names; a larger set (the engine's) is searched through its deletions index
LONGEST = 60


Rank = tuple[int, bool, int, float, str]   # how near a candidate is: the least is the nearest


@dataclass(frozen=True)
class KnownNames:
    """Control sequences (without their backslash) and environments a post starts with."""
    macros: frozenset[str] = frozenset()
    environments: frozenset[str] = frozenset()


def known_names(cache_dir: Path | None, engine: str, ask: Callable[[], dict[str, list[str]]]) -> KnownNames:
    """The engine's names: from the cache (by the engine's fingerprint), else from `ask` (a
    worker's `names`), then cached."""
    cache = Cache(cache_dir, "names")
    k = key("names", engine)
    got = cache.get(k)
    if not (isinstance(got, dict) and all(isinstance(got.get(kind), list) for kind in ("macros", "environments"))):
        got = ask()
        if got.get("macros"):
            cache.put(k, got)
    return KnownNames(frozenset(str(n) for n in got.get("macros") or []),
                      frozenset(str(n) for n in got.get("environments") or []))


def needs_names(message: str | None) -> bool:
    """Whether a formula's error message is one a suggestion is made for."""
    return bool(message and (UNDEFINED.search(message) or UNKNOWN_ENV.search(message)))


class Suggestions:
    """Suggestions for the formulas of one post, in page order: `see` each formula's TeX for
    the names it defines, then ask `hint` about its error.  What the engine's names give for a
    name is worked out once per run (`memo`), whatever the post or the formula."""

    def __init__(self, names: KnownNames, memo: dict[tuple[str, str], Rank | None] | None = None) -> None:
        self.names = names
        self.memo = {} if memo is None else memo
        self.macros = _Index()           # what the post defines, so far
        self.environments = _Index()

    def see(self, tex: str) -> None:
        for a, b in _DEFINED_MACRO.findall(tex):
            self.macros.add(a or b)
        for name in _DEFINED_ENV.findall(tex):
            self.environments.add(name)

    def hint(self, message: str) -> str | None:
        """"did you mean \\frac?" for MathJax's message about an undefined `\\frca`, or None."""
        if m := UNDEFINED.search(message):
            best = self._nearest("macros", m.group(1), self.names.macros, self.macros)
            return f"did you mean \\{best}?" if best else None
        if m := UNKNOWN_ENV.search(message):
            best = self._nearest("environments", m.group(1), self.names.environments, self.environments)
            return f"did you mean {best}?" if best else None
        return None

    def _nearest(self, kind: str, name: str, known: frozenset[str], defined: _Index) -> str | None:
        if (kind, name) not in self.memo:
            self.memo[kind, name] = _best(name, known)
        ranks = [r for r in (self.memo[kind, name], _best(name, defined)) if r is not None]
        return min(ranks)[-1] if ranks else None


def hint(message: str, names: KnownNames, earlier: Iterable[str] = ()) -> str | None:
    """`Suggestions.hint` for one formula; `earlier`: the TeX of the post's formulas up to and
    including it, for the names they define."""
    suggestions = Suggestions(names)
    for tex in earlier:
        suggestions.see(tex)
    return suggestions.hint(message)


def nearest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to `name`, or None when none is close enough (see the module's
    doc).  Ties go to a candidate differing only in case, then to the longer shared start,
    then to difflib's likeness, then to the alphabet."""
    best = _best(name, candidates)
    return best[-1] if best else None


def _best(name: str, candidates: Iterable[str] | _Index) -> Rank | None:
    letters = len(name.rstrip("*"))
    if not SHORTEST <= letters <= LONGEST:
        return None
    limit = 1 if letters <= 5 else 2
    if isinstance(candidates, frozenset) and len(candidates) > INDEXED:
        candidates = _index_of(candidates)
    if isinstance(candidates, _Index):
        candidates = candidates.near(name, limit)
    best: Rank | None = None
    for candidate in candidates:
        if candidate == name or abs(len(candidate) - len(name)) > limit:
            continue
        d = distance(name, candidate, limit)
        if d > limit or (letters <= SHORT and len(candidate) == len(name) and sorted(candidate) != sorted(name)):
            continue
        rank = (d, candidate.lower() != name.lower(), -_shared_start(name, candidate),
                -SequenceMatcher(None, name, candidate).ratio(), candidate)
        if best is None or rank < best:
            best = rank
    return best


def _deletions(word: str, depth: int) -> set[str]:
    """`word` with up to `depth` letters left out, anywhere."""
    found, last = {word}, {word}
    for _ in range(depth):
        last = {w[:i] + w[i + 1:] for w in last for i in range(len(w))}
        found |= last
    return found


class _Index:
    """Names filed under each of their deletions of up to two letters.  Two names within two
    edits (a swap counting one) share a deletion of at most two letters each, so a name's own
    deletions find all its near names without measuring the distance to every name."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        self.by_deletion: dict[str, set[str]] = {}
        for name in names:
            self.add(name)

    def add(self, name: str) -> None:
        if len(name) <= LONGEST + 2:          # a longer one is no nearer than two edits to any name asked
            for variant in _deletions(name, 2):
                self.by_deletion.setdefault(variant, set()).add(name)

    def near(self, name: str, limit: int) -> set[str]:
        """Names that may be within `limit` (at most 2) edits of `name`, and some that are not."""
        return {c for variant in _deletions(name, limit) for c in self.by_deletion.get(variant, ())}


@functools.lru_cache(maxsize=4)
def _index_of(names: frozenset[str]) -> _Index:
    return _Index(names)


def distance(a: str, b: str, limit: int) -> int:
    """Edits from `a` to `b` (insert, delete, substitute, swap two neighbours: optimal string
    alignment), or `limit + 1` as soon as it is sure to be more than `limit`."""
    before: list[int] | None = None
    row = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            current[j] = min(row[j] + 1, current[j - 1] + 1, row[j - 1] + cost)
            if before is not None and i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], before[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        before, row = row, current
    return row[-1]


def _shared_start(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
