#!/usr/bin/env bash
# The open loop's benchmarks, on 127.0.0.1 against the built-in server:
#
#  oha       throttlebench --rates against oha (-q RATE --latency-correction), the same server
#            (1 ms per request) and the same rates, in pairs that alternate which tool goes
#            first. Per tool and rate: median and range over the pairs of the achieved rate and
#            of p99 — ours twice, from the intended start and from the send, because oha's clock
#            starts when its scheduler hands the request on (see the note it prints); per pair,
#            the highest rate each sustained (achieved >= 99% of offered, p99 <= the SLO), then
#            their median.
#  accuracy  the generator itself: offered rates against `serve --latency-ms 0`, per backend,
#            the achieved rate (goodput / offered) and the scheduling lag (intended -> actual
#            start: p50, p99, max, from results.json).
#
# Usage: scripts/bench-openloop.sh oha [PAIRS=5] [SECONDS=5] [RATES="1000 2000 4000 8000 16000"] [SLO_MS=10]
#        scripts/bench-openloop.sh accuracy [SECONDS=5] [RATES="1000 10000 20000"] [BACKENDS="thread async"]
# TB=path/to/throttlebench skips the release build (for a quick check of the script itself).
# Needs oha (cargo install oha) for the first. Measure on a quiet machine: client and server
# share the cores, so only the pairs' comparison means anything on a busy one.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
case "$mode" in
oha | accuracy) shift ;;
*)
    echo "usage: $0 oha|accuracy [...] (see the head of this script)" >&2
    exit 2
    ;;
esac
if [ -z "${TB:-}" ]; then
    cargo build --release -q
    TB=target/release/throttlebench
fi
OHA=${OHA:-$(command -v oha || echo "$HOME/.cargo/bin/oha")}
work=$(mktemp -d)
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# The machine's CPU counters (/proc/stat): "busy steal total" in ticks. On a virtual machine
# "steal" is time the host gave this guest's cores to someone else: a run taken while the host
# steals a large share is as disturbed as one taken beside a build, yet the load average does
# not show it, so the script reports it.
cpu_ticks() {
    awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat
}
steal_since() { # "busy steal total" from cpu_ticks
    read -r _ s0 t0 <<<"$1"
    read -r _ s1 t1 < <(cpu_ticks)
    python3 -c "import sys; s, t = int(sys.argv[1]), int(sys.argv[2]); print(f'{100 * s / max(t, 1):.0f} %')" \
        $((s1 - s0)) $((t1 - t0))
}
ticks_at_start=$(cpu_ticks)

start_server() { # latency-ms
    "$TB" serve --addr 127.0.0.1:0 --latency-ms "$1" >"$work/serve.out" &
    server_pid=$!
    for _ in $(seq 50); do grep -q listening "$work/serve.out" && break; sleep 0.1; done
    url=$(grep -o 'http://[^ ]*' "$work/serve.out")
    echo "server: $url ($1 ms per request)"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
}

# One open-loop point of ours: prints "achieved_per_s p99_ms lag_p50 lag_p99 lag_max svc_p99_ms"
# (p99 from the intended start, then the lag, then p99 from the actual send).
ours() { # rate seconds backend out
    "$TB" run --kind http --param "url=$url" --rates "$1" --duration "$2s" --backend "$3" \
        --max-inflight 64 --quiet --out "$4" >/dev/null
    python3 - "$4/results.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))["open_loop"][0]
if p["failed"] + p["timed_out"] > 0:
    sys.exit(f"throttlebench: {p['failed'] + p['timed_out']} failed requests at {p['offered_per_s']}/s")
lag = p.get("lag") or {"p50_ms": float("nan"), "p99_ms": float("nan"), "max_ms": float("nan")}
print(p["goodput_per_s"], p["lat_p99_ms"], lag["p50_ms"], lag["p99_ms"], lag["max_ms"], p["svc_p99_ms"])
PY
}

# One oha run at the same rate: prints "achieved_per_s p99_ms".
theirs() { # rate seconds out
    "$OHA" -q "$1" --latency-correction -z "$2s" -c 64 --no-tui --output-format json "$url" >"$3"
    python3 - "$3" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
ok = d["statusCodeDistribution"].get("200", 0)
bad = sum(v for k, v in d["statusCodeDistribution"].items() if k != "200")
# oha counts the requests cut at the deadline as errors; any other error spoils the figure.
errors = {k: v for k, v in d["errorDistribution"].items() if "deadline" not in k}
if bad or errors:
    sys.exit(f"oha: non-200 answers or errors: {d['statusCodeDistribution']} {errors}")
print(ok / d["summary"]["total"], d["latencyPercentiles"]["p99"] * 1000)
PY
}

