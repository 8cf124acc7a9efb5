#!/usr/bin/env bash
# The long fuzz run: every target of tests/fuzz_props.rs (doc parser, raw-text bulkDocs, revs,
# _revisions, replication, read options, key codec, Mango, built-in reduces, LSM chunks and
# manifests, doc records and rev trees, damaged LSM and database records, the remote answer
# parsers, URLs and multipart parts) for many more cases than CI's `cargo test` gives them (256
# each), in a release build. Native only; no browser. The default took ~6 min on a busy 2-core
# machine (~70 s of it the build).
#
#   bash scripts/fuzz.sh            200,000 cases per target
#   bash scripts/fuzz.sh 20000      another count
#   bash scripts/fuzz.sh 20000 doc  only the targets whose name contains "doc"
#
# A failure prints the smallest input proptest could shrink it to and saves its seed in
# tests/fuzz_props.proptest-regressions (commit it: every later run tries it first). A case
# that hangs aborts the run with its input (the watchdog in tests/fuzz/mod.rs).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

CASES="${1:-200000}"
FILTER="${2:-}"
# The release profile's LTO and single codegen unit serve the wasm bundle's size; for a test
# binary they only make the build minutes longer.
export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
log "fuzzing: $CASES cases per target${FILTER:+ matching '$FILTER'}"
FUZZ_CASES="$CASES" cargo test --release --test fuzz_props -- ${FILTER:+"$FILTER"}
