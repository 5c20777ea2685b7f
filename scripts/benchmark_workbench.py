#!/usr/bin/env python3
"""How long the workbench takes to answer one re-evaluation, for every bundled case (a benchmark, not a test).

The app runs under uvicorn on a free loopback port (the same way the browser test runs it); each request is
what the page sends when the case text changes or the price slider moves: POST /api/evaluate, answered with
the full re-evaluation through durable_rules, the break-even prices, the pricing panel and the HTML report.
An edit changes the text each time; a slider move keeps it (the break-even prices of the text are kept).
Times are wall-clock at the client, HTTP included, and the CPU time of the process (server thread and client
together), which tells the work from waiting on a machine other processes share.

    python scripts/benchmark_workbench.py [--repeat 30] [--as-of 2024-06-01]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import statistics
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _tools():
    spec = importlib.util.spec_from_file_location("workbench_browser", Path(__file__).with_name("workbench_browser.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=30, help="requests per case and kind (after 3 warm-ups)")
    parser.add_argument("--as-of", default=None, help="also judge under this date (adds the revision panel)")
    args = parser.parse_args(argv)

    from engine.frontends.web import create_app

    base, stop = _tools().start_server(create_app())
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only, never a proxy

    def post(body: dict) -> tuple[float, float]:
        request = urllib.request.Request(base + "/api/evaluate", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        start, cpu = time.perf_counter(), time.process_time()
        with opener.open(request, timeout=30) as response:
            answer = json.loads(response.read())
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        if not answer.get("ok"):
            raise SystemExit(f"{body['filename']}: {answer['problems']}")
        return elapsed * 1000, cpu * 1000

    print(f"Python {platform.python_version()}, {platform.machine()}, {args.repeat} requests per row (ms)")
    print(f"{'case':<38} {'kind':<18} {'median':>7} {'p95':>7} {'max':>7} {'cpu med':>8}")
    everything: list[float] = []
    cpus: list[float] = []
    by_kind: dict[str, list[tuple[float, float, float]]] = {}
    try:
        for path in sorted((ROOT / "cases").glob("*.yaml")):
            text = path.read_text(encoding="utf-8")
            # an edit changes the text (so nothing kept for the previous text applies); a slider move does not
            kinds = {"case edited": [{"text": f"{text}# edit {i}\n"} for i in range(args.repeat + 3)]}
            if "stage: filing" not in text:
                kinds["slider moved"] = [{"price": f"{60 + i / 100:.2f}"} for i in range(args.repeat)]
            if args.as_of:
                kinds[f"as of {args.as_of}"] = [{"as_of": args.as_of}]
            for kind, variants in kinds.items():
                bodies = [{"text": text, "filename": path.name, **variants[i % len(variants)]}
                          for i in range(args.repeat + 3)]
                for body in bodies[:3]:  # warm-up
                    post(body)
                measured = [post(body) for body in bodies[3:]]
                times = sorted(wall for wall, _ in measured)
                cpu = statistics.median(c for _, c in measured)
                everything += times
                cpus += [c for _, c in measured]
                p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
                print(f"{path.stem:<38} {kind:<18} {statistics.median(times):7.1f} {p95:7.1f} {times[-1]:7.1f} "
                      f"{cpu:8.1f}")
                by_kind.setdefault(kind.split(" 2")[0], []).append((statistics.median(times), p95, cpu))
    finally:
        stop()
    everything.sort()
    print(f"{'all':<38} {'':<18} {statistics.median(everything):7.1f} "
          f"{everything[int(len(everything) * 0.95)]:7.1f} {everything[-1]:7.1f} {statistics.median(cpus):8.1f}")
    print(f"\n{'over the cases':<38} {'kind':<18} {'median':>13} {'p95':>13} {'cpu med':>13}")
    for kind, rows in by_kind.items():
        ranges = ["{:.0f}–{:.0f}".format(min(r[i] for r in rows), max(r[i] for r in rows)) for i in range(3)]
        print(f"{'':<38} {kind:<18} {ranges[0]:>13} {ranges[1]:>13} {ranges[2]:>13}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
