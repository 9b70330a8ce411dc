"""The one place pandoc runs: an argument list, its output captured, its work bounded.

Every run gets a CPU-time limit (`RLIMIT_CPU`: CPU time, not wall time, so that a busy machine
makes pandoc slow but never makes it fail), a memory limit (pandoc's own `+RTS -M` heap limit
when the binary takes RTS options) and a generous wall-clock backstop.  A run that fails or runs out
of a limit raises `PandocError` for the caller to report on the post concerned; a pandoc that
cannot be run at all is a setup problem (`SetupError`, exit status 2).

pandoc's JSON is checked for its nesting depth by a linear scan before it is parsed: a
document nested deeper than `DEPTH_LIMIT` would make `json.loads` and every walker of the AST
recurse without bound, so it is refused (`too-deep`).  Real posts stay below 15 levels.
"""

from __future__ import annotations

import functools
import json
import re
import resource
import signal
import subprocess
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any

import pypandoc

from kexue_anthology.core import lifeline
from kexue_anthology.core.errors import SetupError

# One post's conversion may take this much; a conversion of many posts at once (the site's
# HTML, the EPUB) a little more for each further post.  The corpus's whole EPUB (131 posts)
# takes 6 s of CPU and peaks at 700 MB; its HTML 0.7 s.
CPU_SECONDS = 20
CPU_PER_POST = 1
HEAP_MB = 2048                 # pandoc's heap (+RTS -M)
HEAP_PER_POST_MB = 16
WALL_FACTOR = 10               # the wall-clock backstop, as a multiple of the CPU time
DEPTH_LIMIT = 150              # JSON nesting of a post's AST; the corpus's deepest is 14

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1


class PandocError(RuntimeError):
    """pandoc could not convert an input: it failed, ran out of a limit, or its answer was
    too deep or could not be read.  `code` is the diagnostic code to report it with."""

    def __init__(self, message: str, code: str = "document-failed") -> None:
        super().__init__(message)
        self.code = code


@functools.cache
def binary() -> str:
    """The pandoc program (pypandoc-binary ships one); SetupError when there is none."""
    try:
        return str(pypandoc.get_pandoc_path())
    except OSError as e:
        raise _setup_error(str(e)) from None


def _setup_error(reason: str) -> Exception:
    return SetupError(f"pandoc could not be run ({reason}): install it with `make setup` "
                      "(the Python package pypandoc-binary ships it)")


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int
    heap_mb: int

    @classmethod
    def of(cls, posts: int) -> Limits:
        more = max(posts - 1, 0)
        return cls(CPU_SECONDS + CPU_PER_POST * more, HEAP_MB + HEAP_PER_POST_MB * more)

    def rts(self) -> tuple[str, ...]:
        return ("+RTS", f"-M{self.heap_mb}m", "-RTS") if _takes_rts_options() else ()


@functools.cache
def _takes_rts_options() -> bool:
    """Whether this pandoc takes `+RTS -M…` (a build without -rtsopts refuses it and exits);
    without, only the CPU-time limit bounds it."""
    try:
        _spawn([binary(), "+RTS", f"-M{HEAP_MB}m", "-RTS", "--version"], None, None, None, Limits.of(1))
    except (subprocess.SubprocessError, OSError):
        return False
    return True


def run(args: list[str], text: str | None = None, *, cwd: Path | None = None,
        env: dict[str, str] | None = None, posts: int = 1) -> str:
    """pandoc with `args`, `text` on its standard input, within the limits of a conversion of
    `posts` posts; its standard output."""
    limits = Limits.of(posts)
    try:
        return _spawn([binary(), *limits.rts(), *args], text, cwd, env, limits)
    except subprocess.TimeoutExpired:
        raise PandocError(f"pandoc took more than {limits.cpu_seconds * WALL_FACTOR} s") from None
    except subprocess.CalledProcessError as e:
        raise PandocError(_failure(e, limits)) from None
    except (subprocess.SubprocessError, OSError) as e:
        raise PandocError(f"pandoc could not be started ({e})") from None


