#!/usr/bin/env bash
# Builds the npm package into pkg/: the wasm module (wasm-pack, release, --target web, so it
# loads in a window and in a module Worker without a bundler), then the typed wrapper
# js/index.ts -> pkg/index.js + pkg/index.d.ts, then pkg/package.json pointing at the wrapper.
# Expects the tools from scripts/setup.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

[ -x node_modules/.bin/wasm-opt ] || die "node_modules/.bin/wasm-opt missing: run scripts/setup.sh first"
[ -x node_modules/.bin/terser ] || die "node_modules/.bin/terser missing: run scripts/setup.sh first"

log "wasm-pack build --release --target web"
wasm-pack build --release --target web --out-dir pkg --out-name settee_core

# wasm-bindgen's .d.ts declares [Symbol.dispose](), which needs TypeScript's
# esnext.disposable lib. Reference it from the file itself so that apps compiling with
# skipLibCheck off and an older `lib` don't have to add it.
grep -q 'reference lib="esnext.disposable"' pkg/settee_core.d.ts ||
  sed -i '1i /// <reference lib="esnext.disposable" />' pkg/settee_core.d.ts

log "tsc js/ -> pkg/"
tsc -p js/tsconfig.json

# Minify the JS a page downloads (wasm-bindgen's glue and its snippets, the wrapper): ~7 kB
# less gzip, nothing else changes. The .d.ts files keep every doc comment. Class names are
# kept (the glue names them in its errors); wasm-bindgen's @ts-self-types line is kept.
log "terser pkg/**/*.js"
find pkg -name '*.js' -print0 | while IFS= read -r -d '' f; do
  terser "$f" --module --compress --mangle --keep-classnames --comments '/@ts-self-types/' -o "$f"
done

node scripts/pkg-json.mjs pkg/package.json
log "built pkg/: $(cd pkg && ls -m)"
