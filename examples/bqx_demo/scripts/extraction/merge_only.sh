#!/usr/bin/env bash
# Merge extracted checkpoints into the training table (merge step only).
set -euo pipefail
DATASET="${1:-bqx_ml_v3_training}"
gsutil ls "gs://bqx-ml-v3-checkpoints/checkpoints/" > /tmp/parts.txt
python3 -c "print(open('/tmp/parts.txt').read().count('\n'), 'parts')"
bq query --use_legacy_sql=false "SELECT COUNT(*) FROM \`${DATASET}.training\`"
