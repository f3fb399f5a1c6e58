#!/usr/bin/env python3
"""Per-operation latency on several mounted directories at once, interleaved.

    python3 bench/fuse/interleave.py DIR... (ROUNDS=21 by default)

Each round runs a batch of 200 operations of each kind on every directory in turn (the
order flips every round), so a burst of load on the shared machine hits all of them alike;
the medians over the rounds are printed in microseconds per operation. Used for the
interleaved table in docs/benchmarks.md (two FUSE servers, bindfs, the kernel's tmpfs).
"""
import os
import statistics
import sys
import time

dirs = sys.argv[1:]
batch = 200
rounds = int(os.environ.get("ROUNDS", "21"))
kinds = ["create", "miss", "xattr", "stat", "unlink"]
res = {d: {k: [] for k in kinds} for d in dirs}
tag = f"{os.getpid()}"
for d in dirs:
    os.makedirs(f"{d}/interleave", exist_ok=True)


def timed(d, kind, op):
    t = time.perf_counter()
    for i in range(batch):
        op(i)
    res[d][kind].append((time.perf_counter() - t) / batch * 1e6)


def missing(path):
    try:
        os.stat(path)
    except FileNotFoundError:
        pass


def no_xattr(path):
    try:
        os.getxattr(path, "security.selinux", follow_symlinks=False)
    except OSError:
        pass


for r in range(rounds):
    for d in dirs if r % 2 == 0 else dirs[::-1]:
        p = f"{d}/interleave/{tag}_{r}_"
        timed(d, "create", lambda i: os.close(os.open(f"{p}{i}", os.O_CREAT | os.O_WRONLY, 0o644)))
        timed(d, "miss", lambda i: missing(f"{p}missing{i}"))
        timed(d, "xattr", lambda i: no_xattr(f"{p}{i}"))
        timed(d, "stat", lambda i: os.stat(f"{p}{i}"))
        timed(d, "unlink", lambda i: os.unlink(f"{p}{i}"))

for d in dirs:
    os.rmdir(f"{d}/interleave")
print("| operation | " + " | ".join(dirs) + " |")
print("|---" * (len(dirs) + 1) + "|")
for k in kinds:
    print(f"| {k} | " + " | ".join(f"{statistics.median(res[d][k]):.1f}" for d in dirs) + " |")
