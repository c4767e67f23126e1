#!/usr/bin/env bash
# Measures the baseline comparison on this machine:
#  1. false alarms: one sleep sweep saved as a baseline, five identical re-runs compared with it
#     (and every ordered pair of the six runs), counting "regressed" verdicts;
#  2. detection: the same sweep with items of 24 ms instead of 20 ms (+20%) compared with it,
#     listing the verdict per point and the exit code.
# Usage: [ITEMS=40] scripts/compare-fidelity.sh [WORKDIR]   (default: a fresh temporary folder)
# With fewer than 1000 items per point p99 is not compared (it would rest on one or two items).
# REANALYSE=1 skips the runs and compares the stored runs of WORKDIR again (e.g. after a change
# of the comparison rules).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
tb="$PWD/target/release/throttlebench"
work="${1:-$(mktemp -d)}"
mkdir -p "$work"
cd "$work"
sweep=(--kind sleep --backend thread,async --limits 1,2,4,8 --items "${ITEMS:-40}" --repeat 5)

run() { # run SWEEP-ARGS… : a sweep, or with REANALYSE=1 the comparison of the stored one
  if [ -n "${REANALYSE:-}" ]; then
    local out="" base="" allow=()
    while [ $# -gt 0 ]; do
      case "$1" in
        --out) out="$2"; shift ;;
        --baseline) base="baselines/$2.json"; shift ;;
        --allow-param-change) allow=(--allow-param-change) ;;
      esac
      shift
    done
    [ -z "$base" ] && return 0
    "$tb" compare "$base" "$out" "${allow[@]}" --format json > "$out/comparison.json"
  else
    "$tb" run "$@"
  fi
}

run "${sweep[@]}" --param ms=20 --out run0 -q --save-baseline sleep20
echo "baseline saved: $work/baselines/sleep20.json"

summary() { # compare-json → "exit R: N regressed, M improved"
  python3 -c 'import json,sys; c=json.load(sys.stdin); print(c["regressions"], "regressed,", c["improvements"], "improved of", len(c["rows"]), "metric comparisons;", c["headline"])'
}

echo "== five re-runs of the same sweep against the baseline =="
false_runs=0
for i in 1 2 3 4 5; do
  set +e
  run "${sweep[@]}" --param ms=20 --out "run$i" -q --baseline sleep20
  code=$?
  set -e
  [ "$code" -eq 1 ] && false_runs=$((false_runs + 1))
  echo "re-run $i: exit $code; $(summary < "run$i/comparison.json")"
done
echo "false-alarm runs (exit 1): $false_runs of 5"

echo "== every ordered pair of the six identical runs =="
pairs=0; alarms=0; rows=0
for a in 0 1 2 3 4 5; do
  for b in 0 1 2 3 4 5; do
    [ "$a" = "$b" ] && continue
    set +e
    out=$("$tb" compare "run$a" "run$b" --format json)
    code=$?
    set -e
    pairs=$((pairs + 1))
    [ "$code" -eq 1 ] && alarms=$((alarms + 1))
    rows=$((rows + $(python3 -c 'import json,sys; print(json.load(sys.stdin)["regressions"])' <<<"$out")))
  done
done
echo "pairs: $pairs; pairs reporting a regression: $alarms; regressed metric rows in all pairs: $rows"
echo "uptime: $(uptime)"

echo "== detection: items of 24 ms (+20%) against the 20 ms baseline =="
set +e
run "${sweep[@]}" --param ms=24 --out slow -q --baseline sleep20 --allow-param-change
code=$?
set -e
echo "exit code: $code"
python3 - slow/comparison.json <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
print(c["headline"])
for r in c["rows"]:
    print(f'{r["backend"]:>10} x{r["throttle"]:<2} {r["metric"]:<12} {r["change_pct"]:+6.1f}%  '
          f'CI {r["ci_low_pct"]:+6.1f} … {r["ci_high_pct"]:+6.1f}  p={r["p_value"]:.3f}  '
          f'allowance {r["machine_allowance_pct"]:.1f}%  {r["verdict"]}')
PY
