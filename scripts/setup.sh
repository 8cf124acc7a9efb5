#!/usr/bin/env bash
# Installs what building and testing Settee needs, and only what is missing or at the wrong
# version: the wasm32 target, wasm-bindgen-cli (the exact version in Cargo.lock), wasm-pack,
# Debian's chromium + chromedriver, firefox-esr, WebKitGTK (MiniBrowser + WebKitWebDriver)
# and Xvfb, and the npm devDependencies. Safe to run repeatedly;
# a run with everything present takes a second or two.
#
# Needs: Rust (rustup), Node 20 + npm, Debian/apt. No tool here downloads its own binaries
# (no `npx playwright install`, no npm wasm-pack): the browser comes from apt, the Rust tools
# from crates.io, wasm-opt from npm's binaryen package.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

WASM_PACK_VERSION=0.15.1

command -v cargo >/dev/null || die "cargo not found: install Rust with rustup first (https://rustup.rs)"
command -v rustup >/dev/null || die "rustup not found: Settee needs rustup to add the wasm32 target"
command -v npm >/dev/null || die "npm not found: install Node 20"

# --- Rust target and components -------------------------------------------------------
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi
for comp in rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^$comp"; then
    log "rustup component add $comp"
    rustup component add "$comp"
  fi
done

# --- wasm-bindgen-cli: must match the wasm-bindgen crate exactly --------------------------
if [ ! -f Cargo.lock ]; then
  log "Cargo.lock missing: resolving dependencies"
  cargo metadata --format-version 1 >/dev/null
fi
# The version line follows the name line in Cargo.lock's [[package]] entries.
BINDGEN_VERSION="$(awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
[ -n "$BINDGEN_VERSION" ] || die "could not find the wasm-bindgen version in Cargo.lock"
have_bindgen="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)"
if [ "$have_bindgen" != "$BINDGEN_VERSION" ]; then
  log "cargo install wasm-bindgen-cli $BINDGEN_VERSION (have: ${have_bindgen:-none}; takes ~2-3 min)"
  # Not --locked: the CLI's own lockfile pins a webpki-roots that the index no longer has.
  cargo install --force wasm-bindgen-cli --version "$BINDGEN_VERSION"
fi

# --- wasm-pack ---------------------------------------------------------------------------
have_pack="$(wasm-pack --version 2>/dev/null | awk '{print $2}' || true)"
if [ "$have_pack" != "$WASM_PACK_VERSION" ]; then
  log "cargo install wasm-pack $WASM_PACK_VERSION (have: ${have_pack:-none}; takes ~2 min)"
  cargo install --force --locked wasm-pack --version "$WASM_PACK_VERSION"
fi

# --- The browsers, from Debian ------------------------------------------------------------
# Chromium + chromedriver (the default engine and wasm-pack test); Firefox ESR (driven by
# puppeteer-core over WebDriver BiDi) and WebKitGTK's MiniBrowser with WebKitWebDriver, on
# an Xvfb display (the JS suites run in all three: tests/js/engines/).
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
command -v firefox-esr >/dev/null || need+=(firefox-esr)
command -v WebKitWebDriver >/dev/null || need+=(webkit2gtk-driver)
[ -x /usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser ] || need+=(libwebkit2gtk-4.1-0)
command -v Xvfb >/dev/null || need+=(xvfb)
if [ "${#need[@]}" != 0 ]; then
  log "apt-get install ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update
  as_root apt-get install -y "${need[@]}"
fi

# --- npm devDependencies -----------------------------------------------------------------
# Reinstall when package.json or the lockfile changed since the last install (a stamp in
# node_modules records their hash). --ignore-scripts: the only install scripts in the tree
# are leveldown's (it loads a bundled prebuilt binary without one) and sqlite3's (a slow
# source build of an optional pouchdb-server backend that Settee does not use).
stamp=node_modules/.settee-install-stamp
want="$(cat package.json package-lock.json 2>/dev/null | sha256sum | cut -d' ' -f1)"
if [ ! -d node_modules ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  if [ -f package-lock.json ]; then
    log "npm ci"
    npm ci --ignore-scripts --no-audit --no-fund
  else
    log "npm install (no package-lock.json yet)"
    npm install --ignore-scripts --no-audit --no-fund
    want="$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)"
  fi
  echo "$want" > "$stamp"
fi

# wasm-opt must be npm's (binaryen 132), never Debian's 108.
case "$(command -v wasm-opt)" in
  "$ROOT/node_modules/.bin/wasm-opt") ;;
  *) die "wasm-opt on PATH is $(command -v wasm-opt || echo missing), expected node_modules/.bin/wasm-opt" ;;
esac

log "setup ok: wasm-bindgen $BINDGEN_VERSION, wasm-pack $WASM_PACK_VERSION, $(/usr/bin/chromium --version 2>/dev/null | head -1), node $(node --version)"
