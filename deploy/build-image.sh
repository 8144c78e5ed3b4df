#!/usr/bin/env bash
# Builds the repo's Dockerfile with buildah, without Docker Hub, checks that the image runs, and reports its size:
#
#   deploy/build-image.sh [tag]     (default localhost/tickflow:<package.json version>; root; apt-get install buildah runc)
#
# 1. The base image (the Dockerfile's NODE_IMAGE) is made locally from the trixie rootfs (deploy/trixie-rootfs.sh:
#    Debian 13 from Debian's mirror, debootstrap, slimmed as Debian's images are; the Dockerfile's Node from the npm
#    registry), in two layers so the size report tells Debian from Node; once per machine, again when the rootfs is
#    made again (another Node pinned in the Dockerfile, say).
# 2. `buildah build --pull=never --build-arg NODE_IMAGE=<that base>` of the unchanged Dockerfile.
# 3. The image runs (`buildah run`, host network; podman cannot run containers in this VM, see below): `--version`,
#    `config`, `migrate` on a fresh database of CHECK_DATABASE_URL's server (default the machine's PostgreSQL on
#    127.0.0.1:5432), `topics apply` under a TOPIC_PREFIX of its own (both dropped after), the API's /health and
#    /ready, the gateway's /ready (which uWS build serves), each stage stopped with SIGTERM through tini and exiting 0
#    with no WARN or ERROR line. CHECK=off skips this step.
# 4. The layers' sizes: our Debian, Node, tini, node_modules, dist.
# Where Docker Hub is reachable none of this is needed: `docker build .` uses the official node:<version>-trixie-slim.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
say() { echo "build-image: $*" >&2; }
command -v buildah >/dev/null || { say "buildah is missing: apt-get install -y buildah podman"; exit 1; }
version=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$repo/package.json" | head -n1)
tag=${1:-localhost/tickflow:$version}

rootfs=$("$repo/deploy/trixie-rootfs.sh")
node_version=$(cat "$rootfs/usr/local/.tickflow-node-version")
base=localhost/tickflow-node:$node_version-trixie
debian=localhost/tickflow-debian:trixie

# The rootfs's state (its two completion markers' times): a rootfs made again makes the base again.
stamp=$(stat -c %Y "$rootfs"/.tickflow-debootstrap-complete "$rootfs"/.tickflow-slim "$rootfs"/usr/local/.tickflow-node-version | paste -sd-)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ "$(buildah inspect --type image --format '{{index .ImageAnnotations "tickflow.rootfs"}}' "$base" 2>/dev/null)" != "$stamp" ]; then
  # Layer 1: Debian 13 and the user `node`, without Node (the files Node's package puts under /usr/local).
  say "base image $base: layer 1, Debian (from $rootfs)"
  # Not the machine's DNS settings or name (debootstrap copied them; the container runtime provides its own).
  tar -C "$rootfs" --numeric-owner --exclude='./.tickflow-*' --exclude=./usr/local/.tickflow-node-version \
    --exclude=./etc/resolv.conf --exclude=./etc/hostname \
    --exclude='./usr/local/bin/*' --exclude='./usr/local/include/*' --exclude='./usr/local/lib/*' --exclude='./usr/local/share/*' \
    -cf "$work/debian.tar" .
  ctr=$(buildah from --pull=never scratch)
  buildah add "$ctr" "$work/debian.tar" / >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd bash \
    --created-by "tickflow base: Debian 13 slim (deploy/trixie-rootfs.sh)" "$ctr"
  buildah commit --quiet --rm "$ctr" "$debian" >/dev/null
  # Layer 2: Node, as the official image has it (/usr/local/bin/node, npm, npx, corepack) and its CMD.
  say "base image $base: layer 2, Node $node_version"
  tar -C "$rootfs/usr/local" --numeric-owner -cf "$work/node.tar" bin include lib share
  ctr=$(buildah from --pull=never "$debian")
  buildah add "$ctr" "$work/node.tar" /usr/local >/dev/null
  buildah config --env NODE_VERSION="$node_version" --cmd node --created-by "tickflow base: Node $node_version and npm" \
    --label org.opencontainers.image.description="Debian 13 slim + Node $node_version (deploy/build-image.sh)" "$ctr"
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
# --network host: the build's RUN steps (npm ci, apt-get) reach the registries as this machine does. --format docker:
# OCI image configs have no HEALTHCHECK.
buildah build "${runtime[@]}" "${volumes[@]}" --pull=never --network host --layers --format docker \
  --build-arg NODE_IMAGE="$base" -t "$tag" -f "$repo/Dockerfile" "$repo" >&2

