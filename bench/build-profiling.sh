#!/usr/bin/env bash
# Builds bench/.pkg-profiling/: the same release wasm as pkg/ (cargo's release artefact that
# scripts/build.sh last produced, the same wasm-bindgen and wasm-opt -O3), but with the
# function names kept (`wasm-opt -g`), so CPU profiles name Rust functions. Used by
#   bash scripts/bench.sh --no-build --profile --pkg bench/.pkg-profiling
# Run scripts/build.sh first (this does not compile Rust).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$ROOT"
wasm=${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/release/settee.wasm
out=bench/.pkg-profiling
[ -f "$wasm" ] || die "$wasm missing: run scripts/build.sh first"
[ -f pkg/index.js ] || die "pkg/index.js missing: run scripts/build.sh first"
[ "$wasm" -nt pkg/index.js ] || [ "$(( $(stat -c %Y pkg/index.js) - $(stat -c %Y "$wasm") ))" -lt 120 ] ||
  warn "$wasm is older than pkg/: profiles may not match pkg/"
rm -rf "$out" && mkdir -p "$out"
wasm-bindgen --target web --out-dir "$out" --out-name settee_core "$wasm"
wasm-opt -O3 -g "$out/settee_core_bg.wasm" -o "$out/settee_core_bg.wasm"
# The typed wrapper and its modules (everything in pkg/ that wasm-bindgen did not write).
for f in pkg/*.js; do
  case "$(basename "$f")" in settee_core*) ;; *) cp "$f" "$out/" ;; esac
done
log "built $out: $(ls -l "$out/settee_core_bg.wasm" | awk '{print $5}') bytes of wasm (pkg/: $(stat -c %s pkg/settee_core_bg.wasm))"
