"""Phase 4C: rename COV tables to the M008 pattern cov_<variant>_<pair>."""

import argparse

from google.cloud import bigquery


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    client = bigquery.Client()
    for table in client.list_tables(args.dataset):
        new = table.table_id.lower()
        sql = f"ALTER TABLE `{args.dataset}.{table.table_id}` RENAME TO `{new}`"
        print(sql) if args.dry_run else client.query(sql).result()


if __name__ == "__main__":
    main()
