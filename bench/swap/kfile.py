#!/usr/bin/env python3
"""Writes or reads a file in chunks with plain write(2)/read(2); prints the seconds taken.

The kernel side of bench/swap/run.sh uses it for the write because dd if=/dev/zero
would hand the kernel zero-filled pages, which swap since Linux 6.12 records in a
bitmap instead of writing them to the device: the benchmark would not touch the disk.
The chunk is random bytes, the same chunk every time (as the engine's side writes).
"""
import os
import sys
import time

mode, path, size, chunk = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
buf = bytearray(os.urandom(chunk))
if mode == "write":
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    t = time.perf_counter()
    off = 0
    while off < size:
        n = os.write(fd, buf)
        if n != chunk:
            sys.exit(f"short write at {off}")
        off += n
    elapsed = time.perf_counter() - t
else:
    fd = os.open(path, os.O_RDONLY)
    view = memoryview(buf)
    t = time.perf_counter()
    off = 0
    while off < size:
        n = os.readv(fd, [view])
        if n != chunk:
            sys.exit(f"short read at {off}")
        off += n
    elapsed = time.perf_counter() - t
os.close(fd)
print(f"{elapsed:.3f}")
