#!/usr/bin/env bash
# Builds and installs the tmpfs command (scripts/install.sh: /usr/local/bin/tmpfs, and fuse3
# if missing), then mounts a tmpfs with the kernel's defaults on MOUNTPOINT (default
# /tmp/tmpfs-demo, created if missing) and shows it. Run as root on a fresh clone:
#
#   sudo scripts/mount.sh [MOUNTPOINT] [-o OPTIONS]
#
# Unmount with `umount MOUNTPOINT` (or `tmpfs umount MOUNTPOINT`); the daemon ends with its last mount.
set -euo pipefail
cd "$(dirname "$0")/.."
mountpoint=/tmp/tmpfs-demo
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then mountpoint=$1; shift; fi
scripts/install.sh
mkdir -p "$mountpoint"
"${PREFIX:-/usr/local}/bin/tmpfs" mount "$@" "$mountpoint"
grep " $mountpoint " /proc/mounts
df -h "$mountpoint"
