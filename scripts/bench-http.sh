#!/usr/bin/env bash
# HTTP benchmarks of throttlebench, all on 127.0.0.1:
#  1. client throughput at concurrency 64 (thread and async backends) against the built-in
#     server (no latency), paired with `wrk -t2 -c64` on the same server, alternating which goes
#     first, median of the pair ratios;
#  2. the capacity model: built-in server with capacity 8 and 20 ms per request, swept 1..32.
# Usage: scripts/bench-http.sh [PAIRS=5] [SECONDS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=${1:-5}
secs=${2:-5}

if ! command -v wrk >/dev/null; then
    echo "installing wrk (apt-get)" >&2
    apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
cargo build --release -q
bin=target/release/throttlebench
work=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

"$bin" serve --addr 127.0.0.1:0 --latency-ms 0 >"$work/serve.out" &
server_pid=$!
for _ in $(seq 50); do grep -q listening "$work/serve.out" && break; sleep 0.1; done
url=$(grep -o 'http://[^ ]*' "$work/serve.out")
echo "server: $url"

run_wrk() {
    wrk -t2 -c64 -d"${secs}s" "$url" | awk '/Requests\/sec/ {print $2}'
}
run_ours() {
    local out="$work/run-$1"
    "$bin" run --kind http --param "url=$url" --backend thread,async --limits 64 \
        --duration "${secs}s" --warmup 64 --out "$out" -q
    awk -F, '$2 == "thread" {t = $10} $2 == "async" {a = $10} END {print t, a}' "$out/results.csv"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

echo "| pair | order | wrk -c64 (req/s) | thread x64 (req/s) | async x64 (req/s) | thread / wrk | async / wrk |"
echo "|---:|---|---:|---:|---:|---:|---:|"
thread_ratios=(); async_ratios=()
for i in $(seq "$pairs"); do
    if (( i % 2 )); then
        order="wrk first"; w=$(run_wrk); read -r t a < <(run_ours "$i")
    else
        order="ours first"; read -r t a < <(run_ours "$i"); w=$(run_wrk)
    fi
    rt=$(ratio "$t" "$w"); ra=$(ratio "$a" "$w")
    thread_ratios+=("$rt"); async_ratios+=("$ra")
    echo "| $i | $order | $w | $t | $a | $rt | $ra |"
done
echo
echo "median ratio to wrk: thread $(median "${thread_ratios[@]}"), async $(median "${async_ratios[@]}")"
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=

echo
echo "capacity 8, 20 ms per request (built-in server started by the run):"
"$bin" run workloads/http-local.toml --out "$work/capacity" -q
echo "| backend | throttle | throughput (req/s) | p50 (ms) | p99 (ms) |"
echo "|---|---:|---:|---:|---:|"
awk -F, 'NR > 1 {printf "| %s | %s | %s | %s | %s |\n", $2, $3, $10, $14, $16}' "$work/capacity/results.csv"
