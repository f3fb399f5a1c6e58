#!/usr/bin/env bash
# Swap benchmarks, side by side in one run, on one disk (see docs/benchmarks.md, "Swap"):
#   raw   - the disk's sequential direct I/O: dd bs=1M oflag=direct / iflag=direct
#   kernel- the kernel's tmpfs in a memory cgroup limited to BUDGET, with a swap file:
#           write SIZE in 1 MiB chunks, read it back (dd), then relax the limit and time swapoff
#   engine- our engine in-process (bench/Tmpfs.SwapBench), a budget of BUDGET and the same
#           swap file: the same write, read-back and swapoff
# Each is repeated REPS times, interleaved; medians and the target ratios are printed.
# Needs root (swapon, mount, cgroups). Everything it sets up is torn down on exit or failure.
#
# usage: sudo bench/swap/run.sh [--dir DIR] [--reps N] [--budget MiB] [--size MiB] [--swap MiB] [--out FILE]
set -euo pipefail

DIR=/var/tmp
REPS=3
BUDGET_MB=256
SIZE_MB=1024
SWAP_MB=2048
CHUNK=$((1 << 20))
OUT=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --dir) DIR=$2; shift 2 ;;
        --reps) REPS=$2; shift 2 ;;
        --budget) BUDGET_MB=$2; shift 2 ;;
        --size) SIZE_MB=$2; shift 2 ;;
        --swap) SWAP_MB=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done

[[ $(id -u) -eq 0 ]] || { echo "run as root (swapon, mount, cgroups)" >&2; exit 1; }
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PY=$(python3 -c 'import sys; print(sys.executable)')
SIZE=$((SIZE_MB << 20))

WORK=$(mktemp -d "$DIR/tmpfs-swapbench.XXXXXX")
SWAPFILE=$WORK/swapfile
RAWFILE=$WORK/raw
MNT=$WORK/mnt
CG=""
CGV=""
LOG=$WORK/log

