#!/usr/bin/env bash
# Instructions per event, counted by callgrind (repeatable where wall time is not: a shared
# machine, a CI runner). Runs the bench binary `benches/instructions.rs` under
# `valgrind --tool=callgrind` for each variant — leadscore (`engine::advance` + tier) and the plain
# interpreter of the same model written in the benchmark as the reference — on the browser
# benchmark's 10,000 events of 1,000 visitors, twice: PASSES1 and PASSES2 passes over them
# (default 1 and 4). Only the measured loop is counted (--toggle-collect), and the difference of
# the two runs cancels what stays fixed:
#
#   instructions per event = (Ir(PASSES2) - Ir(PASSES1)) / ((PASSES2 - PASSES1) x 10,000)
#
#   scripts/instructions.sh            (make instructions)
#
# Needs valgrind (`make instructions` installs Debian's package when it is missing). The
# callgrind files stay in $CARGO_TARGET_DIR/instructions/ (default target/) for callgrind_annotate.
set -euo pipefail
cd "$(dirname "$0")/.."

PASSES1=${PASSES1:-1}
PASSES2=${PASSES2:-4}
command -v valgrind >/dev/null || { echo "valgrind is missing (apt-get install valgrind)" >&2; exit 1; }

echo "building benches/instructions.rs (bench profile)" >&2
bin=$(cargo bench --bench instructions --no-run --message-format=json 2>/dev/null |
  sed -n 's/.*"executable":"\([^"]*instructions[^"]*\)".*/\1/p' | tail -n 1)
[[ -x "$bin" ]] || { echo "could not build the instructions bench" >&2; exit 1; }

out=${CARGO_TARGET_DIR:-target}/instructions
mkdir -p "$out"

# Instructions counted in the measured loop of `variant` over `passes` passes.
count() {
  local variant=$1 passes=$2 file="$out/callgrind.$1.$2"
  valgrind --tool=callgrind --callgrind-out-file="$file" --toggle-collect="*run_$variant*" \
    "$bin" "$variant" "$passes" >"$out/$variant.$passes.txt" 2>"$out/$variant.$passes.err" ||
    { cat "$out/$variant.$passes.err" >&2; exit 1; }
  sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$file"
}

events=$(( (PASSES2 - PASSES1) * 10000 ))
declare -A per_event
for variant in leadscore plain; do
  a=$(count "$variant" "$PASSES1")
  b=$(count "$variant" "$PASSES2")
  per_event[$variant]=$(( (b - a) / events ))
  echo "$variant: Ir($PASSES1 pass) = $a, Ir($PASSES2 passes) = $b" >&2
done
head -n 1 "$out/leadscore.$PASSES1.txt"

ours=${per_event[leadscore]}
plain=${per_event[plain]}
echo
echo "instructions per event, 30-rule model (benches/browser/model.json), 10,000 events of 1,000 visitors, callgrind:"
printf '  leadscore: advance + tier:                   %8d\n' "$ours"
printf '  plain interpreter (reference): apply + tier: %8d\n' "$plain"
awk -v a="$ours" -v b="$plain" 'BEGIN { printf "  ratio leadscore / plain interpreter:         %8.2f\n", a / b }'
echo "profiles: callgrind_annotate $out/callgrind.leadscore.$PASSES2"
