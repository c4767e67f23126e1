#!/usr/bin/env bash
# throttlebench's `disk` workload beside fio, both with O_DIRECT, on the same folder:
# sequential read and sequential write, same block size, JOBS files of SIZE each read or
# written LOOPS times (fio: --numjobs=JOBS --size=SIZE --loops=LOOPS; throttlebench: throttle
# JOBS on the thread backend, JOBS × LOOPS items of SIZE), so both move the same bytes with the
# same syscalls (pread/pwrite, one at a time per job).
#
# What is timed, for both: the measured phase only (point vs point). fio's bandwidth excludes
# laying out its files; throttlebench's throughput_per_s is that of the thread point, after its
# files are laid out (and after the sequential baseline it always runs first). fio runs with
# --overwrite=1 for writes, because throttlebench's direct writes overwrite a laid-out file too.
#
# Rounds alternate which tool goes first. Prints, per test and tool, the median and range of
# MB/s and IOPS, and the median of the per-round ratios throttlebench / fio. MB is 2^20 bytes, as
# in every throttlebench column (fio's MiB/s): throttlebench's figures are its disk_mb_per_s and
# disk_iops columns, fio's are its bw_bytes / 2^20 and iops.
# Fails (exit 1) if any throttlebench item failed or timed out, or fio reports an error.
#
#   scripts/bench-fio.sh [ROUNDS=5]
#   env: DIR (a folder on the disk to measure; default /var/tmp), JOBS (4), BS (1MiB),
#        SIZE (256MiB per job), LOOPS (2)
# Installs fio with apt-get when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
dir=${DIR:-/var/tmp}
jobs=${JOBS:-4}
loops=${LOOPS:-2}
to_bytes() { numfmt --from=iec "${1%iB}"; }
bs=$(to_bytes "${BS:-1MiB}")
size=$(to_bytes "${SIZE:-256MiB}")
items=$((jobs * loops))

if ! command -v fio >/dev/null; then
    echo "installing fio (apt-get)" >&2
    apt-get install -y fio >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y fio >/dev/null; }
fi
cargo build --release -q
bin=target/release/throttlebench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
echo "folder: $dir ($(df -T "$dir" | awk 'NR == 2 {print $2 " on " $1}'))"
echo "jobs $jobs, block $bs B, $size B per job × $loops loops = $((size * items / 1048576)) MiB per test and tool"
echo "timed: the measured phase of each tool (point vs point), not process start-up or file layout"

# results.csv column by name: another version may have more columns.
csv_col() {
    awk -F, -v want="$2" -v backend="$3" '
        NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        $col["backend"] == backend { print $col[want] }' "$1"
}

# Both print "MB/s IOPS" and are called as plain commands (not in a subshell), so that their
# `exit 1` or a failing fio ends the script.
# throttlebench's thread point; fails on any failed or timed-out item.
run_ours() { # mode out
    "$bin" run --kind disk --param "mode=$1" --param direct=true --param "size=$size" \
        --param "block_size=$bs" --param "dir=$dir" --backend thread --limits "$jobs" \
        --items "$items" --quiet --out "$2"
    local bad
    bad=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        $col["failed"] + $col["timed_out"] > 0 || $col["ok"] != $col["items"] { print $col["backend"] }' \
        "$2/results.csv")
    if [ -n "$bad" ]; then
        echo "throttlebench: failed or timed-out items on: $bad" >&2
        head -5 "$2/failures.csv" >&2 || true
        exit 1
    fi
    awk -v mb="$(csv_col "$2/results.csv" disk_mb_per_s thread)" \
        -v iops="$(csv_col "$2/results.csv" disk_iops thread)" \
        'BEGIN { printf "%.1f %.1f\n", mb, iops }'
}

# fio's JSON; fails on a non-zero exit or any job error.
run_fio() { # mode out
    local rw=read extra=()
    [ "$1" = write ] && { rw=write; extra=(--overwrite=1); }
    local files
    files=$(mktemp -d "$dir/bench-fio-XXXXXX")
    fio --name="seq$rw" --directory="$files" --rw="$rw" --bs="$bs" --size="$size" \
        --numjobs="$jobs" --loops="$loops" --direct=1 --ioengine=psync --group_reporting \
        --unlink=1 --output-format=json --output="$2.json" "${extra[@]}"
    rm -rf "$files"
    python3 - "$2.json" "$rw" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
errors = [j["error"] for j in report["jobs"] if j.get("error", 0) != 0]
if errors:
    sys.exit(f"fio reported errors: {errors}")
side = report["jobs"][0][sys.argv[2]]
print(f'{side["bw_bytes"] / 2**20:.1f} {side["iops"]:.1f}')
PY
}

stats() { # values… → "median [min–max]"
    printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 }
        END { m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
              printf "%.1f [%.1f–%.1f]", m, a[1], a[NR] }'
}
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 }
    END { printf "%.3f", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

for mode in read write; do
    echo
    echo "sequential $mode, O_DIRECT"
    echo "| round | order | throttlebench MB/s | fio MB/s | throttlebench IOPS | fio IOPS | throttlebench / fio |"
    echo "|---:|---|---:|---:|---:|---:|---:|"
    ours_mb=(); fio_mb=(); ours_iops=(); fio_iops=(); ratios=()
    for round in $(seq "$rounds"); do
        ours="$work/$mode-$round" theirs="$work/fio-$mode-$round"
        if ((round % 2)); then
            order="throttlebench first"
            run_ours "$mode" "$ours" >"$ours.txt"
            run_fio "$mode" "$theirs" >"$theirs.txt"
        else
            order="fio first"
            run_fio "$mode" "$theirs" >"$theirs.txt"
            run_ours "$mode" "$ours" >"$ours.txt"
        fi
        read -r om oi <"$ours.txt"
        read -r fm fio_i <"$theirs.txt"
        ratio=$(awk -v a="$om" -v b="$fm" 'BEGIN { printf "%.3f", a / b }')
        ours_mb+=("$om"); fio_mb+=("$fm"); ours_iops+=("$oi"); fio_iops+=("$fio_i"); ratios+=("$ratio")
        echo "| $round | $order | $om | $fm | $oi | $fio_i | $ratio |"
    done
    echo "$mode MB/s  median [range]: throttlebench $(stats "${ours_mb[@]}"), fio $(stats "${fio_mb[@]}")"
    echo "$mode IOPS  median [range]: throttlebench $(stats "${ours_iops[@]}"), fio $(stats "${fio_iops[@]}")"
    echo "$mode throttlebench / fio: median of the round ratios $(median "${ratios[@]}")"
done
echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