cleanup() {
    local rc=$?
    set +e
    if grep -q "^$SWAPFILE " /proc/swaps 2>/dev/null; then
        [[ -n $CG ]] && relax_cgroup
        swapoff "$SWAPFILE"
    fi
    mountpoint -q "$MNT" 2>/dev/null && umount "$MNT"
    if [[ -n $CG && -d $CG ]]; then
        # Any straggler goes back to the root group before the group is removed.
        while read -r pid; do echo "$pid" > "$CG_ROOT/cgroup.procs"; done < "$CG/cgroup.procs"
        rmdir "$CG"
    fi
    rm -rf "$WORK"
    if grep -q "tmpfs-swapbench" /proc/swaps; then
        echo "WARNING: a benchmark swap file is still on" >&2
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the memory cgroup: v2 when its memory controller is available, else v1 ---
if grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
    CGV=2; CG_ROOT=/sys/fs/cgroup
elif grep -qw memory /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null; then
    CGV=2; CG_ROOT=/sys/fs/cgroup/unified
elif [[ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ]]; then
    CGV=1; CG_ROOT=/sys/fs/cgroup/memory
else
    echo "no memory cgroup controller found" >&2; exit 1
fi
[[ $CGV == 2 ]] && echo "+memory" > "$CG_ROOT/cgroup.subtree_control" 2>/dev/null || true
CG=$CG_ROOT/tmpfs-swapbench.$$
mkdir "$CG"

limit_cgroup() {
    if [[ $CGV == 2 ]]; then
        echo "${BUDGET_MB}M" > "$CG/memory.max"; echo max > "$CG/memory.swap.max"
    else
        echo "${BUDGET_MB}M" > "$CG/memory.limit_in_bytes"  # memory.memsw.limit_in_bytes stays unlimited
    fi
}
relax_cgroup() {
    if [[ $CGV == 2 ]]; then echo max > "$CG/memory.max"; else echo -1 > "$CG/memory.limit_in_bytes"; fi
}
# Runs a command as a process of the cgroup.
in_cgroup() { sh -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' sh "$CG" "$@"; }
dd_seconds() { sed -nE 's/.* copied, ([0-9.]+) s.*/\1/p' | tail -1; }
now() { date +%s.%N; }

echo "# building bench/Tmpfs.SwapBench (Release)" >&2
dotnet build -c Release "$REPO/bench/Tmpfs.SwapBench" -v q -nologo > "$LOG" 2>&1 || { cat "$LOG" >&2; exit 1; }
BENCH=$REPO/bench/Tmpfs.SwapBench/bin/Release/net10.0/Tmpfs.SwapBench.dll

HEADER="# $(date -u +%Y-%m-%dT%H:%MZ) $(uname -r) $(nproc) CPUs, $(free -m | awk '/Mem:/{print $2}') MiB RAM; $DIR on $(df -T "$DIR" | awk 'NR==2{print $1" "$2}'); cgroup v$CGV; $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
# budget ${BUDGET_MB} MiB, file ${SIZE_MB} MiB in 1 MiB chunks, swap file ${SWAP_MB} MiB, $REPS reps"
echo "$HEADER" >&2

RESULTS=$WORK/results
: > "$RESULTS"
mkdir "$MNT"
# One swap file, written out in full (no holes, no unwritten extents), used by both sides in turn.
dd if=/dev/zero of="$SWAPFILE" bs=1M count="$SWAP_MB" oflag=direct status=none
chmod 600 "$SWAPFILE"

for rep in $(seq 1 "$REPS"); do
    # --- raw disk ---
    w=$(dd if=/dev/zero of="$RAWFILE" bs=1M count="$SIZE_MB" oflag=direct 2>&1 | dd_seconds)
    r=$(dd if="$RAWFILE" of=/dev/null bs=1M iflag=direct 2>&1 | dd_seconds)
    rm -f "$RAWFILE"
    echo "raw $rep write_s=$w read_s=$r" | tee -a "$RESULTS" >&2

    # --- kernel tmpfs, cgroup-limited, swapping to the swap file ---
    mkswap -q "$SWAPFILE" > /dev/null
    swapon -p 10 "$SWAPFILE"
    mount -t tmpfs -o "size=$((SIZE_MB * 2))M,nr_inodes=1k" tmpfs "$MNT"
    limit_cgroup
    w=$(in_cgroup "$PY" "$HERE/kfile.py" write "$MNT/big" "$SIZE" "$CHUNK")
    r=$(in_cgroup dd if="$MNT/big" of=/dev/null bs=1M 2>&1 | dd_seconds)
    used_kib=$(awk -v f="$SWAPFILE" '$1 == f {print $4}' /proc/swaps)
    relax_cgroup   # or swapoff would have to fit 1 GiB into 256 MiB (OOM)
    t0=$(now); swapoff "$SWAPFILE"; t1=$(now)
    umount "$MNT"
    so=$(echo "$t1 - $t0" | bc -l)
    echo "kernel $rep write_s=$w read_s=$r swapoff_s=$(printf %.3f "$so") swapoff_bytes=$((used_kib * 1024))" | tee -a "$RESULTS" >&2

    # --- our engine, the same workload and the same swap file ---
    line=$(dotnet "$BENCH" --budget "${BUDGET_MB}M" --size "${SIZE_MB}M" --swapfile "$SWAPFILE" --swapsize "${SWAP_MB}M")
    echo "${line/engine/engine $rep}" | tee -a "$RESULTS" >&2
done

# --- medians and ratios ---
"$PY" - "$RESULTS" "$SIZE" "$BUDGET_MB" "$SIZE_MB" > "$WORK/table" <<'PYEOF'
import statistics, sys
path, size, budget, size_mb = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
rows = {}
for line in open(path):
    parts = line.split()
    kv = dict(p.split("=", 1) for p in parts[2:])
    rows.setdefault(parts[0], []).append({k: float(v) for k, v in kv.items()})
def med(side, key):
    return statistics.median(r[key] for r in rows[side])
def mbps(b, s):
    return b / s / 1e6
raw_w, raw_r = mbps(size, med("raw", "write_s")), mbps(size, med("raw", "read_s"))
k_w, k_r = mbps(size, med("kernel", "write_s")), mbps(size, med("kernel", "read_s"))
e_w, e_r = mbps(size, med("engine", "write_s")), mbps(size, med("engine", "read_s"))
k_so = statistics.median(mbps(r["swapoff_bytes"], r["swapoff_s"]) for r in rows["kernel"])
e_so = statistics.median(mbps(r["swapoff_bytes"], r["swapoff_s"]) for r in rows["engine"])
k_sob, e_sob = med("kernel", "swapoff_bytes") / 2**20, med("engine", "swapoff_bytes") / 2**20
n = len(rows["raw"])
def runs(side, key):
    return " / ".join(f"{mbps(size, r[key]):.0f}" for r in rows[side])
def soruns(side):
    return " / ".join(f"{r['swapoff_s']:.2f} s" for r in rows[side])
print(f"Medians of {n} interleaved runs; {size_mb} MiB file, {budget} MiB budget; MB/s = 10^6 bytes/s.\n")
print("| | write MB/s | read-back MB/s | swapoff (MiB moved, MB/s) |")
print("|---|---:|---:|---:|")
print(f"| raw disk, dd direct | {raw_w:.0f} ({runs('raw', 'write_s')}) | {raw_r:.0f} ({runs('raw', 'read_s')}) | |")
print(f"| kernel tmpfs + cgroup + swap file | {k_w:.0f} ({runs('kernel', 'write_s')}) | {k_r:.0f} ({runs('kernel', 'read_s')}) | {k_sob:.0f} MiB, {k_so:.0f} ({soruns('kernel')}) |")
print(f"| engine (Tmpfs.SwapBench) | {e_w:.0f} ({runs('engine', 'write_s')}) | {e_r:.0f} ({runs('engine', 'read_s')}) | {e_sob:.0f} MiB, {e_so:.0f} ({soruns('engine')}) |")
print()
def verdict(ok):
    return "met" if ok else "NOT met"
print("| target | measured | |")
print("|---|---:|---|")
print(f"| write >= 70% of raw direct write | {e_w / raw_w * 100:.0f}% | {verdict(e_w >= 0.7 * raw_w)} |")
print(f"| write >= 1.5 x kernel | {e_w / k_w:.2f} x | {verdict(e_w >= 1.5 * k_w)} |")
print(f"| read-back >= 3 x kernel | {e_r / k_r:.2f} x | {verdict(e_r >= 3 * k_r)} |")
print(f"| swapoff >= 3 x kernel (throughput) | {e_so / k_so:.2f} x | {verdict(e_so >= 3 * k_so)} |")
PYEOF
echo
cat "$RESULTS"
echo
cat "$WORK/table"
if [[ -n $OUT ]]; then { echo "$HEADER"; cat "$RESULTS"; echo; cat "$WORK/table"; } > "$OUT"; fi
