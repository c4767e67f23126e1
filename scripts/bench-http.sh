#!/usr/bin/env bash
# HTTP benchmarks of throttlebench, all on 127.0.0.1:
#  1. client throughput at concurrency 64 (thread and async backends) against the built-in
#     server (no latency), paired with `wrk -t2 -c64` on the same server, alternating which goes
#     first, median of the pair ratios;
#  2. the capacity model: built-in server with capacity 8 and 20 ms per request, swept 1..32.
# Timed: each tool's own measured phase (wrk's Requests/sec, throttlebench's throughput_per_s).
# Fails (exit 1) if any throttlebench request failed or timed out, or wrk reports non-2xx/3xx
# responses or socket errors: a figure with errors in it would not be comparable.
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

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"

# Stops the script when any row of a run has a failed or timed-out request.
no_failed_items() {
    local bad
    bad=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        $col["failed"] + $col["timed_out"] > 0 || $col["ok"] != $col["items"] {
            print $col["backend"] " " $col["throttle"] }' "$1/results.csv")
    if [ -n "$bad" ]; then
        echo "throttlebench: failed or timed-out requests at: $bad" >&2
        head -5 "$1/failures.csv" >&2 || true
        exit 1
    fi
}

# The run_* functions are called as plain commands (not in a subshell) so that their `exit 1`
# ends the script; each prints its figures into a file.
run_wrk() { # out
    wrk -t2 -c64 -d"${secs}s" "$url" >"$1.wrk"
    if grep -E 'Non-2xx or 3xx responses|Socket errors' "$1.wrk" >&2; then
        echo "wrk: errors in the run (above)" >&2
        exit 1
    fi
    awk '/Requests\/sec/ {print $2}' "$1.wrk" >"$1"
}
run_ours() { # pair out
    local run="$work/run-$1"
    "$bin" run --kind http --param "url=$url" --backend thread,async --limits 64 \
        --duration "${secs}s" --warmup 64 --out "$run" -q
    no_failed_items "$run"
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        $col["backend"] == "thread" { t = $col["throughput_per_s"] }
        $col["backend"] == "async" { a = $col["throughput_per_s"] }
        END { print t, a }' "$run/results.csv" >"$2"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

echo "| pair | order | wrk -c64 (req/s) | thread x64 (req/s) | async x64 (req/s) | thread / wrk | async / wrk |"
echo "|---:|---|---:|---:|---:|---:|---:|"
thread_ratios=(); async_ratios=()
for i in $(seq "$pairs"); do
    if (( i % 2 )); then
        order="wrk first"; run_wrk "$work/wrk-$i"; run_ours "$i" "$work/ours-$i"
    else
        order="ours first"; run_ours "$i" "$work/ours-$i"; run_wrk "$work/wrk-$i"
    fi
    w=$(cat "$work/wrk-$i"); read -r t a <"$work/ours-$i"
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
no_failed_items "$work/capacity"
echo "| backend | throttle | throughput (req/s) | p50 (ms) | p99 (ms) |"
echo "|---|---:|---:|---:|---:|"
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    { printf "| %s | %s | %s | %s | %s |\n", $col["backend"], $col["throttle"],
        $col["throughput_per_s"], $col["lat_p50_ms"], $col["lat_p99_ms"] }' "$work/capacity/results.csv"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
