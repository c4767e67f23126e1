#!/usr/bin/env bash
# The sequential baseline against hyperfine: the same command (gzip of a 200 kB file, output
# discarded), one at a time, timed per run by both tools. throttlebench's figure is the mean item
# time of its sequential baseline (wall_s / items); hyperfine's is its mean run time (-N: no
# shell, like throttlebench's command workload). Rounds alternate which tool goes first.
#
# Usage: scripts/bench-baseline.sh [ROUNDS] [RUNS]   (defaults 5 rounds of 60 runs)
# Needs hyperfine (Debian package; installed when missing). Measure on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
runs=${2:-60}
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null; }
cargo build --release -q
tb=target/release/throttlebench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
head -c 200000 /dev/urandom | base64 > "$work/input"   # compressible text, about 270 kB
gzip_bin=$(command -v gzip)
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

tb_ms() {
  local out="$work/tb-$1"
  "$tb" run --kind command --param "program=$gzip_bin" --param "args=-c $work/input" \
    --backend thread --limits 1 --items "$runs" --quiet --out "$out" >/dev/null
  # sequential row: ok must equal items, else the figure is not one.
  awk -F, 'NR > 1 && $6 != $5 { print "failed items in the throttlebench run" > "/dev/stderr"; exit 1 }
    NR > 1 && $2 == "sequential" { printf "%.3f\n", $9 / $5 * 1000 }' "$out/results.csv"
}
tb_thread_ms() {
  awk -F, 'NR > 1 && $2 == "thread" { printf "%.3f\n", $9 / $5 * 1000 }' "$work/tb-$1/results.csv"
}
hf_ms() {
  hyperfine -N --runs "$runs" --export-json "$work/hf-$1.json" "$gzip_bin -c $work/input" >/dev/null 2>&1
  python3 -c "import json,sys; print('%.3f' % (json.load(open(sys.argv[1]))['results'][0]['mean']*1000))" "$work/hf-$1.json"
}

declare -a tb_base tb_one hf
for r in $(seq 1 "$rounds"); do
  if (( r % 2 )); then a=$(tb_ms "$r"); b=$(hf_ms "$r"); else b=$(hf_ms "$r"); a=$(tb_ms "$r"); fi
  tb_base+=("$a"); hf+=("$b"); tb_one+=("$(tb_thread_ms "$r")")
  echo "round $r: throttlebench baseline $a ms/item, thread@1 ${tb_one[-1]} ms/item, hyperfine $b ms/run"
done
summary() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {m = NR % 2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2; printf "median %.3f ms (range %.3f–%.3f)", m, v[1], v[NR]}'; }
echo "throttlebench sequential baseline: $(summary "${tb_base[@]}")"
echo "throttlebench thread at 1:         $(summary "${tb_one[@]}")"
echo "hyperfine -N:                      $(summary "${hf[@]}")"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
