#!/usr/bin/env bash
# A Sori cluster on this machine, for development and tests:
#
#   scripts/cluster.sh up N      PostgreSQL (scripts/postgres.sh), the S3-compatible test server
#                                (.test-tools/bin/versitygw) and N nodes; prints one line per node
#                                and returns once every node's /healthz answers 200
#   scripts/cluster.sh kill I    SIGKILLs node I; returns once its ports are free
#   scripts/cluster.sh start I   starts node I again (same ports, same data directory)
#   scripts/cluster.sh down      stops everything `up` started
#
# Node I listens on HTTP SORI_PORT+I-1 (default 8080) and gRPC SORI_GRPC_PORT+I-1 (default
# 50051), on SORI_HOST (default 127.0.0.1). Every node shares SORI_API_KEY (generated into the
# cluster directory when unset), the PostgreSQL job store and the bucket, in cluster mode
# (SORI_MEDIA_STORE=s3: uploads wait in the bucket, so any node runs any job); each has its own data
# directory, which no other node reads. Other SORI_* variables (SORI_MODELS_DIR, SORI_JOB_WORKERS,
# ...) pass through to the nodes, also to `start I` alone. State, logs and data live in
# SORI_CLUSTER_DIR (default .cluster/, git-ignored).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
cd "$REPO"
. scripts/node-env.sh
CLUSTER=${SORI_CLUSTER_DIR:-$REPO/.cluster}
mkdir -p "$CLUSTER"
CLUSTER="$(cd "$CLUSTER" && pwd)"
# PostgreSQL runs as another user (scripts/postgres.sh) and must reach its directory inside.
[ "$(id -u)" -ne 0 ] || chmod o+x "$CLUSTER"
HEALTH_TIMEOUT_S=${SORI_CLUSTER_HEALTH_TIMEOUT:-600}
BUCKET=sori-cluster
S3_ACCESS=soriclusteraccess

usage() {
  echo "usage: $0 up N | kill I | start I | down" >&2
  exit 2
}