def _spawn(command: list[str], text: str | None, cwd: Path | None, env: dict[str, str] | None,
           limits: Limits) -> str:
    # The limits are set on the running child (prlimit), not in a preexec_fn, which is unsafe
    # while other threads run (the MathJax client's); pandoc's first milliseconds go unlimited.
    # tied: pandoc ends with the command, even when the command is killed (core/lifeline.py);
    # brief: started through setpriv, not Python (≈17 ms less per post in a cold document stage)
    with subprocess.Popen(lifeline.tied(command, brief=True),
                          stdin=subprocess.DEVNULL if text is None else subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, encoding="utf-8",
                          errors="replace", cwd=cwd, env=env) as process:
        _limit(process.pid, limits)
        try:
            out, err = process.communicate(text, timeout=limits.cpu_seconds * WALL_FACTOR)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise
        if process.returncode:
            raise subprocess.CalledProcessError(process.returncode, command, out, err)
        return out


def _limit(pid: int, limits: Limits) -> None:
    """pandoc's CPU time, and no core file.  Its memory is bounded by its own heap limit
    (`+RTS -M`): an address-space limit set once GHC's runtime has reserved its space would
    make every later allocation fail."""
    cpu = limits.cpu_seconds
    for kind, soft, hard in ((resource.RLIMIT_CPU, cpu, cpu + 5),     # SIGXCPU first, then SIGKILL
                             (resource.RLIMIT_CORE, 0, 0)):
        try:
            _, current = resource.prlimit(pid, kind)
            if current != resource.RLIM_INFINITY:
                soft, hard = min(soft, current), min(hard, current)
            resource.prlimit(pid, kind, (soft, hard))
        except (OSError, ValueError):     # the process is already gone: its answer tells
            pass


def _failure(e: subprocess.CalledProcessError, limits: Limits) -> str:
    stderr = (e.stderr or "").strip()
    if e.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        return f"pandoc used more than {limits.cpu_seconds} s of CPU time"
    if "Heap exhausted" in stderr or "out of memory" in stderr.lower():
        return f"pandoc needed more than {limits.heap_mb} MB of memory"
    last = stderr.splitlines()[-1][:300] if stderr else ""
    return f"pandoc failed (exit status {e.returncode}){': ' + last if last else ''}"


def json_depth(text: str) -> int:
    """How deeply a JSON text nests, in linear time and without recursion (strings, which
    may hold brackets, are left out first)."""
    brackets = _STRING.sub("", text).encode("utf-8")
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def to_ast(text: str, reader: str, args: list[str]) -> dict[str, Any]:
    """`text` read by pandoc's `reader`: its JSON AST, refused when it nests too deep."""
    out = run([f"--from={reader}", "--to=json", *args], text)
    depth = json_depth(out)
    if depth > DEPTH_LIMIT:
        raise PandocError(f"pandoc reads the text as nested {depth} levels deep (at most "
                          f"{DEPTH_LIMIT} are taken)", code="too-deep")
    try:
        ast: dict[str, Any] = json.loads(out)
    except ValueError as e:
        raise PandocError(f"pandoc's answer could not be read ({e})") from None
    return ast


def from_ast(ast: dict[str, Any], writer: str, args: list[str], posts: int = 1) -> str:
    """A JSON AST of `posts` posts written by pandoc's `writer`."""
    return run(["--from=json", f"--to={writer}", *args], json.dumps(ast), posts=posts)


@functools.cache
def version() -> str:
    """pandoc's version number, e.g. `3.9`."""
    return run(["--version"]).split()[1]


@functools.cache
def api_version() -> list[int]:
    """The pandoc-types version of this pandoc's JSON, for documents built without it."""
    numbers: list[int] = to_ast("", "markdown", [])["pandoc-api-version"]
    return numbers