summarise() { # file of "tool rate pair achieved p99" lines, slo_ms
    python3 - "$1" "$2" <<'PY'
import statistics, sys
from collections import defaultdict
slo = float(sys.argv[2])
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
by = defaultdict(list)
best = defaultdict(dict)
for tool, rate, pair, achieved, p99 in rows:
    rate, achieved, p99 = float(rate), float(achieved), float(p99)
    by[(tool, rate)].append((achieved, p99))
    if achieved >= 0.99 * rate and p99 <= slo:
        best[tool][pair] = max(best[tool].get(pair, 0.0), rate)
print(f"{'tool':<14}{'offered/s':>10}{'achieved/s median [range]':>32}{'p99 ms median [range]':>28}")
for (tool, rate), v in sorted(by.items()):
    a = [x[0] for x in v]; p = [x[1] for x in v]
    print(f"{tool:<14}{rate:>10.0f}{statistics.median(a):>14.1f} [{min(a):.1f}, {max(a):.1f}]"
          f"{statistics.median(p):>14.2f} [{min(p):.2f}, {max(p):.2f}]")
pairs = sorted({r[2] for r in rows})
for tool in sorted({r[0] for r in rows}):
    sustained = [best[tool].get(pair, 0.0) for pair in pairs]
    print(f"highest sustained (achieved >= 99% of offered, p99 <= {slo:g} ms), {tool}: "
          f"median {statistics.median(sustained):.0f}/s over {len(pairs)} pairs {sustained}")
PY
}

if [ "$mode" = oha ]; then
    pairs=${1:-5}
    secs=${2:-5}
    rates=${3:-"1000 2000 4000 8000 16000"}
    slo=${4:-10}
    [ -x "$OHA" ] || { echo "oha not found: cargo install oha (or OHA=path)" >&2; exit 1; }
    start_server 1
    for pair in $(seq 1 "$pairs"); do
        for rate in $rates; do
            run_ours() {
                read -r achieved p99 _ _ _ svc99 < <(ours "$rate" "$secs" async "$work/tb-$pair-$rate")
                echo "throttlebench $rate $pair $achieved $p99" >>"$work/figures"
                echo "throttlebench-sent $rate $pair $achieved $svc99" >>"$work/figures"
            }
            run_theirs() { read -r achieved p99 < <(theirs "$rate" "$secs" "$work/oha-$pair-$rate.json"); echo "oha $rate $pair $achieved $p99" >>"$work/figures"; }
            if ((pair % 2)); then run_ours; run_theirs; else run_theirs; run_ours; fi
        done
        echo "pair $pair done"
    done
    summarise "$work/figures" "$slo"
    echo "throttlebench: p99 from each request's intended start (its schedule, to the microsecond);"
    echo "throttlebench-sent: from when it was sent (svc_p99_ms). oha's --latency-correction starts"
    echo "the clock when its scheduling task wakes (tokio's timer, 1 ms ticks) and hands the request"
    echo "on: its own lateness is not counted, so its p99 is the same quantity as throttlebench-sent."
    echo "CPU time stolen by the host over the benchmark: $(steal_since "$ticks_at_start")"
else
    secs=${1:-5}
    rates=${2:-"1000 10000 20000"}
    backends=${3:-"thread async"}
    start_server 0
    printf '%-10s%10s%14s%14s%14s%14s\n' backend offered/s achieved-% lag-p50-ms lag-p99-ms lag-max-ms
    for backend in $backends; do
        for rate in $rates; do
            read -r achieved _ lag50 lag99 lagmax _ < <(ours "$rate" "$secs" "$backend" "$work/acc-$backend-$rate")
            python3 -c "import sys; b,r,a,l5,l9,lm=sys.argv[1:]; print(f'{b:<10}{float(r):>10.0f}{100*float(a)/float(r):>14.2f}{float(l5):>14.3f}{float(l9):>14.3f}{float(lm):>14.3f}')" \
                "$backend" "$rate" "$achieved" "$lag50" "$lag99" "$lagmax"
        done
    done
    echo "CPU time stolen by the host over the benchmark: $(steal_since "$ticks_at_start")"
fi
