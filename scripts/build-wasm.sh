#!/usr/bin/env bash
# Builds the browser widget into pkg/:
#   leadscore.js              the shim (page adapter): www/shim/ bundled by esbuild, minified by esbuild and terser
#   leadscore_wasm.js         the scoring kernel's wasm-bindgen glue, an ES module (npm entry point)
#   leadscore_wasm.d.ts       its TypeScript types
#   leadscore_wasm_bg.wasm    the kernel: no_std, wasm-opt -Oz
#   leadscore-debug.js        the lazily loaded debug module (panel, JSON models)
#   leadscore_debug.js/_bg.wasm   its wasm: the std build with the JSON reader and validator
#   models/*.bin              the example models, compiled by `leadscore build`
#   event.js                  the event encoder (events as the bytes `apply` reads), for npm users
#   package.json              so that pkg/ is the npm package `leadscore`
# and target/wasm-names/leadscore_wasm_bg.wasm: the same kernel with its names kept, for
# scripts/check-kernel.mjs.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"

target_dir="${CARGO_TARGET_DIR:-target}"
built="$target_dir/wasm32-unknown-unknown/wasm/leadscore.wasm"
# The features rustc enables by default for wasm32-unknown-unknown.
wasm_features=(--enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext
  --enable-mutable-globals --enable-reference-types --enable-multivalue)

# One wasm: cargo features, then wasm-bindgen and wasm-opt into pkg/NAME_bg.wasm.
# Keep the target_features section for wasm-bindgen; wasm-opt strips everything afterwards.
wasm() {
  local name=$1
  shift
  CARGO_PROFILE_WASM_STRIP=false cargo build -q --target wasm32-unknown-unknown --profile wasm --lib "$@"
  wasm-bindgen --target web --out-dir pkg --out-name "$name" "$built"
  if [[ $name == leadscore_wasm ]]; then
    mkdir -p "$target_dir/wasm-names"
    wasm-opt -Oz --debuginfo "${wasm_features[@]}" "pkg/${name}_bg.wasm" -o "$target_dir/wasm-names/${name}_bg.wasm"
  fi
  wasm-opt -Oz --strip-debug --strip-producers "${wasm_features[@]}" "pkg/${name}_bg.wasm" -o "pkg/${name}_bg.wasm"
}

rm -rf pkg
mkdir -p pkg/models
wasm leadscore_wasm --no-default-features
wasm leadscore_debug --no-default-features --features debug
rm -f pkg/leadscore_debug.d.ts pkg/leadscore_debug_bg.wasm.d.ts

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
# The shim is paid on every page view: esbuild bundles and minifies it, then terser compresses it
# further and renames its variables (about 5 % fewer brotli bytes than esbuild's names); the
# banner is kept.
command -v terser >/dev/null || { echo "terser is missing: run make setup (npm ci)" >&2; exit 1; }
esbuild www/shim/leadscore.js --bundle --minify --format=iife --target=es2019 --log-level=warning \
  --banner:js="/*! leadscore $version | MIT OR Apache-2.0 */" |
  terser --compress passes=3 --mangle --ecma 2019 --output pkg/leadscore.js
# The glue as served: its doc comments live on in the .d.ts types.
esbuild pkg/leadscore_wasm.js --minify --format=esm --target=es2020 --log-level=warning \
  --outfile=pkg/leadscore_wasm.js --allow-overwrite
# The event encoder, for npm users who call the kernel themselves (`leadscore/event`).
cp www/shim/event.js pkg/event.js
esbuild www/shim/debug.js --bundle --minify --format=esm --target=es2019 --log-level=warning \
  --outfile=pkg/leadscore-debug.js

cargo build -q --features cli --bin leadscore
bin="$target_dir/debug/leadscore"
for model in www/models/*.json; do
  name=$(basename "$model" .json)
  # Learning mappings and other JSON files beside the models are not models.
  if "$bin" check "$model" >/dev/null 2>&1; then
    "$bin" build "$model" -o "pkg/models/$name.bin" >/dev/null
  fi
done

cat > pkg/package.json <<JSON
{
  "name": "leadscore",
  "version": "$version",
  "description": "Explainable lead scoring in the visitor's browser: sends only the tier result.",
  "license": "MIT OR Apache-2.0",
  "type": "module",
  "main": "leadscore_wasm.js",
  "module": "leadscore_wasm.js",
  "types": "leadscore_wasm.d.ts",
  "exports": {
    ".": { "types": "./leadscore_wasm.d.ts", "default": "./leadscore_wasm.js" },
    "./leadscore_wasm_bg.wasm": "./leadscore_wasm_bg.wasm",
    "./event": "./event.js",
    "./embed": "./leadscore.js"
  },
  "files": ["leadscore_wasm.js", "leadscore_wasm.d.ts", "leadscore_wasm_bg.wasm", "leadscore_wasm_bg.wasm.d.ts",
    "leadscore.js", "leadscore-debug.js", "leadscore_debug.js", "leadscore_debug_bg.wasm", "event.js"],
  "sideEffects": ["./leadscore.js"]
}
JSON
echo "built pkg/: $(cd pkg && find . -type f | sed 's|^\./||' | sort | tr '\n' ' ')"
