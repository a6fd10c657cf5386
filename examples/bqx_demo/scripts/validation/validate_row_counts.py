"""Phase 4C: validate row counts and schemas before and after the renames."""

import argparse

from google.cloud import bigquery


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True)
    args = parser.parse_args()
    client = bigquery.Client()
    for table in client.list_tables(args.dataset)
        print(table.table_id, client.get_table(table).num_rows)


if __name__ == "__main__":
    main()
