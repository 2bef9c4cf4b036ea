#!/usr/bin/env bash
# Run a command with a throwaway PostgreSQL and Redis on 127.0.0.1, then clean them up.
#
#   .ci/services.sh COMMAND [ARGS...]
#
# Installs what is missing (postgresql, redis-server) with apt-get, starts both on spare ports
# (PG_PORT, REDIS_PORT to choose), and runs COMMAND with these variables set:
#   KAIROS_SERVICES_DATABASE_URL   postgres://kairos:kairos@127.0.0.1:PORT/kairos (CREATEDB role)
#   KAIROS_SERVICES_REDIS_URL      redis://127.0.0.1:PORT/0
#   KAIROS_CHAOS_PG_RESTART        a command that restarts this PostgreSQL (for the chaos suite)
# Used by .ci/run (the test suites on PostgreSQL + Redis) and by `make benchmark` (both stacks).
set -euo pipefail

log() { printf '\n=== %s ===\n' "$*" >&2; }

need_apt=()
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$PG_BIN" ] || need_apt+=(postgresql)
command -v redis-server >/dev/null || need_apt+=(redis-server)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi

work=$(mktemp -d)
chmod 755 "$work"
PG_PORT=${PG_PORT:-55432}
REDIS_PORT=${REDIS_PORT:-56379}
cleanup() {
  [ -f "$work/pg/postmaster.pid" ] && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true
  [ -f "$work/redis.pid" ] && kill "$(cat "$work/redis.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

install -d -o postgres -g postgres "$work/pg"
runuser -u postgres -- "$PG_BIN/initdb" -D "$work/pg" --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
# A start can fail for reasons outside the project (the port taken by a leftover process, a slow
# machine): show why from the server's log, which cleanup deletes, and try again on the next port.
for attempt in 1 2 3; do
  log "starting PostgreSQL on 127.0.0.1:$PG_PORT (attempt $attempt)"
  pg_options="-p $PG_PORT -k $work/pg -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
  if runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$work/pg" -w -t 120 -l "$work/pg/server.log" -o "$pg_options" start >/dev/null; then
    break
  fi
  log "PostgreSQL did not start; its log follows"
  cat "$work/pg/server.log" >&2 || true
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true
  [ "$attempt" -lt 3 ] || exit 1
  PG_PORT=$((PG_PORT + 1))
done
runuser -u postgres -- "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -q -c "CREATE ROLE kairos LOGIN CREATEDB PASSWORD 'kairos'" postgres
runuser -u postgres -- "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -q -c "CREATE DATABASE kairos OWNER kairos" postgres

log "starting Redis on 127.0.0.1:$REDIS_PORT"
redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
  --pidfile "$work/redis.pid" --logfile "$work/redis.log"

export KAIROS_SERVICES_DATABASE_URL="postgres://kairos:kairos@127.0.0.1:$PG_PORT/kairos"
export KAIROS_SERVICES_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
# A fast restart, as a fail-over or a crash would look to Kairos: connections are cut at once.
export KAIROS_CHAOS_PG_RESTART="runuser -u postgres -- $PG_BIN/pg_ctl -D $work/pg -m immediate -w -l $work/pg/server.log -o '$pg_options' restart"
"$@"