port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A process that exists and is not a zombie (nothing may reap it at once in a container).
running() {
  local stat
  # /proc/PID/stat: "pid (comm) state ...", comm may hold spaces; ps may not be installed.
  read -r stat 2>/dev/null </proc/"$1"/stat || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

alive() {
  [ -f "$1" ] && running "$(cat "$1")"
}

# A random secret, written once (mode 0600) and kept for the cluster's life.
secret_file() {
  [ -s "$1" ] || (umask 077 && head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$1")
  cat "$1"
}

start_s3() {
  local bin="$REPO/.test-tools/bin/versitygw" port
  [ -x "$bin" ] || { echo "versitygw is not installed: run scripts/install-test-services.sh" >&2; exit 1; }
  if alive "$CLUSTER/s3.pid"; then return; fi
  port=${SORI_CLUSTER_S3_PORT:-7070}
  while ! port_free "$port"; do port=$((port + 1)); done
  # versitygw's posix backend: a bucket is a directory under its root.
  mkdir -p "$CLUSTER/s3/$BUCKET"
  # The secret through the environment, not the command line that `ps` shows.
  ROOT_ACCESS_KEY_ID="$S3_ACCESS" ROOT_SECRET_ACCESS_KEY="$(secret_file "$CLUSTER/s3-secret")" \
    setsid "$bin" --port "127.0.0.1:$port" --quiet posix "$CLUSTER/s3" </dev/null >"$CLUSTER/s3.log" 2>&1 &
  echo $! >"$CLUSTER/s3.pid"
  echo "$port" >"$CLUSTER/s3.port"
  for _ in $(seq 1 100); do
    if curl -s -o /dev/null "http://127.0.0.1:$port/"; then return; fi
    alive "$CLUSTER/s3.pid" || { cat "$CLUSTER/s3.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "versitygw did not start (log: $CLUSTER/s3.log)" >&2
  exit 1
}

# What every node shares, written by `up` so that `start I` starts a node exactly as `up` did.
write_env() {
  local db_url=$1
  local key=${SORI_API_KEY:-}
  [ -n "$key" ] || key=$(secret_file "$CLUSTER/api-key")
  (
    umask 077
    {
      printf 'export SORI_API_KEY=%q\n' "$key"
      printf 'export SORI_DATABASE_URL=%q\n' "$db_url"
      printf 'export SORI_S3_ENDPOINT=%q\n' "http://127.0.0.1:$(cat "$CLUSTER/s3.port")"
      printf 'export SORI_S3_BUCKET=%q\n' "$BUCKET"
      printf 'export SORI_S3_ACCESS_KEY_ID=%q\n' "$S3_ACCESS"
      printf 'export SORI_S3_SECRET_ACCESS_KEY=%q\n' "$(cat "$CLUSTER/s3-secret")"
      printf 'export SORI_S3_PATH_STYLE=true\n'
      printf 'export SORI_MEDIA_STORE=s3\n'
      printf 'export CLUSTER_HOST=%q\n' "${SORI_HOST:-127.0.0.1}"
      printf 'export CLUSTER_PORT=%q\n' "${SORI_PORT:-8080}"
      printf 'export CLUSTER_GRPC_PORT=%q\n' "${SORI_GRPC_PORT:-50051}"
    } >"$CLUSTER/env"
  )
}

node_ports() {
  HTTP_PORT=$((CLUSTER_PORT + $1 - 1))
  GRPC_PORT=$((CLUSTER_GRPC_PORT + $1 - 1))
}

start_node() {
  local i=$1 dir="$CLUSTER/node$1" loader
  [ -f "$CLUSTER/env" ] || { echo "no cluster in $CLUSTER: run '$0 up N' first" >&2; exit 1; }
  . "$CLUSTER/env"
  node_ports "$i"
  if alive "$dir.pid"; then echo "node$i is already running (pid $(cat "$dir.pid"))" >&2; exit 1; fi
  for p in "$HTTP_PORT" "$GRPC_PORT"; do
    port_free "$p" || { echo "node$i: port $p is taken" >&2; exit 1; }
  done
  mkdir -p "$dir/data"
  loader=$(node --input-type=module -e "process.stdout.write(import.meta.resolve('tsx'))")
  # Its own directory as working directory: no sori.yaml of the checkout is picked up by mistake.
  (
    cd "$dir"
    SORI_DATA_DIR="$dir/data" SORI_HOST="$CLUSTER_HOST" SORI_PORT="$HTTP_PORT" SORI_GRPC_PORT="$GRPC_PORT" \
      setsid node --import "$loader" "$REPO/src/main.ts" </dev/null >>"$dir.log" 2>&1 &
    echo $! >"$dir.pid"
  )
}

wait_healthy() {
  local i=$1 deadline=$((SECONDS + HEALTH_TIMEOUT_S))
  . "$CLUSTER/env"
  node_ports "$i"
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/healthz" 2>/dev/null)" = 200 ]; do
    if ! alive "$CLUSTER/node$i.pid"; then
      echo "node$i exited; the end of its log ($CLUSTER/node$i.log):" >&2
      tail -n 20 "$CLUSTER/node$i.log" >&2
      exit 1
    fi
    [ "$SECONDS" -lt "$deadline" ] || { echo "node$i: /healthz not 200 after ${HEALTH_TIMEOUT_S} s" >&2; exit 1; }
    sleep 0.5
  done
}

print_node() {
  local i=$1
  . "$CLUSTER/env"
  node_ports "$i"
  echo "node$i http://$CLUSTER_HOST:$HTTP_PORT grpc $CLUSTER_HOST:$GRPC_PORT pid $(cat "$CLUSTER/node$i.pid")"
}

stop_pid() {
  local file=$1
  if alive "$file"; then
    local pid
    pid=$(cat "$file")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do running "$pid" || break; sleep 0.1; done
    kill_now "$pid"
  fi
  rm -f "$file"
}

kill_now() {
  kill -KILL "$1" 2>/dev/null || true
  for _ in $(seq 1 50); do running "$1" || return 0; sleep 0.1; done
}

node_index() {
  [[ ${1:-} =~ ^[1-9][0-9]*$ ]] || usage
  [ -f "$CLUSTER/nodes" ] && [ "$1" -le "$(cat "$CLUSTER/nodes")" ] || { echo "no node $1 in this cluster" >&2; exit 1; }
}

case "${1:-}" in
  up)
    [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage
    n=$2
    db_url=$(bash scripts/postgres.sh start "$CLUSTER/postgres")
    start_s3
    write_env "$db_url"
    echo "$n" >"$CLUSTER/nodes"
    # Nodes still running from an earlier `up` are kept.
    for i in $(seq 1 "$n"); do alive "$CLUSTER/node$i.pid" || start_node "$i"; done
    for i in $(seq 1 "$n"); do wait_healthy "$i"; done
    for i in $(seq 1 "$n"); do print_node "$i"; done
    ;;
  kill)
    node_index "${2:-}"
    if alive "$CLUSTER/node$2.pid"; then kill_now "$(cat "$CLUSTER/node$2.pid")"; fi
    rm -f "$CLUSTER/node$2.pid"
    # The main thread turns zombie before the other threads are gone, and they hold the
    # listening sockets a little longer: return once the ports are free, so `start I` can follow.
    . "$CLUSTER/env"
    node_ports "$2"
    for _ in $(seq 1 100); do port_free "$HTTP_PORT" && port_free "$GRPC_PORT" && break; sleep 0.1; done
    ;;
  start)
    node_index "${2:-}"
    start_node "$2"
    wait_healthy "$2"
    print_node "$2"
    ;;
  down)
    if [ -f "$CLUSTER/nodes" ]; then
      for i in $(seq 1 "$(cat "$CLUSTER/nodes")"); do stop_pid "$CLUSTER/node$i.pid"; done
    fi
    stop_pid "$CLUSTER/s3.pid"
    bash scripts/postgres.sh stop "$CLUSTER/postgres"
    ;;
  *) usage ;;
esac
