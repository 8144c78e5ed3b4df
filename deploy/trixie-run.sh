#!/usr/bin/env bash
# Runs a command inside the Debian 13 (trixie) rootfs (deploy/trixie-rootfs.sh), with Node 24 as `node`, this
# checkout at its own path, the host's network (the shared servers on 127.0.0.1 answer as outside), from the
# current directory. E.g. the gateway on Node 24 with the native uWS build, on a Debian 12 machine:
#
#   deploy/trixie-run.sh node --import tsx cli/main.ts gateway
#
# The cached rootfs stays pristine: the command sees it through an overlay whose writes are thrown away, in a
# private mount namespace (unshare), so no mount outlives the command. Environment, stdio and inherited file
# descriptors pass through (a parent's IPC channel too: the gateway bench forks its Node 24 server this way).
# Needs root (mount namespaces, chroot).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" = --inside ]; then
  # In the private mount namespace: <rootfs> <scratch dir> <cwd> <command...>
  rootfs=$2 scratch=$3 cwd=$4
  shift 4
  root="$scratch/root"
  mkdir -p "$scratch/upper" "$scratch/work" "$root"
  mount -t overlay overlay -o "lowerdir=$rootfs,upperdir=$scratch/upper,workdir=$scratch/work" "$root"
  mount --rbind /dev "$root/dev"
  mount -t proc proc "$root/proc"
  mount --rbind /sys "$root/sys"
  mount -t tmpfs tmpfs "$root/tmp"
  mkdir -p "$root$repo"
  mount --bind "$repo" "$root$repo"
  cp /etc/hosts "$root/etc/hosts"
  exec chroot "$root" /usr/bin/env -C "$cwd" PATH="/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin" "$@"
fi
[ $# -gt 0 ] || { echo "usage: deploy/trixie-run.sh <command...>" >&2; exit 2; }
case "$PWD/" in
  "$repo"/*) ;;
  *) echo "trixie-run: run it from inside $repo (only the checkout is visible in the rootfs)" >&2; exit 2 ;;
esac
rootfs=$("$repo/deploy/trixie-rootfs.sh")
scratch=$(mktemp -d /tmp/tickflow-trixie.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
status=0
unshare --mount --propagation private -- "$0" --inside "$rootfs" "$scratch" "$PWD" "$@" || status=$?
exit "$status"
