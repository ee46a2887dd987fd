#!/usr/bin/env bash
# Installs what building and testing need, from package registries only. Safe to run again:
# every step checks first and does nothing when its part is already in place.
#
# To add a step: write a function below and call it from main (Debian packages: add them to
# apt_packages).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"

# Debian packages: headless Chromium and its WebDriver (browser and end-to-end tests), brotli
# (make size), python3 (the collector's end-to-end test reads its SQLite file with it).
apt_packages=(chromium chromium-driver brotli python3)

step() { printf '==> %s\n' "$*"; }
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

debian_packages() {
  local missing=() p
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
  command -v rustup >/dev/null || missing+=(rustup)
  for p in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    step "apt-get install ${missing[*]}"
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  else
    step "Debian packages present (${apt_packages[*]})"
  fi
}

wasm_target() {
  # Debian's rustup package installs rustup itself; it then needs a default toolchain.
  if ! rustup show active-toolchain >/dev/null 2>&1; then
    step "rustup default stable"
    rustup default stable
  fi
  if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
    step "rustup component add rustfmt clippy"
    rustup component add rustfmt clippy
  fi
  if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    step "Rust target wasm32-unknown-unknown present"
  else
    step "rustup target add wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
}

# The CLI must match the wasm-bindgen library version exactly (Cargo.lock, else the Cargo.toml pin).
wasm_bindgen_cli() {
  local want have
  want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock 2>/dev/null || true)
  [[ -n $want ]] || want=$(sed -n 's/^wasm-bindgen = "=\(.*\)"/\1/p' Cargo.toml)
  have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
  if [[ $have == "$want" ]]; then
    step "wasm-bindgen-cli $want present"
    return
  fi
  step "cargo install wasm-bindgen-cli $want (found: ${have:-none})"
  # --locked first; some registry mirrors lack a yanked dependency of the lock file, then resolve anew.
  cargo install wasm-bindgen-cli --version "$want" --locked --force ||
    cargo install wasm-bindgen-cli --version "$want" --force
}

# playwright-core (end-to-end tests) and binaryen (wasm-opt), as locked in package-lock.json.
npm_packages() {
  if [[ -f node_modules/.package-lock.json && node_modules/.package-lock.json -nt package-lock.json ]]; then
    step "npm packages present"
  else
    step "npm ci"
    npm ci --no-audit --no-fund
  fi
}

main() {
  debian_packages
  wasm_target
  wasm_bindgen_cli
  npm_packages
  step "setup done"
}

main "$@"
