"""Report which feature families exist for which pairs."""

import argparse
import json

from google.cloud import bigquery


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="bqx_ml_v3_features")
    args = parser.parse_args()
    rows = bigquery.Client().query(
        f"SELECT table_name FROM `{args.dataset}.INFORMATION_SCHEMA.TABLES`"
    ).result()
    print(json.dumps(sorted(r.table_name for r in rows)))


if __name__ == "__main__":
    main()
