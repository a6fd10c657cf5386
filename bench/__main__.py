"""`python -m bench`: every benchmark, one table of figures, bench/out/results.json.

Options: --only 1,2,... to run some benchmarks; --full-naive to run the naive per-table loop
in full (12+ minutes) instead of timing a sample of it; --instructions to count the results
plugin's overhead in instructions under callgrind (five more minutes; the figure that decides
benchmark 3, since CPU time on a shared machine spreads too widely to).
"""

from __future__ import annotations

import argparse
import time

from bench import api_requests, growth, memory, nightly, plugin_overhead, xdist_speedup
from bench.harness import LATENCY, OUT, Figure, Session, print_figures, write_results

BENCHMARKS = {
    "1": lambda s, a: api_requests.run(s, full_naive=a.full_naive),
    "2": lambda s, a: nightly.run(s),
    "3": lambda s, a: plugin_overhead.run(s) + (plugin_overhead.run_instructions() if a.instructions else []),
    "4": lambda s, a: xdist_speedup.run(s),
    "5": lambda s, a: memory.run(s),
    "6": lambda s, a: growth.run(s),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--only", default=",".join(BENCHMARKS))
    parser.add_argument("--full-naive", action="store_true")
    parser.add_argument("--instructions", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    figures: list[Figure] = []
    print(f"bench: stand-in latency {LATENCY * 1000:.0f} ms per request", flush=True)
    with Session() as session:
        for key in args.only.split(","):
            print(f"benchmark {key} ...", flush=True)
            figures += BENCHMARKS[key.strip()](session, args)
        print()
        print_figures(figures)
        write_results(OUT / "results.json", figures, session.details)
    print(f"\n{sum(f.passed is True for f in figures)} pass, {sum(f.passed is False for f in figures)} miss; "
          f"results in {OUT / 'results.json'} ({time.perf_counter() - started:.0f} s)")  # fmt: skip


if __name__ == "__main__":
    main()
