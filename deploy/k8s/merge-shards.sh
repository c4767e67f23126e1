#!/usr/bin/env bash
# Waits for every shard of shards-job.yaml, collects their results lines from the pods' logs
# and merges them into one run folder (throttlebench must be on PATH here).
# Usage: deploy/k8s/merge-shards.sh OUT_DIR [TIMEOUT]
set -euo pipefail
out=${1:?usage: merge-shards.sh OUT_DIR [TIMEOUT]}
timeout=${2:-30m}
kubectl wait --for=condition=complete job/throttlebench-shards --timeout="$timeout"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
kubectl logs --selector=job-name=throttlebench-shards --tail=-1 --prefix=false \
    --max-log-requests=64 >"$log"
throttlebench merge "$log" --out "$out"
