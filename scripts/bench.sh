#!/usr/bin/env bash
# Benchmarks Settee against PouchDB 9 (idb and indexeddb adapters) and two raw-IndexedDB
# floors, in Debian's headless Chromium through playwright-core; the replication workloads
# against a pouchdb-server it starts on a free 127.0.0.1 port (from the root node_modules, which
# setup.sh installs) and stops at the end. One command:
#
#   bash scripts/bench.sh              set up, build pkg/, warm-up + 5 timed runs per workload
#                                      (median); writes bench/results/latest.json and the table
#                                      between the markers in BENCHMARKS.md (~22 min on a busy
#                                      2-core machine, load average 5-7)
#   bash scripts/bench.sh --quick      CI smoke: small sizes, 1 warm-up + 1 run (~1.5 min with
#                                      pkg/ built); writes bench/results/quick.json only
#   bash scripts/bench.sh --no-build   use the pkg/ already built
#   bash scripts/bench.sh --build      rebuild pkg/ even if it looks up to date
#   bash scripts/bench.sh --attachments the 50 MB attachment memory benchmark instead
#                                      (bench/attachment-memory.mjs: peak JS heap while one
#                                      50 MB attachment replicates each way, Settee and PouchDB)
#   bash scripts/bench.sh --faults      time to converge a live, retrying sync through the
#                                      fault proxy at rate 0.4, Settee and PouchDB
#                                      (bench/faults-converge.mjs)
#   bash scripts/bench.sh --scale       Settee alone at 10,000 and 1,000,000 docs (bench/scale.mjs:
#                                      fill µs/doc, get p50/p99 warm and reopened, allDocs page of
#                                      100, changes since a recent seq, wasm memory; ~10-30 min;
#                                      --sizes, --timeout-min)
#   bash scripts/bench.sh --many-dbs    200 databases live-synced with one server, Settee and
#                                      PouchDB: peak requests in flight, idle requests/min, p50/p99
#                                      until a server write is local (bench/many-dbs.mjs; --dbs N;
#                                      SETTEE_SERVER=couchdb for CouchDB with _db_updates)
#   bash scripts/bench.sh --engines     the local workloads in Chromium, Firefox ESR and
#                                      WebKitGTK against PouchDB in the same engine
#                                      (bench/engines.mjs; --engines firefox picks one)
#
# pkg/ is rebuilt (scripts/build.sh) unless it is newer than every source it is built from
# (src/, js/, Cargo.toml, Cargo.lock, scripts/build.sh, scripts/pkg-json.mjs): a no-op rebuild
# still reruns wasm-bindgen, wasm-opt and tsc (~30-60 s here), which would double --quick.
#
# Other options go to bench/run.mjs: --runs N, --warmup N, --workloads a,b, --impls x,y,
# --pkg DIR, --profile, --probe (see its header). The bench has its own bench/package.json and
# lockfile (pouchdb 9, whose dist/ has the indexeddb adapter and pouchdb-find browser builds,
# and playwright-core), installed into bench/node_modules.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

build=auto
attachments=0
faults=0
engines=0
scale=0
many=0
args=()
for a in "$@"; do
  case "$a" in
    --no-build) build=0 ;;
    --build) build=1 ;;
    --attachments) attachments=1 ;;
    --faults) faults=1 ;;
    --engines) engines=1 ;;
    --scale) scale=1 ;;
    --many-dbs) many=1 ;;
    *) args+=("$a") ;;
  esac
done

bash scripts/setup.sh
if [ "$build" = auto ]; then
  build=1
  if [ -f pkg/package.json ] && [ -f pkg/settee_core_bg.wasm ] && [ -f pkg/index.js ] &&
    [ -z "$(find src js Cargo.toml Cargo.lock scripts/build.sh scripts/pkg-json.mjs \
      -newer pkg/package.json -print -quit 2>/dev/null)" ] &&
    [ -z "$(find src js Cargo.toml Cargo.lock -newer pkg/settee_core_bg.wasm -print -quit 2>/dev/null)" ]; then
    log "pkg/ is newer than its sources: not rebuilding (--build forces it)"
    build=0
  fi
fi
if [ "$build" = 1 ]; then
  bash scripts/build.sh
else
  [ -f pkg/index.js ] || die "pkg/index.js missing: run without --no-build (or scripts/build.sh)"
fi

# The bench's own dependencies: reinstall when its package.json or lockfile changed.
stamp=bench/node_modules/.settee-bench-stamp
want="$(cat bench/package.json bench/package-lock.json | sha256sum | cut -d' ' -f1)"
if [ ! -d bench/node_modules ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "npm ci --prefix bench"
  # --ignore-scripts: nothing in the bench's tree needs an install script (pouchdb's browser
  # builds are prebuilt files; playwright-core downloads nothing on install).
  npm ci --prefix bench --ignore-scripts --no-audit --no-fund
  echo "$want" > "$stamp"
fi

if [ "$attachments" = 1 ]; then
  # It uses the root node_modules (pouchdb-server, PouchDB's browser build, playwright-core).
  log "bench: node bench/attachment-memory.mjs ${args[*]:-}"
  exec node bench/attachment-memory.mjs "${args[@]}"
fi
if [ "$faults" = 1 ]; then
  log "bench: node bench/faults-converge.mjs ${args[*]:-}"
  exec node bench/faults-converge.mjs "${args[@]}"
fi
if [ "$scale" = 1 ]; then
  log "bench: node bench/scale.mjs ${args[*]:-}"
  exec node bench/scale.mjs "${args[@]}"
fi
if [ "$many" = 1 ]; then
  log "bench: node bench/many-dbs.mjs ${args[*]:-}"
  exec node bench/many-dbs.mjs "${args[@]}"
fi
if [ "$engines" = 1 ]; then
  # `--engines a,b` after `--engines` narrows the engines: pass the list on.
  log "bench: node bench/engines.mjs ${args[*]:-}"
  exec node bench/engines.mjs "${args[@]}"
fi
log "bench: node bench/run.mjs ${args[*]:-}"
exec node bench/run.mjs "${args[@]}"
