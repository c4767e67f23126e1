#!/usr/bin/env bash
# Adaptive limiters, run after run: each round sweeps the built-in server of capacity 8 at 20 ms
# (queueing past it) on one backend and runs every limiter after the sweep, then prints where each
# settled, its goodput against the best static, its p99 and its verdict. The last lines give each
# limiter's median and range over the rounds, and in how many it found the level.
#
# Usage: scripts/bench-limiters.sh [ROUNDS] [BACKEND] [DURATION] [LIMITERS]
#        (defaults: 5 rounds, async, 4s, aimd,vegas,gradient2,envoy,vector; one algorithm
#        may come twice with other parameters: vector,vector:rtt_deviation_scale=1)
# Measure on a quiet machine: a limiter's settling follows the latency noise.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
backend=${2:-async}
duration=${3:-4s}
limiters=${4:-aimd,vegas,gradient2,envoy,vector}
cargo build --release -q
tb=target/release/throttlebench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$rounds"); do
  "$tb" run --kind http --param server_capacity=8 --param server_latency_ms=20 \
    --backend "$backend" --limits 1..32 --duration "$duration" --limiter "$limiters" \
    --quiet --out "$work/round-$round" >/dev/null
  echo "round $round done at $(date +%H:%M:%S), load $(cut -d' ' -f1 /proc/loadavg)"
done
python3 - "$work" "$rounds" <<'PY'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
by = {}
for r in range(1, rounds + 1):
    for j in json.load(open(f"{work}/round-{r}/results.json"))["analysis"]["limiters"]:
        by.setdefault(j["label"], []).append(j)
w = max(len(label) for label in by) + 2
print(f"{'limiter':<{w}}{'round':>6}{'settled':>9}{'knee':>6}{'goodput %':>11}{'p99 ms':>9}  how it moved; verdict")
for label, js in by.items():
    for r, j in enumerate(js, 1):
        share = 100 * j["goodput_per_s"] / j["best_goodput_per_s"]
        verdict = "found" if j["missed"] is None else "missed: " + j["missed"]
        moved = (j.get("behaviour") or {}).get("kind", "-")
        print(f"{label:<{w}}{r:>6}{j['settled']:>9.0f}{j['knee'] or 0:>6}{share:>11.0f}{j['p99_ms']:>9.1f}  {moved}; {verdict}")
print()
print(f"{'limiter':<{w}}{'settled: median [range]':>26}{'goodput %: median [range]':>28}{'found':>8}  how it moved (rounds)")
for label, js in by.items():
    s = [j["settled"] for j in js]
    g = [100 * j["goodput_per_s"] / j["best_goodput_per_s"] for j in js]
    found = sum(j["missed"] is None for j in js)
    moved = {}
    for j in js:
        kind = (j.get("behaviour") or {}).get("kind", "-")
        moved[kind] = moved.get(kind, 0) + 1
    words = ", ".join(f"{k} {n}" for k, n in sorted(moved.items(), key=lambda kv: -kv[1]))
    print(f"{label:<{w}}{statistics.median(s):>12.0f} [{min(s):.0f}, {max(s):.0f}]{'':>5}"
          f"{statistics.median(g):>12.0f} [{min(g):.0f}, {max(g):.0f}]{'':>7}{found:>4}/{len(js)}  {words}")
PY
