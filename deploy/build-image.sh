#!/usr/bin/env bash
# Builds the repo's Dockerfile with buildah, without Docker Hub: the base image (`NODE_IMAGE`) is made locally from
# the trixie rootfs (deploy/trixie-rootfs.sh: Debian 13 minbase from Debian's mirror + the Dockerfile's Node from the
# npm registry), then `buildah build --pull=never --build-arg NODE_IMAGE=<that base>`; prints the image's layers.
#
#   deploy/build-image.sh [tag]        (default tag: localhost/tickflow:<package.json version>; needs root, buildah)
#
# The base has two layers, so the size report tells Debian from Node: the rootfs without /usr/local's Node, then
# Node. It is made once per machine and reused (rebuilt when the Dockerfile pins another Node). Where Docker Hub is
# reachable none of this is needed: `docker build .` uses the official node:<version>-trixie-slim.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
say() { echo "build-image: $*" >&2; }
command -v buildah >/dev/null || { say "buildah is missing: apt-get install -y buildah podman"; exit 1; }
version=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$repo/package.json" | head -n1)
tag=${1:-localhost/tickflow:$version}

rootfs=$("$repo/deploy/trixie-rootfs.sh")
node_version=$(cat "$rootfs/usr/local/.tickflow-node-version")
base=localhost/tickflow-node:$node_version-trixie
debian=localhost/tickflow-debian:trixie-minbase

# The rootfs's state (its two completion markers' times): a rootfs made again makes the base again.
stamp=$(stat -c %Y "$rootfs/.tickflow-debootstrap-complete" "$rootfs/usr/local/.tickflow-node-version" | paste -sd-)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ "$(buildah inspect --type image --format '{{index .ImageAnnotations "tickflow.rootfs"}}' "$base" 2>/dev/null)" != "$stamp" ]; then
  # Layer 1: Debian 13 minbase and the user `node`, without Node (the files Node's package puts under /usr/local).
  say "base image $base: layer 1, Debian (from $rootfs)"
  tar -C "$rootfs" --numeric-owner --exclude=./.tickflow-debootstrap-complete --exclude=./usr/local/.tickflow-node-version \
    --exclude='./usr/local/bin/*' --exclude='./usr/local/include/*' --exclude='./usr/local/lib/*' --exclude='./usr/local/share/*' \
    -cf "$work/debian.tar" .
  ctr=$(buildah from --pull=never scratch)
  buildah add "$ctr" "$work/debian.tar" / >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd bash "$ctr"
  buildah commit --quiet --rm "$ctr" "$debian" >/dev/null
  # Layer 2: Node, as the official image has it (/usr/local/bin/node, npm, npx, corepack) and its CMD.
  say "base image $base: layer 2, Node $node_version"
  tar -C "$rootfs/usr/local" --numeric-owner -cf "$work/node.tar" bin include lib share
  ctr=$(buildah from --pull=never "$debian")
  buildah add "$ctr" "$work/node.tar" /usr/local >/dev/null
  buildah config --env NODE_VERSION="$node_version" --cmd node \
    --label org.opencontainers.image.description="Debian 13 minbase + Node $node_version (deploy/build-image.sh)" "$ctr"
  buildah config --annotation tickflow.rootfs="$stamp" "$ctr"
  buildah commit --quiet --rm "$ctr" "$base" >/dev/null
fi

# crun (buildah's default here) refuses cgroups v1/hybrid ("cgroups in hybrid mode not supported"), which VMs like
# this one have; runc runs there.
runtime=()
if [ ! -f /sys/fs/cgroup/cgroup.controllers ]; then
  command -v runc >/dev/null || { say "cgroups v1/hybrid here: crun cannot run the build's RUN steps; apt-get install -y runc"; exit 1; }
  runtime=(--runtime "$(command -v runc)")
fi

# A machine whose TLS to the npm registry goes through an intercepting proxy trusts that proxy's CA (npm's cafile or
# NODE_EXTRA_CA_CERTS): the build's npm steps get it as a read-only mount and an npmrc naming it, never in a layer.
volumes=()
ca=${NODE_EXTRA_CA_CERTS:-$(npm config get cafile 2>/dev/null || true)}
if [ -n "$ca" ] && [ "$ca" != null ] && [ -f "$ca" ]; then
  echo "cafile=/run/tickflow-build-ca.crt" > "$work/npmrc"
  volumes=(--volume "$ca:/run/tickflow-build-ca.crt:ro" --volume "$work/npmrc:/root/.npmrc:ro")
  say "the build's npm trusts $ca (mounted, not copied)"
fi

say "buildah build $repo/Dockerfile -> $tag (base $base, no pulls)"
# --network host: the build's RUN steps (npm ci, apt-get) reach the registries as this machine does.
buildah build "${runtime[@]}" "${volumes[@]}" --pull=never --network host --layers --build-arg NODE_IMAGE="$base" -t "$tag" -f "$repo/Dockerfile" "$repo" >&2

say "image $tag"
buildah images --format '{{.Name}}:{{.Tag}} {{.Size}}' "$tag" >&2
podman history --format '{{.Size}}\t{{.CreatedBy}}' "$tag" >&2 2>/dev/null || true
echo "$tag"
