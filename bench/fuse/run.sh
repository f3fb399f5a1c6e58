#!/usr/bin/env bash
# fio side by side: this tmpfs through FUSE (a release build of bench/Tmpfs.FuseBench),
# the kernel's tmpfs, and bindfs (libfuse, C) over a kernel tmpfs directory.
# Needs root, /dev/fuse, fio, bindfs, python3.  Usage: bench/fuse/run.sh [seconds per job] [file size]
# Environment: THREADS (our serving threads, 0 = default), POLL_US (how long a serving thread
# polls for the next request before sleeping, default 50, 0 = sleep at once),
# DIRECT_IO=1: our servers (ours, ouring) mount with the direct_io option (no copy in the kernel's page cache).
# TARGETS="ours kernel bindfs" (add "ouring": a second server of ours, serving over FUSE-over-io_uring;
# it is mounted with io_uring=on, which switches /sys/module/fuse/parameters/enable_uring to Y for
# its INIT and back right after, so the parameter is left as it was; "ours" is mounted with io_uring=off).
# IO_URING (auto|on|off, default off) sets the mode of "ours".
set -euo pipefail
cd "$(dirname "$0")/../.."
runtime=${1:-10}
size=${2:-2g}
targets=${TARGETS:-"ours kernel bindfs"}
root=$(mktemp -d /tmp/tmpfs-bench-XXXXXX)
results=$root/results; mkdir -p "$results"
server_pid=
uring_pid=

uring_param=/sys/module/fuse/parameters/enable_uring
uring_was=$(cat "$uring_param" 2>/dev/null || true)
cleanup() {
  set +e
  # The ouring server switches enable_uring for its INIT only; should it die in between, put it back.
  [ -n "$uring_was" ] && [ "$(cat "$uring_param" 2>/dev/null)" != "$uring_was" ] && echo "$uring_was" > "$uring_param"
  for d in ours ouring bindfs kernel kbase; do
    mountpoint -q "$root/$d" && umount "$root/$d"
  done
  [ -n "$server_pid" ] && wait "$server_pid" 2>/dev/null
  [ -n "$uring_pid" ] && wait "$uring_pid" 2>/dev/null
  rm -rf "$root"
}
trap cleanup EXIT

for t in fio bindfs python3; do command -v $t >/dev/null || { echo "missing: $t (apt-get install -y fio bindfs)" >&2; exit 1; }; done
dotnet build -c Release bench/Tmpfs.FuseBench -v q -nologo >/dev/null
bench=bench/Tmpfs.FuseBench/bin/Release/net10.0/Tmpfs.FuseBench

mkdir -p "$root"/{ours,ouring,kernel,kbase,bindfs}
mount -t tmpfs -o size=3g tmpfs "$root/kernel"
mount -t tmpfs -o size=3g tmpfs "$root/kbase"
bindfs "$root/kbase" "$root/bindfs"
"$bench" "$root/ours" 3g "${THREADS:-0}" "${POLL_US:-50}" "${IO_URING:-off}" > "$root/server.out" 2> "$root/server.err" &
server_pid=$!
for _ in $(seq 100); do grep -q ready "$root/server.out" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$root/server.out" || { cat "$root/server.err"; exit 1; }
if [[ " $targets " == *" ouring "* ]]; then
  "$bench" "$root/ouring" 3g "${THREADS:-0}" "${POLL_US:-50}" on > "$root/uring.out" 2> "$root/uring.err" &
  uring_pid=$!
  for _ in $(seq 100); do grep -q ready "$root/uring.out" 2>/dev/null && break; sleep 0.1; done
  grep -q ready "$root/uring.out" || { cat "$root/uring.err"; exit 1; }
  stat "$root/ouring" >/dev/null # the first request waits for INIT and the rings
  grep -q "served over io_uring" "$root/uring.err" || { echo "ouring: io_uring was not negotiated" >&2; cat "$root/uring.err" >&2; exit 1; }
fi

job() { # target name rw bs
  local dir=$root/$1 name=$2 rw=$3 bs=$4
  fio --name="$name" --directory="$dir" --filename=fio.dat --rw="$rw" --bs="$bs" --size="$size" \
      --ioengine=psync --runtime="$runtime" --time_based --ramp_time=1 \
      --output-format=json --output="$results/$1.$name.json" >/dev/null
}

