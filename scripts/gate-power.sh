#!/usr/bin/env bash
# How good is `compare` as a CI gate? A/A pairs (nothing changed: how often does it cry wolf?)
# and A/B pairs (a known slowdown: how often is it caught?), each pair a fresh baseline run and
# a fresh current run, their order alternated from pair to pair.
#
#   sleep: --kind sleep ms=20 (A/B: ms=22 for 10 %, ms=21 for 5 %), 40 items
#   cpu:   --kind cpu rounds=4000 (A/B: 4400, 4200), 100 items
#   both:  --backend thread,async --limits 1,2,4 --repeat R (default 5): 7 points per run
#
# Usage: scripts/gate-power.sh [PAIRS_AA] [PAIRS_AB] [REPEAT]   (defaults 20 10 5)
# Prints, per case, the pairs that exited 1 and the points flagged (any metric regressed), and
# the load average before and after each case. Measure on a quiet machine (load below 2).
set -euo pipefail
cd "$(dirname "$0")/.."
pairs_aa=${1:-20}
pairs_ab=${2:-10}
repeat=${3:-5}
cargo build --release -q
tb=$PWD/target/release/throttlebench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

run() { # name kind param value items
  "$tb" run --kind "$2" --param "$3=$4" --items "$5" --backend thread,async \
    --limits 1,2,4 --repeat "$repeat" --quiet --out "$work/$1" >/dev/null
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    $col["failed"] + $col["timed_out"] > 0 { print "failed items in " FILENAME > "/dev/stderr"; exit 1 }' \
    "$work/$1/results.csv"
}

case_() { # label kind param base current items pairs
  local label=$1 kind=$2 param=$3 base=$4 current=$5 items=$6 pairs=$7
  local exits=0 flagged=0 points=0 load_before
  load_before=$(cut -d' ' -f1 /proc/loadavg)
  for p in $(seq 1 "$pairs"); do
    rm -rf "$work/a" "$work/b"
    if (( p % 2 )); then
      run a "$kind" "$param" "$base" "$items"; run b "$kind" "$param" "$current" "$items"
    else
      run b "$kind" "$param" "$current" "$items"; run a "$kind" "$param" "$base" "$items"
    fi
    set +e
    "$tb" compare "$work/a" "$work/b" --allow-param-change --format json > "$work/c.json"
    code=$?
    set -e
    [[ $code == 1 ]] && exits=$((exits + 1))
    [[ $code -gt 1 ]] && { echo "compare failed (exit $code)" >&2; exit 1; }
    read -r f n < <(python3 - "$work/c.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
points = {(r["backend"], r["throttle"]) for r in c["rows"]}
bad = {(r["backend"], r["throttle"]) for r in c["rows"] if r["verdict"] == "regressed"}
print(len(bad), len(points))
PY
)
    flagged=$((flagged + f)); points=$((points + n))
  done
  printf '| %s | %d / %d | %d / %d | %s → %s |\n' "$label" "$exits" "$pairs" "$flagged" "$points" \
    "$load_before" "$(cut -d' ' -f1 /proc/loadavg)"
}

echo "compare as a gate: --repeat $repeat, --limits 1,2,4, thread and async, threshold 5 %"
echo
echo "| case | pairs that exit 1 | points flagged | load (before → after) |"
echo "|---|---|---|---|"
case_ "identical runs, sleep" sleep ms 20 20 40 "$pairs_aa"
case_ "identical runs, cpu" cpu rounds 4000 4000 100 "$pairs_aa"
case_ "sleep 10 % slower" sleep ms 20 22 40 "$pairs_ab"
case_ "cpu 10 % slower" cpu rounds 4000 4400 100 "$pairs_ab"
case_ "sleep 5 % slower" sleep ms 20 21 40 "$pairs_ab"
case_ "cpu 5 % slower" cpu rounds 4000 4200 100 "$pairs_ab"
