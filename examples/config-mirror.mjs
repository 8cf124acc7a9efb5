#!/usr/bin/env node
// A configuration mirror, the job Hoptree gives PouchDB on its servers: keep a live replica of
// a CouchDB database on local disk, and answer reads from it, so reads never cross the network
// and the last good configuration is there while the server is down.
//
//   npm install settee
//   node config-mirror.mjs http://user:pass@couch:5984/config [--dir ./config] [--port 8080]
//
//   GET /docs/<id>  the doc from the local replica (404 when it has none; ?conflicts=true)
//   GET /_status    {docs, update_seq, state, last_error}
//
// One JSON line per event on stdout ({"event": "ready" | "change" | "active" | "paused" |
// "error", ...}). The replica lives in the directory (`--dir`); after a crash or a restart the
// replication goes on from its last checkpoint. SIGTERM/SIGINT stop it cleanly.
import { createServer } from 'node:http';
import { Settee } from 'settee';

const [remoteUrl, ...rest] = process.argv.slice(2);
if (!remoteUrl) {
  console.error('usage: node config-mirror.mjs <remote database URL> [--dir DIR] [--port PORT]');
  process.exit(2);
}
const option = (name, fallback) => {
  const i = rest.indexOf(name);
  return i >= 0 && i + 1 < rest.length ? rest[i + 1] : fallback;
};
const say = (event, extra = {}) => console.log(JSON.stringify({ event, ...extra }));

const local = new Settee(option('--dir', './config'));
const remote = new Settee(remoteUrl);
let state = 'starting';
let lastError = null;

const replication = local.replicate
  .from(remote, { live: true, retry: true, batch_size: 100 })
  .on('change', (info) => say('change', { docs_written: info.docs_written, ids: info.docs.map((d) => d._id) }))
  .on('active', () => {
    state = 'active';
    say('active');
  })
  .on('paused', (err) => {
    state = err ? 'offline' : 'up to date';
    lastError = err ? err.message : null;
    say('paused', { error: lastError });
  })
  .on('error', (err) => {
    state = 'stopped';
    lastError = err.message;
    say('error', { error: err.message });
  });

const send = (res, status, body) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

const server = createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  const path = decodeURIComponent(url.pathname);
  try {
    if (path === '/_status') {
      const info = await local.info();
      return send(res, 200, { docs: info.doc_count, update_seq: info.update_seq, state, last_error: lastError });
    }
    if (path.startsWith('/docs/')) {
      const conflicts = url.searchParams.get('conflicts') === 'true';
      return send(res, 200, await local.get(path.slice('/docs/'.length), { conflicts }));
    }
    send(res, 404, { error: 'not_found', reason: 'no such route' });
  } catch (err) {
    send(res, err.status ?? 500, { error: err.name, reason: err.message });
  }
});
server.listen(Number(option('--port', '8080')), '127.0.0.1', () => say('ready', { port: server.address().port }));

async function stop() {
  replication.cancel();
  server.close();
  await local.close();
}
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
