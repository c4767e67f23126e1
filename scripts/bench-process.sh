#!/bin/sh
# process-per-item against xargs and GNU parallel: N runs of `/bin/true`, 8 at a time, measured
# in the same run, in rounds that alternate the order (throttlebench, xargs, parallel; then the
# reverse), so machine load falls on all three alike.
#
# What is timed: point vs point, the jobs' phase only, for all three.
#  - throttlebench: wall_s of its process-per-item row (its measured phase; without its own
#    start, the sequential baseline it always runs first, and the reports it writes after).
#  - xargs, parallel: the whole command, minus the same command with empty input run in the
#    same round (its start-up and exit: about 1 ms for xargs, several hundred ms for parallel).
# Fails (exit 1) if any throttlebench item failed or timed out, or xargs or parallel exit
# non-zero (some job failed).
#   scripts/bench-process.sh [ROUNDS=3] [N=1000]   (installs GNU parallel with apt-get when missing)
# Also prints the process backend's per-item cost with a no-op workload, and an idle worker's RSS.
set -eu
ROUNDS=${1:-3}
N=${2:-1000}
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
ms_per_job() { awk -v ns="$1" -v n="$N" 'BEGIN { printf "%.3f", ns / n / 1e6 }'; }

# Prints column $2 of results.csv rows whose backend is $3, by header name (columns may be added).
csv_col() {
    awk -F, -v want="$2" -v backend="$3" '
        NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        $col["backend"] == backend { print $col[want] }' "$1/results.csv"
}

# Stops the script when any row of a run has a failed or timed-out item.
no_failed_items() {
    bad=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        $col["failed"] + $col["timed_out"] > 0 || $col["ok"] != $col["items"] {
            print $col["backend"] " " $col["throttle"] }' "$1/results.csv")
    if [ -n "$bad" ]; then
        echo "throttlebench: failed or timed-out items at: $bad" >&2
        head -5 "$1/failures.csv" >&2 || true
        exit 1
    fi
}

# Sets `ns` to the nanoseconds of `seq COUNT | TOOL…` minus `: | TOOL…` (empty input). Not run
# in a subshell, so that a tool exiting non-zero (xargs: 123 when a job failed; parallel: the
# number of failed jobs) stops the script.
timed_jobs() {
    count=$1; shift
    t0=$(now_ns)
    seq "$count" | "$@" || { echo "$1 exited $? (a job failed)" >&2; exit 1; }
    t1=$(now_ns)
    : | "$@" || { echo "$1 exited $? with no input" >&2; exit 1; }
    t2=$(now_ns)
    ns=$(((t1 - t0) - (t2 - t1)))
}

run_tb() {
    "$BIN" run --kind command --param program=/bin/true --backend process-per-item \
        --limits 8 --items "$N" --quiet --out "$OUT/r$1"
    no_failed_items "$OUT/r$1"
    tb=$(awk -v s="$(csv_col "$OUT/r$1" wall_s process-per-item)" -v n="$N" \
        'BEGIN { printf "%.3f", s * 1000 / n }')
}
run_xargs() { timed_jobs "$N" xargs -r -P 8 -n1 /bin/true; xa=$(ms_per_job "$ns"); }
run_parallel() { timed_jobs "$N" parallel --will-cite -j 8 /bin/true; pa=$(ms_per_job "$ns"); }

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
echo "timed: point vs point (throttlebench's process-per-item wall_s; xargs and parallel: whole"
echo "command minus the same command with empty input); $N jobs of /bin/true, 8 at a time"
echo
echo "| round | order | throttlebench ms/job | xargs ms/job | parallel ms/job | xargs / throttlebench | parallel / throttlebench |"
echo "|---:|---|---:|---:|---:|---:|---:|"
for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) -eq 1 ]; then
        order="tb, xargs, parallel"
        run_tb "$round"; run_xargs; run_parallel
    else
        order="parallel, xargs, tb"
        run_parallel; run_xargs; run_tb "$round"
    fi
    rx=$(awk -v a="$xa" -v b="$tb" 'BEGIN { printf "%.2f", a / b }')
    rp=$(awk -v a="$pa" -v b="$tb" 'BEGIN { printf "%.2f", a / b }')
    echo "| $round | $order | $tb | $xa | $pa | $rx | $rp |"
    echo "$tb $xa $pa $rx $rp" >>"$OUT/rounds"
done
awk '{ for (i = 1; i <= 5; i++) v[i, NR] = $i }
    END {
        printf "| **median** | | "
        for (i = 1; i <= 5; i++) {
            n = 0; for (r = 1; r <= NR; r++) a[++n] = v[i, r]
            for (x = 1; x <= n; x++) for (y = x + 1; y <= n; y++) if (a[y] < a[x]) { t = a[x]; a[x] = a[y]; a[y] = t }
            printf "**%s** | ", (n % 2) ? a[(n + 1) / 2] : sprintf("%.3f", (a[n / 2] + a[n / 2 + 1]) / 2)
        }
        print ""
    }' "$OUT/rounds"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "process backend, noop workload (per-item cost = wall / items):"
"$BIN" run --kind noop --backend process --limits 2,8 --items 200000 --quiet --out "$OUT/noop"
no_failed_items "$OUT/noop"
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    $col["backend"] == "process" {
        printf "  throttle %s: %.3f µs per item\n", $col["throttle"], $col["wall_s"] * 1e6 / $col["items"] }' \
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
