"""Generate COV (covariance) feature tables for every currency pair."""

import argparse
from concurrent.futures import ThreadPoolExecutor

from google.cloud import bigquery


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--pairs", nargs="*", default=[])
    args = parser.parse_args()
    client = bigquery.Client()
    with ThreadPoolExecutor(args.workers) as pool:
        list(pool.map(lambda p: client.query(f"SELECT '{p}'"), args.pairs))


if __name__ == "__main__":
    main()
