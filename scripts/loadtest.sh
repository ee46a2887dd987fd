#!/usr/bin/env bash
# Load test of `leadscore serve` on 127.0.0.1 only, with wrk (Debian package `wrk`).
#
#   scripts/loadtest.sh [sqlite|postgres]...     (default: sqlite)
#
# For each database: starts the collector (optimised build, rate limit off, one JSON log line per
# request as by default) on a free loopback port with a fresh database, and runs three phases of
# LOAD_SECONDS each (default 10):
#  1. throughput: posts tier results with unique event_ids from LOAD_CONNECTIONS connections
#     (default 32) on LOAD_THREADS wrk threads (default 2); checks that the rows stored equal the
#     accepted (200 "stored") answers; prints accepted results/s and latency percentiles;
#  2. slow-client attack: the same while SLOW_CONNECTIONS (default 1000) connections send half a
#     request head and then nothing (reopened as the server closes them); prints the p99 of the
#     well-behaved clients and fails if any of their requests failed;
#  3. crash: CRASH_CLIENTS (default 16) clients that retry every result until it is answered 200,
#     as the widget does, while the collector is killed with SIGKILL halfway and restarted on the
#     same port and database; checks that every result sent was acknowledged and stored exactly
#     once (sent == acknowledged == new rows), and prints the duplicates answered (results stored
#     before the kill whose answer was lost).
# Installs wrk and curl from Debian's packages when they are missing; needs python3.
# LEADSCORE_BIN runs an existing binary instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${LOAD_SECONDS:-10}
connections=${LOAD_CONNECTIONS:-32}
threads=${LOAD_THREADS:-2}
slow_connections=${SLOW_CONNECTIONS:-1000}
crash_clients=${CRASH_CLIENTS:-16}
(( seconds >= 1 && seconds <= 120 )) || { echo "LOAD_SECONDS must be 1..120" >&2; exit 2; }
(( slow_connections >= 0 && slow_connections <= 5000 )) || { echo "SLOW_CONNECTIONS must be 0..5000" >&2; exit 2; }
(( crash_clients >= 1 && crash_clients <= 64 )) || { echo "CRASH_CLIENTS must be 1..64" >&2; exit 2; }
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v curl >/dev/null || missing+=(curl)
if ((${#missing[@]})); then
  echo "loadtest: apt-get install ${missing[*]}"
  sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

bin=${LEADSCORE_BIN:-}
if [[ -z "$bin" ]]; then
  # An optimised build without the release profile's full LTO (minutes on a small machine), in a
  # target directory of its own so that it does not replace other release builds.
  target="${CARGO_TARGET_DIR:-target}/loadtest"
  CARGO_TARGET_DIR="$target" CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo build --quiet --release --features cli --bin leadscore
  bin="$target/release/leadscore"
fi

work=$(mktemp -d /tmp/leadscore-load.XXXXXX)
server_pid=""
slow_pid=""
pg_dir=""
cleanup() {
  set +e
  if [[ -n "$slow_pid" ]]; then kill "$slow_pid" 2>/dev/null; wait "$slow_pid" 2>/dev/null; fi
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; fi
  if [[ -n "$pg_dir" ]]; then scripts/postgres.sh stop "$pg_dir"; fi
  rm -rf "$work"
}
trap cleanup EXIT

# Starts the collector on $2 (a port, or 0 for a free one) with database $1; sets server_pid and port.
start_server() {
  local db=$1 listen_port=$2 log=$3
  "$bin" serve --listen "127.0.0.1:$listen_port" --db "$db" --rate-limit 0 --log-level info --log-format json \
    2>>"$log" &
  server_pid=$!
  port=""
  for _ in $(seq 1 200); do
    port=$(sed -n 's/.*"url":"http:\/\/127\.0\.0\.1:\([0-9]*\)\/".*/\1/p' "$log" | tail -n 1)
    [[ -n "$port" ]] && kill -0 "$server_pid" 2>/dev/null && curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    port=""
    sleep 0.05
  done
  [[ -n "$port" ]] || { cat "$log" >&2; echo "the server did not start" >&2; exit 1; }
}

stored_rows() {
  curl -fsS "http://127.0.0.1:$1/v1/summary" | sed 's/.*"total_results":\([0-9]*\).*/\1/'
}

# One wrk run of posting; prints its result line.
post_with_wrk() {
  local url=$1 run_id=$2 out=$3
  POST_SECONDS=$seconds RUN_ID="$run_id" wrk --latency -t"$threads" -c"$connections" -d"$((seconds + 3))s" \
    --timeout 10s -s scripts/loadtest.lua "$url/v1/tier" >"$out"
  grep '^accepted=' "$out"
}

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }

run() {
  local kind=$1 db log line accepted stored before after
  case "$kind" in
    sqlite) db="$work/load.db" ;;
    postgres)
      pg_dir=$(mktemp -d /tmp/leadscore-pg.XXXXXX)
      db=$(scripts/postgres.sh start "$pg_dir")
      ;;
    *) echo "unknown database: $kind (sqlite or postgres)" >&2; exit 2 ;;
  esac
  log="$work/server-$kind.log"
  : >"$log"
  start_server "$db" 0 "$log"
  local url="http://127.0.0.1:$port"

  echo "== $kind 1/3 throughput: $connections connections, $threads threads, ${seconds}s of posting, against $url"
  line=$(post_with_wrk "$url" "$kind$$" "$work/wrk-$kind.txt")
  accepted=$(field accepted "$line")
  stored=$(stored_rows "$port")
  # shellcheck disable=SC2086
  printf '%s\n' $line | sed 's/^/   /'
  echo "   stored_rows=$stored"
  if [[ "$stored" != "$accepted" ]]; then
    echo "FAIL: $stored rows stored but $accepted requests accepted" >&2
    exit 1
  fi
  if grep -q 'failed=[1-9]\|socket_errors=[1-9]' <<<"$line"; then
    echo "FAIL: some requests failed" >&2
    exit 1
  fi
  echo "   ok: stored rows == accepted requests"

  if (( slow_connections > 0 )); then
    echo "== $kind 2/3 slow-client attack: $slow_connections silent connections held open while $connections clients post"
    python3 scripts/loadtest.py slow "$port" "$slow_connections" "$((seconds + 5))" >"$work/slow-$kind.txt" &
    slow_pid=$!
    sleep 2
    before=$(stored_rows "$port")
    line=$(post_with_wrk "$url" "slow$kind$$" "$work/wrk-slow-$kind.txt")
    wait "$slow_pid" || true; slow_pid=""
    after=$(stored_rows "$port")
    # shellcheck disable=SC2086
    printf '%s\n' $line $(cat "$work/slow-$kind.txt") | sed 's/^/   /'
    accepted=$(field accepted "$line")
    if [[ "$((after - before))" != "$accepted" ]]; then
      echo "FAIL: $((after - before)) rows stored but $accepted requests accepted" >&2
      exit 1
    fi
    if grep -q 'failed=[1-9]\|socket_errors=[1-9]' <<<"$line"; then
      echo "FAIL: well-behaved requests failed during the slow-client attack" >&2
      exit 1
    fi
    echo "   ok: well-behaved clients served during the attack (p99_ms=$(field p99_ms "$line"))"
  fi

  echo "== $kind 3/3 crash: $crash_clients retrying clients, SIGKILL at $((seconds / 2))s, restart on the same port"
  before=$(stored_rows "$port")
  python3 scripts/loadtest.py retrying "$port" "$seconds" "$crash_clients" "$kind$$" >"$work/crash-$kind.txt" &
  local clients_pid=$!
  sleep "$((seconds / 2))"
  kill -KILL "$server_pid"; wait "$server_pid" 2>/dev/null || true
  sleep 0.5
  start_server "$db" "$port" "$log"
  wait "$clients_pid"
  after=$(stored_rows "$port")
  line=$(cat "$work/crash-$kind.txt")
  # shellcheck disable=SC2086
  printf '%s\n' $line | sed 's/^/   /'
  echo "   new_rows=$((after - before))"
  if [[ "$(field sent "$line")" != "$(field acknowledged "$line")" ]]; then
    echo "FAIL: some results sent were never acknowledged" >&2
    exit 1
  fi
  if [[ "$((after - before))" != "$(field acknowledged "$line")" ]]; then
    echo "FAIL: $((after - before)) rows stored but $(field acknowledged "$line") results acknowledged" >&2
    exit 1
  fi
  echo "   ok: every result sent was acknowledged and stored exactly once across the SIGKILL"

  kill -TERM "$server_pid"; wait "$server_pid" || true; server_pid=""
  if [[ "$kind" == postgres ]]; then scripts/postgres.sh stop "$pg_dir"; pg_dir=""; fi
}

kinds=("$@")
[[ ${#kinds[@]} -gt 0 ]] || kinds=(sqlite)
for kind in "${kinds[@]}"; do run "$kind"; done
