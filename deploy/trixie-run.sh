#!/usr/bin/env bash
# Runs a command inside the Debian 13 (trixie) rootfs (deploy/trixie-rootfs.sh), with Node 24 as `node`, this
# checkout at its own path, the host's network (the shared servers on 127.0.0.1 answer as outside), from the
# current directory. E.g. the gateway on Node 24 with the native uWS build, on a Debian 12 machine:
#
#   deploy/trixie-run.sh node --import tsx cli/main.ts gateway
#
# The cached rootfs stays pristine: the command sees it through an overlay whose writes are thrown away, in a
# private mount namespace (unshare), so no mount and no file outlives the command. Environment, stdio and inherited file
# descriptors pass through (a parent's IPC channel too: the gateway bench forks its Node 24 server this way).
# Needs root (mount namespaces, chroot).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" = --inside ]; then
  # In the private mount namespace: <rootfs> <mount point> <cwd> <command...>. Everything is mounted on a tmpfs
  # that only this namespace sees: the rootfs under an overlay whose writes land in that tmpfs, so nothing is
  # left to clean up when the command ends, and runs at the same time do not meet.
  rootfs=$2 scratch=$3 cwd=$4
  shift 4
  mount -t tmpfs tmpfs "$scratch"
  root="$scratch/root"
  mkdir -p "$scratch/upper" "$scratch/work" "$root"
  mount -t overlay overlay -o "lowerdir=$rootfs,upperdir=$scratch/upper,workdir=$scratch/work" "$root"
  mount --rbind /dev "$root/dev"
  mount -t proc proc "$root/proc"
  mount --rbind /sys "$root/sys"
  mount -t tmpfs tmpfs "$root/tmp"
  mkdir -p "$root$repo"
  mount --bind "$repo" "$root$repo"
  cp /etc/hosts /etc/resolv.conf "$root/etc/"
  # A CA bundle the host's Node is told to trust (an intercepting proxy's, say) is trusted inside too.
  if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
    mkdir -p "$root$(dirname "$NODE_EXTRA_CA_CERTS")"
    touch "$root$NODE_EXTRA_CA_CERTS"
    mount --bind -o ro "$NODE_EXTRA_CA_CERTS" "$root$NODE_EXTRA_CA_CERTS"
  fi
  exec chroot "$root" /usr/bin/env -C "$cwd" PATH="/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin" "$@"
fi
[ $# -gt 0 ] || { echo "usage: deploy/trixie-run.sh <command...>" >&2; exit 2; }
case "$PWD/" in
  "$repo"/*) ;;
  *) echo "trixie-run: run it from inside $repo (only the checkout is visible in the rootfs)" >&2; exit 2 ;;
esac
rootfs=$("$repo/deploy/trixie-rootfs.sh")
# An empty directory, the same for every run: each run mounts its own tmpfs there, in its own namespace.
scratch="$(dirname "$rootfs")/trixie-run"
mkdir -p "$scratch"
# unshare, this script's --inside part and chroot all exec in place: the command is the process that started this
# script (signals, exit status and inherited file descriptors such as a parent's IPC channel reach it directly).
exec unshare --mount --propagation private -- "$0" --inside "$rootfs" "$scratch" "$PWD" "$@"
