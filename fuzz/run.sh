#!/usr/bin/env bash
# Runs each fuzz target for FUZZ_SECONDS (default 60), one at a time on one core, from the seed
# corpus in seeds/ and what earlier runs found (corpus/, not kept in git). Prints executions and
# crashes per target; exits 1 when a target crashed (the input is in artifacts/TARGET/).
# `make fuzz` runs it; FUZZ_TARGETS="engine state" picks targets.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-model_json model_binary engine state}
mkdir -p logs
failed=0
summary=()
for t in $targets; do
  mkdir -p "corpus/$t" "seeds/$t" "artifacts/$t"
  printf '==> fuzz %s for %s s\n' "$t" "$seconds"
  status=0
  before=$(find "artifacts/$t" -type f 2>/dev/null | wc -l)
  cargo +nightly fuzz run --sanitizer none "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$seconds" -jobs=1 -workers=1 -print_final_stats=1 -timeout=10 -rss_limit_mb=1024 \
    >"logs/$t.log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "logs/$t.log" | tail -1)
  crashes=$(( $(find "artifacts/$t" -type f 2>/dev/null | wc -l) - before ))
  summary+=("$(printf '%-13s %12s executions  %s new crash file(s)  exit %s' "$t" "${runs:-?}" "$crashes" "$status")")
  if ((status != 0)); then
    failed=1
    grep -E 'panicked|ERROR|SUMMARY|Test unit written' "logs/$t.log" | head -5 || true
  fi
done
printf '%s\n' "${summary[@]}"
exit "$failed"
