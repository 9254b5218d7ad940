#!/usr/bin/env bash
# Runs a command with EVALNET_TEST_POSTGRES_URL pointing at a PostgreSQL server.
# If the variable is already set it is used as is. Otherwise a throwaway cluster is
# created in a temporary directory, started on 127.0.0.1 (a free port), and stopped
# when the command ends. Without PostgreSQL installed the command runs without it
# (the PostgreSQL store tests then report themselves as skipped).
set -uo pipefail
if [[ -n "${EVALNET_TEST_POSTGRES_URL:-}" ]]; then exec "$@"; fi
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [[ -z "$bindir" || ! -x "$bindir/initdb" ]]; then
  echo "with-postgres: PostgreSQL not installed; running without it" >&2
  exec "$@"
fi
dir=$(mktemp -d /tmp/evalnet-pg.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 55432)
run() { "$@"; }
if [[ $(id -u) -eq 0 ]]; then
  chown postgres:postgres "$dir" 2>/dev/null || { useradd -r postgres && chown postgres:postgres "$dir"; }
  run() { runuser -u postgres -- "$@"; }
fi
cleanup() { run "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1; rm -rf "$dir"; }
trap cleanup EXIT
run "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log"; exit 1; }
run "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=500 -c fsync=off" start >/dev/null \
  || { cat "$dir/server.log"; exit 1; }
run "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -q -c "CREATE ROLE evalnet LOGIN SUPERUSER PASSWORD 'evalnet'" \
  -c "CREATE DATABASE evalnet OWNER evalnet" >/dev/null
export EVALNET_TEST_POSTGRES_URL="postgres://evalnet:evalnet@127.0.0.1:$port/evalnet"
# The same server through its Unix socket (the store tests connect once that way too).
export EVALNET_TEST_POSTGRES_SOCKET_DIR="$dir"
echo "with-postgres: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
"$@"
