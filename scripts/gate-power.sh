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
#        scripts/gate-power.sh --judge DIR                        (re-judge kept runs)
# With KEEP=DIR the runs are kept in DIR (DIR/<case>/<pair>/{a,b}). The comparison is a pure
# function of the two stored runs, so kept runs can be judged again with other rules or
# thresholds (`--judge`); the measuring is what needs a quiet machine (load below 2).
# Prints, per case and threshold (THRESHOLDS, default "2% 1% 5%": the default first), the pairs
# that exited 1 and the points flagged (any metric regressed), and the load average before and
# after each case.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
tb=$PWD/target/release/throttlebench
thresholds=${THRESHOLDS:-2% 1% 5%}
cases=(
  "aa-sleep|identical runs, sleep|sleep ms 20 20 40"
  "aa-cpu|identical runs, cpu|cpu rounds 4000 4000 100"
  "sleep-10|sleep 10 % slower|sleep ms 20 22 40"
  "cpu-10|cpu 10 % slower|cpu rounds 4000 4400 100"
  "sleep-5|sleep 5 % slower|sleep ms 20 21 40"
  "cpu-5|cpu 5 % slower|cpu rounds 4000 4200 100"
)

judge() { # dir label → "| label | exits / pairs | flagged / points |" for each threshold
  local dir=$1 label=$2 threshold
  for threshold in $thresholds; do
    python3 - "$tb" "$dir" "$label" "$threshold" <<'PY'
import json, pathlib, subprocess, sys
tb, folder, label, threshold = sys.argv[1:]
exits = pairs = flagged = points = 0
for pair in sorted(pathlib.Path(folder).iterdir()):
    out = subprocess.run([tb, "compare", str(pair / "a"), str(pair / "b"), "--allow-param-change",
                          "--threshold", threshold, "--format", "json"],
                         capture_output=True, text=True)
    if out.returncode > 1:
        sys.exit(f"compare failed (exit {out.returncode}): {out.stderr}")
    c = json.loads(out.stdout)
    keys = {(r["backend"], r["throttle"]) for r in c["rows"]}
    bad = {(r["backend"], r["throttle"]) for r in c["rows"] if r["verdict"] == "regressed"}
    pairs += 1; exits += out.returncode == 1; flagged += len(bad); points += len(keys)
print(f"| {label} | {threshold} | {exits} / {pairs} | {flagged} / {points} |", end="")
PY
    echo " ${3:-} |"
  done
}

if [[ ${1:-} == --judge ]]; then
  keep=${2:?usage: scripts/gate-power.sh --judge DIR}
  echo "| case | threshold | pairs that exit 1 | points flagged | load (before → after) |"
  echo "|---|---|---|---|---|"
  for c in "${cases[@]}"; do
    IFS='|' read -r dir label _ <<<"$c"
    [[ -d $keep/$dir ]] && judge "$keep/$dir" "$label" "$(cat "$keep/$dir.load" 2>/dev/null)"
  done
  exit 0
fi

pairs_aa=${1:-20}
pairs_ab=${2:-10}
repeat=${3:-5}
if [[ -n ${KEEP:-} ]]; then
  keep=$KEEP
  mkdir -p "$keep"
else
  keep=$(mktemp -d)
  trap 'rm -rf "$keep"' EXIT
fi

run() { # folder kind param value items
  "$tb" run --kind "$2" --param "$3=$4" --items "$5" --backend thread,async \
    --limits 1,2,4 --repeat "$repeat" --quiet --out "$1" >/dev/null
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    $col["failed"] + $col["timed_out"] > 0 { print "failed items in " FILENAME > "/dev/stderr"; exit 1 }' \
    "$1/results.csv"
}

echo "compare as a gate: --repeat $repeat, --limits 1,2,4, thread and async (7 points a run)"
echo
echo "| case | threshold | pairs that exit 1 | points flagged | load (before → after) |"
echo "|---|---|---|---|---|"
for c in "${cases[@]}"; do
  IFS='|' read -r dir label spec <<<"$c"
  read -r kind param base current items <<<"$spec"
  pairs=$pairs_ab
  [[ $dir == aa-* ]] && pairs=$pairs_aa
  load_before=$(cut -d' ' -f1 /proc/loadavg)
  for p in $(seq -w 1 "$pairs"); do
    pair=$keep/$dir/$p
    rm -rf "$pair"
    mkdir -p "$pair"
    if (( 10#$p % 2 )); then
      run "$pair/a" "$kind" "$param" "$base" "$items"
      run "$pair/b" "$kind" "$param" "$current" "$items"
    else
      run "$pair/b" "$kind" "$param" "$current" "$items"
      run "$pair/a" "$kind" "$param" "$base" "$items"
    fi
  done
  echo "$load_before → $(cut -d' ' -f1 /proc/loadavg)" >"$keep/$dir.load"
  judge "$keep/$dir" "$label" "$(cat "$keep/$dir.load")"
done
