#!/usr/bin/env bash
# Entry point of the Cloud Run job: fetch the pipeline repository, run the suite (the CMD), then
# copy the reports to the bucket in $READINESS_REPORTS_BUCKET. The suite's exit status is the job's.
set -uo pipefail
cd /suite
if [[ -n "${PIPELINE_REPO_URL:-}" ]]; then
    git clone --quiet --depth 1 --branch "${PIPELINE_REF:-main}" "${PIPELINE_REPO_URL}" ../bqx-ml-v3 || exit 2
fi
history=()
if [[ -n "${READINESS_HISTORY:-}" ]]; then
    history=(--history "${READINESS_HISTORY}")
fi
"$@" "${history[@]}"
status=$?
if [[ -n "${READINESS_REPORTS_BUCKET:-}" ]]; then
    gcloud storage cp --recursive /tmp/reports "gs://${READINESS_REPORTS_BUCKET}/$(date -u +%Y%m%dT%H%M%S)/" || true
fi
exit "${status}"
