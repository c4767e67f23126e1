#!/usr/bin/env bash
# Sharded runs against a single run, all on 127.0.0.1: the built-in server (capacity 8, 20 ms
# per request) swept at throttles 1..16 by one process, and by N shard processes on one shared
# schedule (`--start-at`) whose folders `merge` adds up. Per round and N (2 and 4), alternating
# which goes first: at every throttle, the merged goodput over the single run's, and whether the
# merged counts are the exact sums of the shards' (items, ok, and the histogram's count).
# Fails (exit 1) on a failed request, a count that does not add up, or an overrun window.
# Usage: scripts/bench-shards.sh [ROUNDS=3] [SECONDS=2] [SHARDS="2 4"]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
secs=${2:-2}
shard_counts=${3:-"2 4"}
limits=1,2,4,8,16

cargo build --release -q
bin=target/release/throttlebench
work=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

"$bin" serve --addr 127.0.0.1:0 --capacity 8 --latency-ms 20 >"$work/serve.out" &
server_pid=$!
for _ in $(seq 50); do grep -q listening "$work/serve.out" && break; sleep 0.1; done
url=$(grep -o 'http://[^ ]*' "$work/serve.out")
echo "server: $url (capacity 8, 20 ms); load average at start: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"

common=(run --kind http --param "url=$url" --backend thread --limits "$limits" --duration "${secs}s" --quiet)

single() { "$bin" "${common[@]}" --out "$1"; }

sharded() { # DIR N
    local dir=$1 n=$2 k pids=()
    local start
    start=$(date -u -d '+3 sec' +%Y-%m-%dT%H:%M:%S.%3NZ)
    for k in $(seq "$n"); do
        "$bin" "${common[@]}" --start-at "$start" --gap 1s --shard "$k/$n" --out "$dir/$k" &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; done
    "$bin" merge $(for k in $(seq "$n"); do echo "$dir/$k"; done) --out "$dir/merged" >/dev/null
}

# One line per throttle: N round throttle single merged ratio exact
judge() { # SINGLE_DIR SHARDS_DIR N ROUND
    python3 - "$@" <<'PY'
import json, sys, pathlib
single_dir, shards_dir, n, rnd = sys.argv[1], pathlib.Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
load = lambda p: json.load(open(pathlib.Path(p) / "results.json"))
def points(run):
    return {p["throttle"]: p for p in run["points"] if p["backend"] == "thread"}
single = points(load(single_dir))
merged_run = load(shards_dir / "merged")
merged = points(merged_run)
parts = [points(load(shards_dir / str(k))) for k in range(1, n + 1)]
bad = False
for t in sorted(single):
    s, m = single[t], merged[t]
    exact = all(m[c] == sum(p[t][c] for p in parts) for c in ("items", "ok", "failed", "timed_out"))
    exact = exact and sum(p[t].get("slots", 0) for p in parts) == t
    overran = any(p[t].get("overran") for p in parts)
    failed = s["failed"] + s["timed_out"] + m["failed"] + m["timed_out"]
    ratio = m["goodput_per_s"] / s["goodput_per_s"]
    print(f"{n} {rnd} {t} {s['goodput_per_s']:.1f} {m['goodput_per_s']:.1f} {ratio:.4f} "
          f"{'exact' if exact else 'NOT-EXACT'}{' OVERRAN' if overran else ''}")
    bad |= (not exact) or overran or failed > 0
sys.exit(1 if bad else 0)
PY
}

results=$work/results.txt
for round in $(seq "$rounds"); do
    for n in $shard_counts; do
        dir=$work/r$round-n$n
        mkdir -p "$dir"
        if [ $(((round + n / 2) % 2)) -eq 0 ]; then
            single "$dir/single"; sharded "$dir/shards" "$n"
        else
            sharded "$dir/shards" "$n"; single "$dir/single"
        fi
        judge "$dir/single" "$dir/shards" "$n" "$round" | tee -a "$results"
    done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "merged goodput / single goodput, median and range over $rounds rounds:"
python3 - "$results" <<'PY'
import sys, statistics, collections
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    n, _, t, s, m, ratio, exact = line.split()[:7]
    rows[(int(n), int(t))].append((float(s), float(m), float(ratio)))
print("| shards | throttle | single (ok/s) | merged (ok/s) | merged/single median | range |")
print("|---|---|---|---|---|---|")
for (n, t), v in sorted(rows.items()):
    r = [x[2] for x in v]
    print(f"| {n} | {t} | {statistics.median(x[0] for x in v):.1f} | {statistics.median(x[1] for x in v):.1f} "
          f"| {statistics.median(r):.3f} | {min(r):.3f}–{max(r):.3f} |")
PY
