"""Phase 4C: fix M008 primary violations (tables missing the family prefix)."""

import argparse

from google.cloud import bigquery


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()
    print(bigquery.Client().get_dataset(args.dataset).dataset_id)


if __name__ == "__main__":
    main()