meta() { # target: 10,000 creates, ls -l, deletes; seconds each
  local dir=$root/$1/meta
  mkdir -p "$dir"
  python3 - "$dir" > "$results/$1.meta.txt" <<'PY'
import os, subprocess, sys, time
d = sys.argv[1]
n = 10000
t = time.perf_counter()
for i in range(n):
    os.close(os.open(f"{d}/f{i:05d}", os.O_CREAT | os.O_WRONLY, 0o644))
create = time.perf_counter() - t
os.system("sync; echo 2 > /proc/sys/vm/drop_caches") if os.environ.get("DROP") else None
t = time.perf_counter()
subprocess.run(["ls", "-l", d], stdout=subprocess.DEVNULL, check=True)
ls = time.perf_counter() - t
t = time.perf_counter()
for i in range(n):
    os.unlink(f"{d}/f{i:05d}")
delete = time.perf_counter() - t
print(f"{create:.4f} {ls:.4f} {delete:.4f}")
PY
  rmdir "$dir"
}

echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo ?), ours: direct_io=${DIRECT_IO:-0}, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg) at start ($(date -u +%H:%M) UTC)"
for t in $targets; do
  echo "== $t (load $(cut -d' ' -f1 /proc/loadavg))" >&2
  job "$t" seqwrite write 1M
  job "$t" seqread read 1M
  job "$t" randread randread 4k
  job "$t" randwrite randwrite 4k
  rm -f "$root/$t/fio.dat"
  meta "$t"
done
echo "load $(cut -d' ' -f1-3 /proc/loadavg) at end ($(date -u +%H:%M) UTC)"
if [[ " $targets " == *" ours "* ]]; then
  umount "$root/ours"; wait "$server_pid" || echo "server exit $?" >&2; server_pid=
  grep requests "$root/server.err" >&2 || true # round trips per opcode, all jobs together
fi
if [[ " $targets " == *" ouring "* ]]; then
  umount "$root/ouring"; wait "$uring_pid" || echo "io_uring server exit $?" >&2; uring_pid=
  grep -h "served /\|requests" "$root/uring.err" >&2 || true
fi

python3 - "$results" "$targets" <<'PY'
import json, sys
res, targets = sys.argv[1], sys.argv[2].split()
def fio(t, name, rw):
    j = json.load(open(f"{res}/{t}.{name}.json"))["jobs"][0][rw]
    return j["bw_bytes"], j["iops"]
rows = {}
for t in targets:
    w = fio(t, "seqwrite", "write")[0]; r = fio(t, "seqread", "read")[0]
    rr = fio(t, "randread", "read")[1]; rw = fio(t, "randwrite", "write")[1]
    c, l, d = map(float, open(f"{res}/{t}.meta.txt").read().split())
    rows[t] = dict(w=w, r=r, rr=rr, rw=rw, c=c, l=l, d=d)
gib, mib = 1 << 30, 1 << 20
def bw(b): return f"{b/gib:.2f} GiB/s" if b >= gib else f"{b/mib:.0f} MiB/s"
mine = [t for t in ("ours", "ouring") if t in rows]
peers = "kernel" in rows and "bindfs" in rows
extra = [f"{t} / kernel" for t in mine] + [f"{t} / bindfs" for t in mine] if peers else []
print("| workload | " + " | ".join(targets + extra) + " |")
print("|---" * (len(targets) + len(extra) + 1) + "|")
spec = [("seq write 1 MiB", "w", bw, True), ("seq read 1 MiB", "r", bw, True),
        ("rand read 4 KiB (IOPS)", "rr", lambda v: f"{v/1000:.1f}k", True),
        ("rand write 4 KiB (IOPS)", "rw", lambda v: f"{v/1000:.1f}k", True),
        ("10,000 creates", "c", lambda v: f"{v:.3f} s", False), ("ls -l of 10,000", "l", lambda v: f"{v:.3f} s", False),
        ("10,000 deletes", "d", lambda v: f"{v:.3f} s", False)]
for label, k, f, higher in spec:
    cells = [f(rows[t][k]) for t in targets]
    if peers:
        kk, b = rows["kernel"][k], rows["bindfs"][k]
        for t in mine:
            o = rows[t][k]
            cells.append(f"{o/kk:.0%}" if higher else f"{o/kk:.1f}× the time")
        for t in mine:
            o = rows[t][k]
            cells.append(f"{o/b:.1f}×" if higher else f"{b/o:.1f}× faster")
    print(f"| {label} | " + " | ".join(cells) + " |")
PY
