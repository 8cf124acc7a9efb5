#!/usr/bin/env bash
# Runs the official JSON-Schema-Test-Suite's cases for the keywords Settee supports against its
# schema compiler (tests/schema_suite.rs prints a count per file and checks the recorded floors).
# The suite is fetched into target/json-schema-test-suite (git-ignored, never committed); pass
# another checkout as SCHEMA_SUITE_DIR. CI does not run this: it runs Settee's own cases
# (tests/validation_native.rs, tests/js/validation.test.mjs).
#   bash scripts/schema-suite.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
dir=${SCHEMA_SUITE_DIR:-target/json-schema-test-suite}
if [ ! -d "$dir/tests/draft2020-12" ]; then
  log "fetching the JSON-Schema-Test-Suite into $dir"
  rm -rf "$dir"
  git clone --depth 1 https://github.com/json-schema-org/JSON-Schema-Test-Suite "$dir" ||
    die "could not fetch the suite: put a checkout at $dir or set SCHEMA_SUITE_DIR"
fi
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1}
SCHEMA_SUITE_DIR="$(cd "$dir" && pwd)" cargo test --test schema_suite -- --ignored --nocapture
