#!/usr/bin/env bash
# Exports PouchDB 9.0.0's own browser tests (tests/integration, tests/mapreduce, tests/find and
# tests/common-utils.js) from a local git mirror of pouchdb/pouchdb into target/pouchdb-suite/
# (git-ignored). They are PouchDB's code: never commit them.
#
#   bash scripts/pouchdb-suite/fetch-tests.sh [MIRROR_GIT_DIR]     (or POUCHDB_MIRROR=...)
#
# The tag 9.0.0 is the "build 9.0.0" commit, which replaces the sources with dist/ and has no
# tests/; the release was built from its parent, so the tests come from `9.0.0^`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MIRROR="${1:-${POUCHDB_MIRROR:-/work/.mirror/pouchdb+pouchdb/repo}}"
OUT="$ROOT/target/pouchdb-suite/tests"

if ! git --git-dir="$MIRROR" rev-parse --git-dir >/dev/null 2>&1; then
  echo "fetch-tests.sh: no git mirror of pouchdb/pouchdb at '$MIRROR'." >&2
  echo "  Clone it (git clone --bare https://github.com/pouchdb/pouchdb) and pass its path" >&2
  echo "  as the first argument or in POUCHDB_MIRROR." >&2
  exit 2
fi
if ! COMMIT="$(git --git-dir="$MIRROR" rev-parse --verify -q '9.0.0^{commit}^')"; then
  echo "fetch-tests.sh: the mirror at '$MIRROR' has no tag 9.0.0 (git fetch --tags)." >&2
  exit 2
fi

rm -rf "$OUT"
mkdir -p "$OUT"
# deps/ holds old PouchDB builds for migration tests and leveldb/ node fixtures: not needed.
git --git-dir="$MIRROR" archive "$COMMIT" tests/integration tests/mapreduce tests/find tests/common-utils.js |
  tar -x -C "$OUT" --strip-components=1 --exclude='tests/integration/deps' --exclude='tests/integration/leveldb'
echo "$COMMIT" >"$OUT/COMMIT"
echo "exported PouchDB's tests at $COMMIT (the source of 9.0.0) into ${OUT#"$ROOT"/}"
