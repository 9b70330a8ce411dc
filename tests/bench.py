"""`make bench`: check throughput on ../shared/corpus against the raw engine, in one run.

    raw engine   the formulas of the corpus piped straight into the MathJax worker (node)
    cold check   `anthology check CORPUS` with an empty verdict cache (whole command)
    warm check   the same again, the corpus unchanged

Each is run three times and the best time is kept (shared, noisy machines).  Targets: the cold
check reaches at least 70% of the raw engine's formulas/s; a warm re-check takes under 2 s.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipeline.diagnostics import Diagnostics
from pipeline.extract import extract
from pipeline.mathjax.client import WORKER, node_program
from pipeline.read import read

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
REPEAT = 3


def best(fn, repeat=REPEAT) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> int:
    if not CORPUS.is_dir():
        print(f"bench: needs the corpus at {CORPUS}", file=sys.stderr)
        return 2
    d = Diagnostics()
    posts = extract(read([str(CORPUS)], d), d)
    formulas = sum(len(p.formulas) for p in posts)
    lines = "".join(json.dumps({"id": i, "post": p.id, "tex": f.tex, "display": f.display}, ensure_ascii=False) + "\n"
                    for i, (p, f) in enumerate((p, f) for p in posts for f in p.formulas))
    node = node_program()

    def raw():
        out = subprocess.run([node, str(WORKER)], input=lines, capture_output=True, text=True, check=True)
        assert out.stdout.count("\n") == formulas + 1

    command = [sys.executable, "-m", "pipeline", "check", str(CORPUS)]

    def check(cache: str):
        subprocess.run(command + ["--cache-dir", cache], capture_output=True, check=False)

    raw_s = best(raw)
    cold_times = []
    for _ in range(REPEAT):
        with tempfile.TemporaryDirectory() as cache:
            cold_times.append(best(lambda: check(cache), repeat=1))
    cold_s = min(cold_times)
    with tempfile.TemporaryDirectory() as cache:
        check(cache)
        warm_s = best(lambda: check(cache))

    print(f"corpus: {len(posts)} posts, {formulas} formulas")
    print(f"raw engine : {raw_s:6.2f} s  {formulas / raw_s:8.0f} formulas/s")
    print(f"cold check : {cold_s:6.2f} s  {formulas / cold_s:8.0f} formulas/s  "
          f"= {raw_s / cold_s:.0%} of the raw engine (target >= 70%)")
    print(f"warm check : {warm_s:6.2f} s  {formulas / warm_s:8.0f} formulas/s  (target < 2 s)")
    ok = raw_s / cold_s >= 0.7 and warm_s < 2
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
