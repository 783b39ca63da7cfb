#!/usr/bin/env bash
# A private PostgreSQL for development and tests, from Debian's `postgresql` package
# (scripts/install-test-services.sh installs it), in a directory of its own:
#
#   scripts/postgres.sh start [DIR]   initdb on first use, start, print the connection URL
#   scripts/postgres.sh stop [DIR] [fast|immediate]
#                                     fast (default) ends open sessions cleanly; immediate is a crash
#   scripts/postgres.sh url [DIR]     print the connection URL
#
# DIR defaults to .cluster/postgres (git-ignored). The server listens on 127.0.0.1 only, on
# SORI_PG_PORT or the first free port from 55432, kept for the directory's life so a restart
# comes back where clients reconnect. It runs as an unprivileged user (PostgreSQL refuses root;
# CI runs as root): `postgres`, which the Debian package creates, else `sori-postgres`,
# created here. A superuser `sori` with a generated password (DIR/password) owns database `sori`.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
CMD=${1:-}
case "$CMD" in start | stop | url) ;; *) echo "usage: $0 start|stop|url [DIR] [stop mode]" >&2; exit 2 ;; esac
DIR=${2:-$REPO/.cluster/postgres}
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
DATA="$DIR/data"
MODE=${3:-fast}
case "$MODE" in fast | immediate) ;; *) echo "stop mode: fast or immediate, not $MODE" >&2; exit 2 ;; esac

bindir() {
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$found" ] && [ -x "$found/initdb" ]; then echo "$found"; return; fi
  if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return; fi
  echo "PostgreSQL is not installed: run scripts/install-test-services.sh (apt package postgresql)" >&2
  exit 1
}

# The user the server runs as: root may not run it; anyone else runs it as themselves.
PG_USER=""
if [ "$(id -u)" -eq 0 ]; then
  PG_USER=postgres
  if ! id -u "$PG_USER" >/dev/null 2>&1; then
    PG_USER=sori-postgres
    id -u "$PG_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER"
  fi
  chown "$PG_USER" "$DIR"
  runuser -u "$PG_USER" -- test -x "$DIR" || {
    echo "$PG_USER cannot reach $DIR: every directory above it must be searchable by others (chmod o+x)" >&2
    exit 1
  }
fi

as_pg() {
  if [ -z "$PG_USER" ]; then "$@"; return; fi
  # cd: the programs complain when the caller's directory is not readable to them.
  (cd "$DIR" && runuser -u "$PG_USER" -- "$@")
}

port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

url() {
  echo "postgres://sori:$(cat "$DIR/password")@127.0.0.1:$(cat "$DIR/port")/sori"
}

init() {
  local bin=$1 port=${SORI_PG_PORT:-}
  if [ -z "$port" ]; then
    port=55432
    while ! port_free "$port"; do port=$((port + 1)); done
  fi
  rm -rf "$DATA"
  chmod 0755 "$DIR"
  # No secret on a command line: initdb reads the password from a file, readable by its user only.
  local password
  password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
  (umask 077 && echo "$password" >"$DIR/password")
  cp "$DIR/password" "$DIR/.pwfile"
  [ -z "$PG_USER" ] || chown "$PG_USER" "$DIR/.pwfile"
  as_pg "$bin/initdb" -D "$DATA" -U sori --pwfile="$DIR/.pwfile" --auth=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 || { rm -f "$DIR/.pwfile"; cat "$DIR/initdb.log" >&2; exit 1; }
  rm -f "$DIR/.pwfile"
  # TCP on loopback only: no Unix socket, whose path would depend on DIR's length (107 bytes at most).
  cat >>"$DATA/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = ''
max_connections = 200
# Crash recovery syncs the data directory first: one syncfs() instead of an fsync per file.
recovery_init_sync_method = syncfs
EOF
  echo "$port" >"$DIR/port"
}

start() {
  local bin
  bin=$(bindir)
  [ -f "$DATA/PG_VERSION" ] && [ -f "$DIR/port" ] || init "$bin"
  if ! as_pg "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    as_pg "$bin/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 start >/dev/null || {
      tail -n 20 "$DATA/server.log" >&2
      exit 1
    }
  fi
  if [ ! -f "$DIR/created" ]; then
    PGPASSWORD=$(cat "$DIR/password") "$bin/psql" -h 127.0.0.1 -p "$(cat "$DIR/port")" -U sori -d postgres -q \
      -c 'CREATE DATABASE sori' >/dev/null
    touch "$DIR/created"
  fi
  url
}

stop() {
  [ -f "$DATA/PG_VERSION" ] || return 0
  local bin
  bin=$(bindir)
  if as_pg "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    as_pg "$bin/pg_ctl" -D "$DATA" -m "$MODE" -w -t 60 stop >/dev/null
  fi
}

case "$CMD" in
  start) start ;;
  stop) stop ;;
  url) [ -f "$DIR/port" ] || { echo "no PostgreSQL in $DIR: start it first" >&2; exit 1; }; url ;;
esac
