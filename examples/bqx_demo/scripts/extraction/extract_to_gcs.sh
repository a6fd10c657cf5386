#!/usr/bin/env bash
# Extract feature tables to GCS checkpoints, one folder per pair.
set -euo pipefail
WORKERS=4
while [ $# -gt 0 ]; do
  case "$1" in
    --workers) WORKERS="$2"; shift 2 ;;
    --bucket) BUCKET="$2"; shift 2 ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
done
bq ls --max_results=10000 bqx_ml_v3_features | xargs -P "$WORKERS" -I{} \
  bq extract --destination_format=PARQUET "bqx_ml_v3_features.{}" "gs://${BUCKET}/checkpoints/{}/*.parquet"
