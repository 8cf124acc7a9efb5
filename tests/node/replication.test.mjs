// Replication from Node.js against the test server (pouchdb-server, or real CouchDB with
// SETTEE_SERVER=couchdb): basic auth, bearer headers through a token-checking proxy, cookie
// sessions (Node's fetch keeps no cookies: Settee keeps the session cookie itself), live
// replication with retry across a server restart, and a process that exits at once after
// `cancel()`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { CouchServer, ADMIN, adminAuth } from '../js/couch.mjs';
import { entry, jsonLines, removeDir, runChild, sleep, tempDir } from './lib.mjs';

const { Settee } = await import(entry);
let couch;
let dir;

before(async () => {
  couch = await CouchServer.start();
  dir = tempDir('repl');
});
after(async () => {
  await couch?.stop();
  removeDir(dir);
});

const docs = (n, prefix = 'd') => Array.from({ length: n }, (_, i) => ({ _id: `${prefix}${String(i).padStart(4, '0')}`, i }));

async function secured(prefix) {
  const remote = await couch.freshDb(prefix);
  await couch.request('PUT', `/${remote.name}/_security`, {
    admins: { names: [], roles: [] },
    members: { names: [ADMIN.username], roles: [] },
  });
  return remote;
}

test('basic auth: push and pull between a directory and the server', async () => {
  const remote = await secured('basic');
  const db = new Settee('basic', { prefix: dir + '/' });
  await db.bulkDocs(docs(250));
  const server = new Settee(remote.plainUrl, { auth: ADMIN });
  const anonymous = await new Settee(remote.plainUrl).info().catch((e) => e.status);
  assert.equal(anonymous, 401);
  const pushed = await db.replicate.to(server);
  assert.equal(pushed.docs_written, 250);
  await couch.request('PUT', `/${remote.name}/from-server`, { v: 1 });
  const pulled = await db.replicate.from(server);
  assert.equal(pulled.docs_written, 1);
  assert.equal((await db.get('from-server')).v, 1);
  await db.close();
});

test('a cookie session logs in once and replicates on the cookie Settee keeps', async () => {
  const remote = await secured('session');
  const db = new Settee('session', { prefix: dir + '/' });
  await db.bulkDocs(docs(40));
  const server = new Settee(remote.plainUrl, { auth: { ...ADMIN, session: true } });
  // The database admits only the admin, and session requests carry no credentials: every
  // request after the login succeeds on the cookie alone.
  const pushed = await db.replicate.to(server);
  assert.equal(pushed.docs_written, 40);
  assert.equal((await couch.request('GET', `/${remote.name}`)).body.doc_count, 40);
  const pulled = await db.replicate.from(server);
  assert.equal(pulled.docs_written, 0);
  const bad = await new Settee(remote.plainUrl, { auth: { username: ADMIN.username, password: 'wrong-pw-5', session: true } })
    .info()
    .catch((e) => e);
  assert.equal(bad.status, 401);
  assert.ok(!String(bad.message).includes('wrong-pw-5'));
  await db.close();
});

test('bearer headers reach the server on every request (through a proxy that checks them)', async () => {
  const remote = await secured('bearer');
  const target = new URL(couch.url);
  const seen = { ok: 0, refused: 0 };
  const proxy = createServer(async (req, res) => {
    if (req.headers.authorization !== 'Bearer t0k3n-42') {
      seen.refused++;
      res.writeHead(401, { 'content-type': 'application/json' });
      return res.end('{"error":"unauthorized","reason":"bearer token required"}');
    }
    seen.ok++;
    const body = await new Promise((ok) => {
      const parts = [];
      req.on('data', (p) => parts.push(p));
      req.on('end', () => ok(Buffer.concat(parts)));
    });
    const headers = { ...req.headers, authorization: adminAuth, host: target.host };
    const answer = await fetch(new URL(req.url, target), { method: req.method, headers, body: body.length ? body : undefined });
    const out = Buffer.from(await answer.arrayBuffer());
    const h = Object.fromEntries(answer.headers);
    delete h['content-encoding'];
    delete h['content-length'];
    delete h['transfer-encoding'];
    res.writeHead(answer.status, h);
    res.end(out);
  });
  await new Promise((ok) => proxy.listen(0, '127.0.0.1', ok));
  try {
    const url = `http://127.0.0.1:${proxy.address().port}/${remote.name}`;
    const db = new Settee('bearer', { prefix: dir + '/' });
    await db.bulkDocs(docs(30));
    const r = await db.replicate.to(new Settee(url, { headers: { Authorization: 'Bearer t0k3n-42' } }));
    assert.equal(r.docs_written, 30);
    assert.equal(seen.refused, 0);
    assert.ok(seen.ok >= 3, `${seen.ok} requests`);
    const refused = await new Settee(url).info().catch((e) => e.status);
    assert.equal(refused, 401);
    await db.close();
  } finally {
    await new Promise((ok) => proxy.close(ok));
  }
});

test('a live pull with retry rides out a server restart, and the process exits at once after cancel()', async () => {
  const remote = await couch.freshDb('live');
  await couch.request('POST', `/${remote.name}/_bulk_docs`, { docs: docs(20) });
  const child = runChild(
    `const db = new Settee('live', { prefix: ${JSON.stringify(dir + '/')} });
     const rep = db.replicate.from(new Settee(${JSON.stringify(remote.url)}), { live: true, retry: true });
     const wait = async (n) => { while ((await db.info()).doc_count < n) await new Promise((ok) => setTimeout(ok, 50)); };
     await wait(20);
     console.log(JSON.stringify({ phase: 'first', docs: (await db.info()).doc_count }));
     await wait(21);
     console.log(JSON.stringify({ phase: 'after-restart', docs: (await db.info()).doc_count }));
     const done = rep.then((r) => r.status);
     rep.cancel();
     console.log(JSON.stringify({ status: await done }));
     await db.close();
     globalThis.__t = Date.now();
     process.on('exit', () => console.log(JSON.stringify({ lingered: Date.now() - globalThis.__t })));`,
    { timeoutMs: 60_000 },
  );
  await sleep(1500);
  if (couch.canRestart) await couch.restart();
  await couch.request('PUT', `/${remote.name}/late`, { v: 1 });
  const r = await child;
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const lines = jsonLines(r.stdout);
  assert.deepEqual(lines.slice(0, 3), [{ phase: 'first', docs: 20 }, { phase: 'after-restart', docs: 21 }, { status: 'cancelled' }]);
  assert.ok(lines[3].lingered < 1000, `lingered ${lines[3].lingered} ms after cancel and close`);
});
