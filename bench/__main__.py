"""python -m bench [NAME ...] [--json PATH] [--records N] [--runs R] [--batch-size B]

soak only: [--minutes M] [--rate R] [--mix ratings|mixed] [--hall pads|demo]
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import platform
import sys
from pathlib import Path

from bench.common import Options, Row

# name -> module with run(Options) -> list[Row]; imported only when selected.
REGISTRY: dict[str, str] = {
    "append": "bench.append",
    "drain": "bench.drain",
    "ingest": "bench.ingest",
    "paced": "bench.paced",  # CPU per message at a paced 2,000 msg/s vs at saturation
    "devices": "bench.devices",
    "ratings": "bench.ratings",
    "sim": "bench.sim",  # simulated devices one simulator process sustains at nominal rates
    "commands": "bench.commands",  # unlock latency, API call to confirmed, 20 at once
    "counters": "bench.counters",  # 1,000 Modbus people counters at 1 s: CPU and sample age
    "workers": "bench.workers",  # ingest with 2 worker processes against the gateway alone
    "screens": "bench.screens",  # the wall screen of a 500-device hall: cold load to first data drawn
    "soak": "bench.soak",  # RSS and CPU per minute at a fixed rate for --minutes, and their slopes
    "queue": "bench.queue",  # 100,000 queue visits: projection rate, ingest through the broker, a month's summary
    "reports": "bench.reports",  # a month's operations report of 100,000 visits on 30 windows: built and written
    "district_view": "bench.district_view",  # hallgate district over 366 sites' month: ranking, figures, pages
    "district": "bench.district",  # 366 sites via vmauth into one victoria-metrics: CPU, RSS, exact counts
    "district_forwarder": "bench.district_forwarder",  # a real gateway forwarding, 3 levels
}
DEFAULT = ["append", "drain"]
RESULTS = Path(__file__).parent / "results"


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.2f}"


def print_table(rows: list[Row]) -> None:
    header = ("metric", "median", "unit", "target", "baseline", "baseline median", "ratio", "runs")
    body = [
        (
            r.metric,
            _fmt(r.median),
            r.unit,
            r.target,
            r.baseline_name,
            _fmt(r.baseline_median),
            "-" if r.ratio is None else f"{r.ratio:.2f}",
            " ".join(_fmt(x) for x in r.runs),
        )
        for r in rows
    ]
    widths = [max(len(str(c)) for c in col) for col in zip(header, *body, strict=True)]
    for line in (header, *body):
        print("  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench")
    ap.add_argument(
        "names", nargs="*", help=f"benchmarks to run (default: {' '.join(DEFAULT)}; all: {' '.join(REGISTRY)})"
    )
    ap.add_argument("--json", type=Path, help="write results here (default: bench/results/<time>.json)")
    ap.add_argument("--records", type=int, help="size (default: each benchmark's own: ingest 100,000, drain 1,000,000)")
    ap.add_argument("--runs", type=int, default=Options.runs)
    ap.add_argument("--batch-size", type=int, default=Options.batch_size)
    ap.add_argument("--minutes", type=float, default=Options.minutes, help="soak: how long")
    ap.add_argument("--rate", type=float, default=Options.rate, help="soak: msg/s")
    ap.add_argument("--mix", choices=("ratings", "mixed"), default=Options.mix, help="soak: what is sent")
    ap.add_argument(
        "--hall", choices=("pads", "demo"), default=Options.hall, help="soak: 8 rating pads or the demo hall"
    )
    args = ap.parse_args(argv)
    names = args.names or DEFAULT
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        ap.error(f"unknown benchmark(s) {unknown}; known: {sorted(REGISTRY)}")
    opts = Options(
        records=args.records,
        runs=args.runs,
        batch_size=args.batch_size,
        minutes=args.minutes,
        rate=args.rate,
        mix=args.mix,
        hall=args.hall,
    )
    rows: list[Row] = []
    failed: dict[str, str] = {}
    for name in names:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        try:
            rows += importlib.import_module(REGISTRY[name]).run(opts)
        except NotImplementedError as e:
            failed[name] = f"not implemented: {e}"
    print_table(rows)
    for name, why in failed.items():
        print(f"{name}: {why}")
    out = args.json or RESULTS / f"{datetime.datetime.now():%Y%m%dT%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "when": datetime.datetime.now().isoformat(timespec="seconds"),
        "argv": sys.argv,
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
        "options": vars(opts),
        "results": [r.as_dict() for r in rows],
        "not_run": failed,
    }
    out.write_text(json.dumps(doc, indent=2))
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