failed=()
if [ "${CHECK:-on}" != off ]; then
  # podman run fails in this VM before the container starts (runc and crun alike: "error setting rlimit type 7:
  # operation not permitted", then type 6 with --ulimit), while buildah's RUN steps run: the checks use buildah run,
  # which runs the image's user, working directory and environment; the entrypoint is spelled out.
  entry=(/usr/bin/tini -- node dist/bin/tickflow.js)
  check=$(buildah from --pull=never "$tag")
  database="tickflow_image_check_$(date +%s)"
  server=${CHECK_DATABASE_URL:-postgres://postgres@127.0.0.1:5432}
  cleanup() {
    # The check's topics (topics apply created them under its prefix), deleted with the image's own kafkajs.
    buildah run "${runtime[@]}" --network host "${run_env[@]}" "$check" -- node -e "$delete_topics" >/dev/null 2>&1 ||
      say "left the topics $prefix* on the broker"
    buildah rm "$check" >/dev/null 2>&1 || true
    # The check's database (migrate created it); needs PostgreSQL's client tools here, else it is left, and said.
    dropdb --if-exists --maintenance-db="$server/postgres" "$database" 2>/dev/null || say "left database $database on $server"
    rm -rf "$work"
  }
  trap cleanup EXIT
  # Its own topics too (a TOPIC_PREFIX, as the tests have): the gateway reads its topics and refuses to start without
  # them, and a broker that never ran `setup` (a new machine) has none.
  prefix="$database."
  delete_topics="const { Kafka } = require('kafkajs');
    const admin = new Kafka({ brokers: (process.env.KAFKA_BROKERS || '127.0.0.1:9092').split(','), logCreator: () => () => {} }).admin();
    admin.connect().then(() => admin.listTopics()).then((topics) => admin.deleteTopics({ topics: topics.filter((topic) => topic.startsWith('$prefix')) }))
      .then(() => admin.disconnect(), (error) => { console.error(error.message); process.exit(1); });"
  in_image() { buildah run "${runtime[@]}" --network host "${run_env[@]}" "$check" -- "${entry[@]}" "$@"; }
  free_port() { node -e "const s = require('net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); })"; }
  run_env=(-e "DATABASE_URL=$server/$database" -e "TOPIC_PREFIX=$prefix" -e "JWT_SECRET=image-check-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')")
  say "check: --version -> $(in_image --version)"
  say "check: config -> $(in_image config | grep -c '^[A-Z]') variables"
  say "check: migrate on $server/$database, then topics apply ($prefix*, their schemas)"
  in_image migrate >&2
  in_image topics apply >&2
  # A long-running stage: up, its probes answer, SIGTERM to tini (PID 1 in the container) drains it, exit 0, and
  # nothing at WARN or above (pino levels 40+, Node's own warnings) in its output.
  stage() {
    local name=$1 port=$2 log="$work/$1.log"
    shift 2
    in_image "$name" >"$log" 2>&1 &
    local runner=$! pid=
    for _ in $(seq 1 60); do
      curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
      sleep 1
    done
    for path in "$@"; do say "check: $name $path -> $(curl -s "http://127.0.0.1:$port$path")"; done
    pid=$(ss -Hltnp "sport = :$port" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n1)
    if [ -z "$pid" ]; then
      say "check: $name FAILED: nothing listens on $port; its log:"
      kill "$runner" 2>/dev/null || true
      cat "$log" >&2
      failed+=("$name")
      return
    fi
    kill -TERM "$(ps -o ppid= -p "$pid" | tr -d ' ')"
    local status=0
    wait "$runner" || status=$?
    if [ "$status" != 0 ] || grep -qE '"level":(40|50|60)|Warning:' "$log"; then
      say "check: $name FAILED: exit $status after SIGTERM, or a warning or error in its output; its log:"
      cat "$log" >&2
      failed+=("$name")
    else
      say "check: $name stopped cleanly on SIGTERM (exit 0, no WARN/ERROR line)"
    fi
  }
  api=$(free_port) api_ops=$(free_port) gateway=$(free_port) gateway_ops=$(free_port)
  run_env+=(-e "API_PORT=$api" -e "API_OPS_PORT=$api_ops")
  stage api "$api" /health /ready
  run_env+=(-e "GATEWAY_PORT=$gateway" -e "GATEWAY_OPS_PORT=$gateway_ops")
  stage gateway "$gateway" /ready
fi

# Sizes: per layer from the image's history (uncompressed), grouped by what each layer holds.
say "image $tag: $(buildah images --format '{{.Size}}' "$tag") uncompressed; per layer:"
podman history --format json "$tag" >"$work/layers.json" 2>/dev/null || true
node - "$work/layers.json" >&2 <<'JS'
const layers = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8')).filter((layer) => layer.size > 0).reverse();
const groups = [
  [/tickflow base: Debian/, 'Debian 13 slim (our base, deploy/trixie-rootfs.sh)'],
  [/tickflow base: Node/, 'Node + npm (our base, from the npm registry)'],
  [/apt-get .*tini/, 'tini (apt-get in the runtime stage)'],
  [/in \.\/node_modules/, 'node_modules (npm ci --omit=dev)'],
  [/in \.\/dist/, 'dist/ (the compiled build)'],
];
const mb = (bytes) => `${(bytes / 1e6).toFixed(1).padStart(7)} MB`;
let total = 0;
for (const layer of layers) {
  total += layer.size;
  const group = groups.find(([pattern]) => pattern.test(layer.CreatedBy))?.[1] ?? layer.CreatedBy.replace('/bin/sh -c #(nop) ', '').slice(0, 60);
  console.log(`${mb(layer.size)}  ${group}`);
}
console.log(`${mb(total)}  total`);
JS
if [ "${#failed[@]}" -gt 0 ]; then
  say "image $tag built, but these checks failed: ${failed[*]} (above)"
  exit 1
fi
echo "$tag"
