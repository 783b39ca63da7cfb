#!/usr/bin/env bash
# Installs the servers the tests run against for real, into .test-tools/bin (git-ignored):
#   versitygw: an S3-compatible object store (Go, through the Go module proxy). Measured against
#   s3s-fs, MinIO, gofakes3, moto and s3rver: the fastest cold install (~2 min) among those that
#   check signatures and pass the SDK's streaming uploads, ranges, listing and virtual-host checks.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$PWD/.test-tools/bin"
# openssl makes the certificate of the gRPC TLS test; sox makes the tones and noises that tests
# lay over speech (sound events, waveform graphs); curl is one of the clients the compatibility
# tests send requests with; chromium is the real browser the web console's tests drive
# (test/web/, through playwright-core, which never downloads one); postgresql is the cluster
# mode's job store, which scripts/postgres.sh runs in a directory of its own (the package's own
# cluster is not used); haproxy checks deploy/haproxy.cfg (test/deploy/).
MISSING=""
command -v openssl >/dev/null 2>&1 || MISSING="$MISSING openssl"
command -v sox >/dev/null 2>&1 || MISSING="$MISSING sox"
command -v curl >/dev/null 2>&1 || MISSING="$MISSING curl"
command -v chromium >/dev/null 2>&1 || MISSING="$MISSING chromium"
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || MISSING="$MISSING postgresql"
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || MISSING="$MISSING haproxy"
if [ -n "$MISSING" ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing$MISSING (apt)..." >&2
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $MISSING >/dev/null
fi
mkdir -p "$BIN"
if [ ! -x "$BIN/versitygw" ]; then
  if ! command -v go >/dev/null 2>&1; then
    echo "the tests need Go (>= 1.22) to install versitygw, an S3-compatible server" >&2
    exit 1
  fi
  echo "installing versitygw (S3-compatible server for the tests)..." >&2
  GOBIN="$BIN" GOFLAGS=-buildvcs=false go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
fi
# deploy/compose.yaml is checked by compose-go, the library `docker compose` is built on
# (deploy/validate, pinned in its go.mod); no Docker daemon or compose plugin needed.
if [ ! -x "$BIN/compose-config" ] || [ deploy/validate/go.sum -nt "$BIN/compose-config" ]; then
  echo "building compose-config (compose-go) for the deployment tests..." >&2
  (cd deploy/validate && GOFLAGS=-buildvcs=false go build -o "$BIN/compose-config" .)
fi

# Python's grpcio: a second, independent gRPC client proves NestService wire compatibility.
PY="$PWD/.test-tools/py"
if [ ! -x "$PY/bin/python" ] || ! "$PY/bin/python" -c 'import grpc, grpc_tools' >/dev/null 2>&1; then
  echo "installing grpcio for the Python streaming client test..." >&2
  python3 -m venv "$PY"
  "$PY/bin/pip" install -q --disable-pip-version-check 'grpcio>=1.60' 'grpcio-tools>=1.60'
fi

# The compatibility suite's clients in other languages (test/compat/): each script installs or
# builds its own, from the registries, and does nothing when it is already there.
for client in scripts/test-clients/*.sh; do
  if [ -e "$client" ]; then bash "$client"; fi
done

