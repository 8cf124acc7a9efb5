#!/usr/bin/env bash
# Sets up, builds, and serves the www/ demo (Settee Inbox, an offline-first PWA):
#   http://127.0.0.1:8080/       the demo page (www/), with the package at /pkg/ and
#                                 /config.json naming the sync server below
#   http://127.0.0.1:5984/       pouchdb-server, a local CouchDB-compatible server
#                                 (the page syncs with it; so does the README's replication
#                                 example), data in .cache/
# Ctrl-C stops both. Ports: DEMO_PORT (8080), COUCH_PORT (5984).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

DEMO_PORT="${DEMO_PORT:-8080}"
COUCH_PORT="${COUCH_PORT:-5984}"

bash scripts/setup.sh
bash scripts/build.sh

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port_busy "$DEMO_PORT" && die "port $DEMO_PORT is in use (set DEMO_PORT=...)"
port_busy "$COUCH_PORT" && die "port $COUCH_PORT is in use (set COUCH_PORT=...)"

# pouchdb-server rewrites its config file in place, so start each run from the template.
STATE=.cache/pouchdb-server
mkdir -p "$STATE/data"
cp scripts/pouchdb-server.config.json "$STATE/config.json"

# The page learns the sync server's URL from /config.json, generated here so that it follows
# COUCH_PORT (it lives in .cache/, never in the repo).
mkdir -p .cache/demo
printf '{"couch": "http://127.0.0.1:%s"}\n' "$COUCH_PORT" > .cache/demo/config.json

PIDS=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "stopped."
}
trap cleanup INT TERM EXIT

# Run from $STATE so nothing it writes (log.txt, config) lands in the repo root.
(cd "$STATE" && exec "$ROOT/node_modules/.bin/pouchdb-server" --host 127.0.0.1 --port "$COUCH_PORT" \
  --dir data/ --config config.json -n) &
PIDS+=($!)
node scripts/serve.mjs --host 127.0.0.1 --port "$DEMO_PORT" /=www /pkg/=pkg /config.json=.cache/demo/config.json &
PIDS+=($!)

for _ in $(seq 50); do port_busy "$COUCH_PORT" && port_busy "$DEMO_PORT" && break; sleep 0.2; done
port_busy "$COUCH_PORT" || die "pouchdb-server did not start; see $STATE/log.txt"
port_busy "$DEMO_PORT" || die "the static server did not start"

cat <<MSG

  Settee demo:     http://127.0.0.1:$DEMO_PORT/
  pouchdb-server:  http://127.0.0.1:$COUCH_PORT/   (Fauxton: http://127.0.0.1:$COUCH_PORT/_utils/, log: $STATE/log.txt)

  Press Ctrl-C to stop.
MSG
# Exit (and clean up) as soon as either server dies.
wait -n
