#!/usr/bin/env bash
# Fidelity of the thread backend against the ideal law for fixed-latency work: M items of d ms at
# throttle N take ceil(M/N)·d, so the ideal speedup is M / ceil(M/N). Prints measured vs ideal.
set -euo pipefail
cd "$(dirname "$0")/.."
items=${ITEMS:-100}
ms=${MS:-50}
out=$(mktemp -d)
cargo run -q --release -- run --kind sleep --param ms="$ms" --items "$items" \
  --limits 1,2,4,5,8,10,16,20,25,32,50 --backend thread --quiet --out "$out/run"
python3 - "$out/run/results.csv" "$items" <<'PY'
import csv, math, sys
rows = list(csv.DictReader(open(sys.argv[1])))
m = int(sys.argv[2])
print(f"{'throttle':>8} {'speedup (×)':>12} {'ideal (×)':>10} {'deviation (%)':>14}")
worst = 0.0
for r in rows:
    if r["backend"] != "thread":
        continue
    n = int(r["throttle"])
    ideal = m / math.ceil(m / n)
    got = float(r["speedup"])
    dev = (got - ideal) / ideal * 100
    worst = max(worst, abs(dev))
    print(f"{n:>8} {got:>12.3f} {ideal:>10.3f} {dev:>+14.2f}")
print(f"worst deviation: {worst:.2f}%")
PY
rm -rf "$out"
