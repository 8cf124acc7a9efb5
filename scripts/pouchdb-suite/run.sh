#!/usr/bin/env bash
# Runs PouchDB 9's own local test suite against PouchDB 9 and against settee/pouchdb and prints
# the per-file table (details: run.mjs). Needs a git mirror of pouchdb/pouchdb (POUCHDB_MIRROR,
# default /work/.mirror/pouchdb+pouchdb/repo) unless the tests were fetched before, and pkg/.
#
#   bash scripts/pouchdb-suite/run.sh [run.mjs options, e.g. --suite find --files test.get.js]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
[ -f target/pouchdb-suite/tests/integration/utils.js ] || bash scripts/pouchdb-suite/fetch-tests.sh
[ -f pkg/pouchdb.js ] || { echo "pkg/pouchdb.js missing: run scripts/build.sh first" >&2; exit 2; }
# mocha/chai are devDependencies; when node_modules lacks them (an install from before they were
# added), put the pinned versions in target/ rather than touching node_modules.
if [ ! -f node_modules/mocha/mocha.js ] && [ ! -f target/pouchdb-suite/npm/node_modules/mocha/mocha.js ]; then
  mkdir -p target/pouchdb-suite/npm
  echo '{"private":true}' >target/pouchdb-suite/npm/package.json
  (cd target/pouchdb-suite/npm && npm install --ignore-scripts --no-audit --no-fund --no-save \
    mocha@10.2.0 chai@3.5.0 chai-as-promised@5.3.0)
fi
exec node scripts/pouchdb-suite/run.mjs "$@"
