#!/usr/bin/env bash
# Builds the browser widget into pkg/:
#   leadscore.js              the one-tag shim (copied from www/leadscore.js)
#   leadscore_wasm.js         wasm-bindgen glue, an ES module (also the npm package's entry point)
#   leadscore_wasm.d.ts       its TypeScript types
#   leadscore_wasm_bg.wasm    the engine, optimised with wasm-opt -Oz
#   package.json              so that pkg/ is the npm package `leadscore`
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"

target_dir="${CARGO_TARGET_DIR:-target}"
# Keep the target_features section for wasm-bindgen; wasm-opt strips everything afterwards.
CARGO_PROFILE_WASM_STRIP=false cargo build --target wasm32-unknown-unknown --profile wasm --no-default-features --lib
rm -rf pkg
wasm-bindgen --target web --out-dir pkg --out-name leadscore_wasm \
  "$target_dir/wasm32-unknown-unknown/wasm/leadscore.wasm"
# The features rustc enables by default for wasm32-unknown-unknown.
wasm-opt -Oz --strip-debug --strip-producers \
  --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --enable-reference-types --enable-multivalue \
  pkg/leadscore_wasm_bg.wasm -o pkg/leadscore_wasm_bg.wasm
# The shim as served: its documentation header becomes one line, full-line comments go.
node -e '
  const fs = require("fs");
  const src = fs.readFileSync("www/leadscore.js", "utf8");
  const out = src
    .replace(/^\/\*![\s\S]*?\*\/\n/, `/*! leadscore ${process.argv[1]} | MIT OR Apache-2.0 */\n`)
    .split("\n").filter((line) => !/^\s*\/\/.*$/.test(line)).join("\n");
  fs.writeFileSync("pkg/leadscore.js", out);
' "$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)"

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
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
    "./embed": "./leadscore.js"
  },
  "files": ["leadscore_wasm.js", "leadscore_wasm.d.ts", "leadscore_wasm_bg.wasm", "leadscore_wasm_bg.wasm.d.ts", "leadscore.js"],
  "sideEffects": false
}
JSON
echo "built pkg/: $(ls pkg | tr '\n' ' ')"
