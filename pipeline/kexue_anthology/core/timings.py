"""Each stage's wall and processor time, for measuring (`make bench`, a profile by hand).

With the environment variable ANTHOLOGY_TIMINGS set, every stage that ends (kexue_anthology.stages)
adds one JSON line to the file it names, or to standard error when it is `-`:
{"stage": "render", "wall": 12.3, "cpu": 20.1, "children": 17.9, "pid": 4242, ...}.
`cpu` is user + system time of this process and of the children that ended during the stage
(the engine's workers and pandoc end inside the stage that starts them; `children` is their
part); a stage can add its own counts.  Unset, nothing is measured or written.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

VARIABLE = "ANTHOLOGY_TIMINGS"
_handed = 0.0       # processor seconds of children handed on to a later stage (`hand_on`), in all
_owed = 0.0         # of those, what the stage their process ends in has not yet taken off its own


def hand_on(seconds: float) -> None:
    """A child process that lives on into a later stage (validate's MathJax worker, which then
    draws) has used `seconds` so far: they count in the stage running now, and not in the one
    in which the process ends."""
    global _handed
    _handed += seconds


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


@contextmanager
def stage(name: str) -> Iterator[dict[str, Any]]:
    """Measure the block as stage `name`; yields a dict the stage may add counts to."""
    target = os.environ.get(VARIABLE)
    extra: dict[str, Any] = {}
    if not target:
        yield extra
        return
    global _owed
    wall, own, children = time.perf_counter(), _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
    handed = _handed
    yield extra
    ended = _cpu(resource.RUSAGE_CHILDREN) - children
    taken = min(_owed, ended)                 # children handed on earlier that ended in this stage
    _owed += _handed - handed - taken
    child = ended - taken + _handed - handed
    line = json.dumps({"stage": name, "wall": round(time.perf_counter() - wall, 3),
                       "cpu": round(_cpu(resource.RUSAGE_SELF) - own + child, 3), "children": round(child, 3),
                       "pid": os.getpid(), **extra}, ensure_ascii=False)
    if target == "-":
        print(f"timing: {line}", file=sys.stderr, flush=True)
        return
    try:
        with open(target, "a", encoding="utf-8") as f:
            f.write(line + "\n")
    except OSError as e:
        print(f"anthology: warning: {VARIABLE}: cannot write {target}: {e.strerror}", file=sys.stderr)
