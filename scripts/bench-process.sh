#!/bin/sh
# process-per-item against xargs and GNU parallel: 1000 runs of `true`, 8 at a time, measured
# in the same run, in alternating rounds so machine load falls on all three alike.
#   scripts/bench-process.sh [ROUNDS]        (installs GNU parallel with apt-get when missing)
# Also prints the process backend's per-item cost with a no-op workload, and an idle worker's RSS.
set -eu
ROUNDS=${1:-3}
N=1000
cd "$(dirname "$0")/.."
cargo build --release --quiet
BIN=target/release/throttlebench
if ! command -v parallel >/dev/null 2>&1; then
    echo "installing GNU parallel…" >&2
    (apt-get install -y -qq parallel || sudo apt-get install -y -qq parallel) >/dev/null
fi
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

now_ns() { date +%s%N; }
per_job_ms() { awk -v ns="$1" -v n="$N" 'BEGIN { printf "%.3f", ns / n / 1e6 }'; }

echo "round  throttlebench_ms_per_job  xargs_ms_per_job  parallel_ms_per_job"
for round in $(seq "$ROUNDS"); do
    "$BIN" run --kind command --param program=/bin/true --backend process-per-item \
        --limits 8 --items "$N" --quiet --out "$OUT/r$round"
    # wall_s of the process-per-item row: the measured phase of 1000 spawns
    tb_s=$(awk -F, 'NR > 1 && $2 == "process-per-item" { print $9 }' "$OUT/r$round/results.csv")
    tb=$(awk -v s="$tb_s" -v n="$N" 'BEGIN { printf "%.3f", s * 1000 / n }')

    t0=$(now_ns); seq "$N" | xargs -P 8 -n1 true; t1=$(now_ns)
    xa=$(per_job_ms $((t1 - t0)))

    t0=$(now_ns); seq "$N" | parallel --will-cite -j 8 true; t1=$(now_ns)
    pa=$(per_job_ms $((t1 - t0)))
    echo "$round  $tb  $xa  $pa"
done

echo
echo "process backend, noop workload (per-item cost = wall / items):"
"$BIN" run --kind noop --backend process --limits 2,8 --items 200000 --quiet --out "$OUT/noop"
awk -F, 'NR > 1 && $2 == "process" { printf "  throttle %s: %.3f µs per item\n", $3, $9 * 1e6 / $5 }' \
    "$OUT/noop/results.csv"

echo
echo "idle process worker (noop spec received, 100 warm-up items done):"
python3 - "$BIN" <<'PY'
import struct, subprocess, sys, time
p = subprocess.Popen([sys.argv[1], "worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
spec = b'{"kind":"noop","params":{}}'
body = bytes([1]) + struct.pack("<Q", 100) + struct.pack("<I", len(spec)) + spec
p.stdin.write(struct.pack("<I", len(body)) + body)
p.stdin.flush()
n = struct.unpack("<I", p.stdout.read(4))[0]
p.stdout.read(n)
time.sleep(0.1)
for line in open(f"/proc/{p.pid}/status"):
    if line.startswith(("VmRSS", "VmHWM")):
        print("  " + " ".join(line.split()))
p.stdin.close()
p.wait()
PY
