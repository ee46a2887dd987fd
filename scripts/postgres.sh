#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on 127.0.0.1 for tests and load runs.
#
#   scripts/postgres.sh start [DIR]   create and start a cluster in DIR (default: a new temp dir) on a
#                                     free port; prints its URL (postgres://leadscore@127.0.0.1:PORT/postgres)
#   scripts/postgres.sh stop DIR      stop it and delete DIR
#   scripts/postgres.sh install       install Debian's postgresql package if initdb is missing
#
# Environment:
#   PG_BIN        directory of initdb/pg_ctl (default: the newest /usr/lib/postgresql/*/bin)
#   PG_WATCH_PID  stop the cluster and delete DIR when this process exits (tests pass their own pid)
#
# PostgreSQL refuses to run as root; as root the cluster runs as the `postgres` user that Debian's
# `postgresql` package creates. Authentication is `trust` and only 127.0.0.1 and a socket in DIR
# listen: it is for tests only.
set -euo pipefail

die() { echo "postgres.sh: $*" >&2; exit 1; }

find_bin() {
  if [[ -n "${PG_BIN:-}" ]]; then echo "$PG_BIN"; return; fi
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [[ -z "$dir" ]] && command -v pg_ctl >/dev/null; then dir=$(dirname "$(command -v pg_ctl)"); fi
  [[ -n "$dir" && -x "$dir/initdb" ]] || die "PostgreSQL server binaries not found; install them with: apt-get install -y postgresql"
  echo "$dir"
}

# Runs a command as the cluster owner.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  local port
  for _ in $(seq 1 200); do
    port=$(( 20000 + RANDOM % 40000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
  done
  die "no free port found"
}

start() {
  local bin dir port
  bin=$(find_bin)
  dir=${1:-$(mktemp -d /tmp/leadscore-pg.XXXXXX)}
  mkdir -p "$dir"
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' user (apt-get install -y postgresql)"
    chown postgres: "$dir"
  fi
  as_owner "$bin/initdb" -D "$dir/data" -U leadscore --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  port=$(free_port)
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200" start >/dev/null \
    || { cat "$dir/server.log" >&2; die "the server did not start"; }
  echo "$port" >"$dir/port"
  if [[ -n "${PG_WATCH_PID:-}" ]]; then
    # Detached from our stdout so that the caller does not wait for it.
    setsid bash -c "while kill -0 $PG_WATCH_PID 2>/dev/null; do sleep 1; done; '$0' stop '$dir'" \
      </dev/null >/dev/null 2>&1 &
  fi
  echo "postgres://leadscore@127.0.0.1:$port/postgres"
}

stop() {
  local bin dir=${1:?usage: postgres.sh stop DIR}
  bin=$(find_bin)
  [[ -d "$dir/data" ]] && as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

install() {
  if find_bin >/dev/null 2>&1 && command -v psql >/dev/null; then return; fi
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  # The package would also create and start a system cluster; tests only need the binaries.
  $sudo apt-get install -y -qq postgresql >/dev/null
  find_bin >/dev/null
}

case "${1:-}" in
  install) install ;;
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  *) sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
