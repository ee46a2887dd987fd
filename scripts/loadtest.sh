#!/usr/bin/env bash
# Load test of `leadscore serve` on 127.0.0.1 only, with wrk (Debian package `wrk`).
#
#   scripts/loadtest.sh [sqlite|postgres]...     (default: sqlite)
#
# For each database: starts the collector (optimised build, rate limit off, one JSON log line per
# request as by default) on a free loopback port with a fresh database, posts tier results with
# unique event_ids for
# LOAD_SECONDS (default 10) from LOAD_CONNECTIONS connections (default 32) on LOAD_THREADS wrk
# threads (default 2), then checks that the number of stored rows equals the number of accepted
# (200 "stored") answers, and prints accepted results/s and latency percentiles. Installs wrk and
# curl from Debian's packages when they are missing.
# LEADSCORE_BIN runs an existing binary instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${LOAD_SECONDS:-10}
connections=${LOAD_CONNECTIONS:-32}
threads=${LOAD_THREADS:-2}
(( seconds >= 1 && seconds <= 120 )) || { echo "LOAD_SECONDS must be 1..120" >&2; exit 2; }
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
pg_dir=""
cleanup() {
  set +e
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; fi
  if [[ -n "$pg_dir" ]]; then scripts/postgres.sh stop "$pg_dir"; fi
  rm -rf "$work"
}
trap cleanup EXIT

run() {
  local kind=$1 db port
  case "$kind" in
    sqlite) db="$work/load.db" ;;
    postgres)
      pg_dir=$(mktemp -d /tmp/leadscore-pg.XXXXXX)
      db=$(scripts/postgres.sh start "$pg_dir")
      ;;
    *) echo "unknown database: $kind (sqlite or postgres)" >&2; exit 2 ;;
  esac
  : >"$work/server-$kind.log"
  "$bin" serve --listen 127.0.0.1:0 --db "$db" --rate-limit 0 --log-level info --log-format json \
    2>"$work/server-$kind.log" &
  server_pid=$!
  port=""
  for _ in $(seq 1 200); do
    port=$(sed -n 's/.*"url":"http:\/\/127\.0\.0\.1:\([0-9]*\)\/".*/\1/p' "$work/server-$kind.log" | head -n 1)
    [[ -n "$port" ]] && break
    sleep 0.05
  done
  [[ -n "$port" ]] || { cat "$work/server-$kind.log" >&2; echo "the server did not start" >&2; exit 1; }
  local url="http://127.0.0.1:$port"

  echo "== $kind: $connections connections, $threads threads, ${seconds}s of posting, against $url"
  POST_SECONDS=$seconds RUN_ID="$kind$$" wrk --latency -t"$threads" -c"$connections" -d"$((seconds + 3))s" \
    --timeout 10s -s scripts/loadtest.lua "$url/v1/tier" >"$work/wrk-$kind.txt"
  local line accepted stored
  line=$(grep '^accepted=' "$work/wrk-$kind.txt")
  accepted=$(sed 's/.*accepted=\([0-9]*\).*/\1/' <<<"$line")
  stored=$(curl -fsS "$url/v1/summary" | sed 's/.*"total_results":\([0-9]*\).*/\1/')
  kill -TERM "$server_pid"; wait "$server_pid" || true; server_pid=""
  if [[ "$kind" == postgres ]]; then scripts/postgres.sh stop "$pg_dir"; pg_dir=""; fi

  # shellcheck disable=SC2086
  set -- $line
  printf '%s\n' "$@" | sed 's/^/   /'
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
}

kinds=("$@")
[[ ${#kinds[@]} -gt 0 ]] || kinds=(sqlite)
for kind in "${kinds[@]}"; do run "$kind"; done
