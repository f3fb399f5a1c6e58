#!/usr/bin/env bash
# Installs the tmpfs command: publishes src/Tmpfs.Cli (Release) to PREFIX/lib/tmpfs-dotnet and
# puts a wrapper at PREFIX/bin/tmpfs. mount(8) needs the command at a fixed place: it drops
# PATH before running mount.fuse3, whose /bin/sh then searches /usr/local/sbin:/usr/local/bin:
# /usr/sbin:/usr/bin:/sbin:/bin for "tmpfs" (the type fuse.tmpfs names it). Also installs
# fuse3 (mount.fuse3, fusermount3) with apt-get when it is missing and we are root.
#
#   scripts/install.sh                 # PREFIX=/usr/local
#   PREFIX=/opt/tmpfs scripts/install.sh
#   scripts/install.sh --uninstall
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${PREFIX:-/usr/local}
lib="$prefix/lib/tmpfs-dotnet"

if [ "${1:-}" = "--uninstall" ]; then
  rm -rf "$lib" "$prefix/bin/tmpfs"
  echo "removed $prefix/bin/tmpfs and $lib"
  exit 0
fi

if ! command -v mount.fuse3 >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fuse3) >/dev/null 2>&1 \
    || echo "warning: could not install fuse3 (mount -t fuse.tmpfs and fusermount3 need it)" >&2
fi

dotnet publish src/Tmpfs.Cli -c Release -o "$lib" --nologo -v quiet >/dev/null
dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
mkdir -p "$prefix/bin"
cat > "$prefix/bin/tmpfs.new" <<WRAPPER
#!/bin/sh
# tmpfs for .NET (installed by scripts/install.sh from $(pwd))
export DOTNET_ROOT="\${DOTNET_ROOT:-$dotnet_root}"
exec "$lib/tmpfs" "\$@"
WRAPPER
chmod 755 "$prefix/bin/tmpfs.new"
mv "$prefix/bin/tmpfs.new" "$prefix/bin/tmpfs"
echo "installed $prefix/bin/tmpfs"
