#!/usr/bin/env bash
# The long run of the convergence property test (tests/convergence_props.rs): 10,000 random
# schedules of edits, conflicts, compactions and faulty, interleaved replications across 3–5
# replicas, each ending in a full-mesh replication that must converge on identical rev trees
# and CouchDB's winners. CI runs the same test with its default case count (a few hundred,
# in debug, as part of `cargo test`); this is the release build, for before a release or after
# touching the rev tree, the write path or the replicator.
# Usage: scripts/convergence.sh [cases]   (default 10000; CONVERGENCE_CASES overrides too)
# A failing case is shrunk and its seed saved in tests/convergence_props.proptest-regressions;
# commit that file with the fix so every later run replays the case first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CONVERGENCE_CASES="${1:-${CONVERGENCE_CASES:-10000}}"
exec cargo test --release --test convergence_props
