"""`python -m bench.tracemalloc_run --out DIR [--every S] -- ARGS`: `hallgate ARGS` under tracemalloc.

Every S seconds a snapshot; DIR/growth-NNN.txt gets the 40 source lines whose allocations grew
most since the first snapshot taken after the first interval (the start-up's own allocations are
in that one), with 12 frames for the top 10. DIR/top-NNN.txt: the largest holders now. For
`BENCH_TRACEMALLOC=DIR python -m bench soak` (bench/soak.py): what grows per message.
"""

from __future__ import annotations

import argparse
import sys
import threading
import tracemalloc
from pathlib import Path

from gateway.cli import main

FILTERS = [
    tracemalloc.Filter(False, tracemalloc.__file__),
    tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
    tracemalloc.Filter(False, "<frozen importlib._bootstrap_external>"),
]


def _loop(out: Path, every: float) -> None:
    base: tracemalloc.Snapshot | None = None
    n = 0
    while True:
        threading.Event().wait(every)
        n += 1
        snap = tracemalloc.take_snapshot().filter_traces(FILTERS)
        current, peak = tracemalloc.get_traced_memory()
        lines = [f"traced {current / 2**20:.1f} MiB (peak {peak / 2**20:.1f} MiB)"]
        lines += [str(s) for s in snap.statistics("lineno")[:40]]
        (out / f"top-{n:03d}.txt").write_text("\n".join(lines) + "\n")
        if base is None:
            base = snap
            continue
        diff = snap.compare_to(base, "lineno")
        text = [f"traced {current / 2**20:.1f} MiB; growth since snapshot 1:"] + [str(d) for d in diff[:40]]
        for d in snap.compare_to(base, "traceback")[:10]:
            text += ["", f"{d.size_diff / 1024:+.1f} KiB, {d.count_diff:+d} blocks", *d.traceback.format()]
        (out / f"growth-{n:03d}.txt").write_text("\n".join(text) + "\n")


def run() -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.tracemalloc_run")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--every", type=float, default=60.0)
    ap.add_argument("args", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    tracemalloc.start(12)
    threading.Thread(target=_loop, args=(a.out, a.every), daemon=True).start()
    return main([x for x in a.args if x != "--"])


if __name__ == "__main__":
    sys.exit(run())
