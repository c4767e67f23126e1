#!/usr/bin/env bash
# Starts the sharded run of shards-job.yaml against TARGET_URL, START_IN seconds from now
# (default 60: time for the pods to be scheduled and pull the image before the first window).
# Usage: deploy/k8s/run-shards.sh http://service.namespace:8080/ [START_IN]
set -euo pipefail
here=$(dirname "$0")
target=${1:?usage: run-shards.sh TARGET_URL [START_IN_SECONDS]}
start_in=${2:-60}
start_at=$(date -u -d "+${start_in} sec" +%Y-%m-%dT%H:%M:%SZ)
kubectl delete job throttlebench-shards --ignore-not-found
kubectl create configmap throttlebench-schedule \
    --from-literal=start-at="$start_at" --from-literal=target-url="$target" \
    --dry-run=client -o yaml | kubectl apply -f -
kubectl apply -f "$here/shards-job.yaml"
echo "shards start at $start_at; then: deploy/k8s/merge-shards.sh OUT_DIR"
