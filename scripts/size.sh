#!/usr/bin/env bash
# Prints the bytes a page downloads for the widget: the shim, the wasm-bindgen glue and the wasm
# (after wasm-opt), raw, gzip -9 and brotli (quality 11). Run `make wasm` first (`make size` does).
set -euo pipefail
cd "$(dirname "$0")/.."

files=(pkg/leadscore.js pkg/leadscore_wasm.js pkg/leadscore_wasm_bg.wasm)
for f in "${files[@]}"; do
  [[ -f $f ]] || { echo "missing $f: run make wasm" >&2; exit 1; }
done

brotli_size() {
  if command -v brotli >/dev/null; then
    brotli -c -q 11 "$1" | wc -c
  else
    node -e 'const z=require("zlib"),fs=require("fs");
      process.stdout.write(String(z.brotliCompressSync(fs.readFileSync(process.argv[1]),
        {params:{[z.constants.BROTLI_PARAM_QUALITY]:11}}).length))' "$1"
  fi
}

printf '%-28s %9s %9s %9s\n' file raw gzip-9 brotli
total_raw=0 total_gz=0 total_br=0
for f in "${files[@]}"; do
  raw=$(wc -c <"$f")
  gz=$(gzip -9 -c "$f" | wc -c)
  br=$(brotli_size "$f")
  total_raw=$((total_raw + raw)) total_gz=$((total_gz + gz)) total_br=$((total_br + br))
  printf '%-28s %9d %9d %9d\n' "$(basename "$f")" "$raw" "$gz" "$br"
done
printf '%-28s %9d %9d %9d\n' total "$total_raw" "$total_gz" "$total_br"
