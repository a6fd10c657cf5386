"""Profile one suite run under cProfile (the controller process), for the benchmarks' findings.

`python -m bench.profile [--size large] [-- pytest args]` writes bench/out/profile-<size>.prof
and prints the functions with the most cumulative time inside our own code and in total.
"""

from __future__ import annotations

import argparse
import pstats
import sys
from pathlib import Path

from bench.harness import OUT, Session, run_suite


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size", default="large")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--filter", default="", help="regex: only functions whose location matches")
    parser.add_argument("pytest_args", nargs="*")
    args = parser.parse_args()
    prof = OUT / f"profile-{args.size}.prof"
    # The session's backend is warmed like the benchmarks' (the stand-in's own SQL done once).
    with Session() as session:
        made, be = session.backend(args.size)
        run = run_suite(made, be, args.pytest_args, label="profile", extra_env={"BENCH_CPROFILE": str(prof)})
    print(f"wall {run.wall:.2f} s, exit {run.returncode}; startup {run.startup_seconds:.2f} s, "
          f"checks {run.checks_seconds:.2f} s, reports {run.reports_seconds:.2f} s")  # fmt: skip
    if not Path(prof).exists():
        print(run.tail, file=sys.stderr)
        raise SystemExit(1)
    stats = pstats.Stats(str(prof))
    stats.sort_stats("cumulative")
    if args.filter:
        stats.print_stats(args.filter, args.top)
    else:
        stats.print_stats(args.top)


if __name__ == "__main__":
    main()
