// Replication with a real CouchDB-compatible server (pouchdb-server from npm) from Chromium:
// push, pull, sync with conflicts, checkpoints, the request cost of a no-op sync, live,
// retry across a server restart, auth, filters, and a 1,000-doc pull.
import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';
import { ADMIN, CouchServer, fetchLog, installFetchCounter, resetFetchLog } from './couch.mjs';
import { eventually, launch, openPage, removeProfile, startServer } from './helpers.mjs';

let web, browser, page, couch;
before(async () => {
  couch = await CouchServer.start();
  web = await startServer();
  browser = await launch();
  page = await openPage(browser.context, web.url);
  await installFetchCounter(page, couch.url);
});
after(async () => {
  await browser?.context.close();
  removeProfile(browser?.profile);
  await web?.close();
  await couch?.stop();
});
afterEach(async () => {
  await couch.ensureUp();
});

test('a push copies docs, updates and deletions to the server', async () => {
  const remote = await couch.freshDb('push');
  const r = await page.evaluate(async ({ url }) => {
    const db = new Settee(crypto.randomUUID(), { adapter: 'memory' });
    await db.bulkDocs([{ _id: 'a', n: 1 }, { _id: 'b', n: 2 }, { _id: 'c', n: 3 }]);
    const b = await db.get('b');
    await db.put({ ...b, n: 20 });
    const c = await db.get('c');
    await db.remove(c);
    return await db.replicate.to(url);
  }, remote);
  assert.equal(r.ok, true);
  assert.equal(r.status, 'complete');
  assert.equal(r.docs_written, 3);
  assert.equal(r.doc_write_failures, 0);
  assert.ok(r.start_time && r.end_time);
  const all = (await couch.request('GET', `/${remote.name}/_all_docs?include_docs=true`)).body;
  assert.deepEqual(all.rows.map((row) => [row.id, row.doc.n]), [['a', 1], ['b', 20]]);
  const c = await couch.request('GET', `/${remote.name}/_all_docs?keys=${encodeURIComponent('["c"]')}`);
  assert.equal(c.body.rows[0].value.deleted, true);
});

test('a pull brings docs with their whole rev history into a local database', async () => {
  const remote = await couch.freshDb('pull');
  let rev = (await couch.request('PUT', `/${remote.name}/deep`, { v: 0 })).body.rev;
  for (let v = 1; v < 12; v++) rev = (await couch.request('PUT', `/${remote.name}/deep`, { _rev: rev, v })).body.rev;
  await couch.request('PUT', `/${remote.name}/other`, { v: 'x' });
  const r = await page.evaluate(async ({ url }) => {
    const db = new Settee(crypto.randomUUID(), { adapter: 'memory' });
    const result = await db.replicate.from(url);
    const deep = await db.get('deep', { revs: true });
    return { result, deep, info: await db.info() };
  }, remote);
  assert.equal(r.result.docs_written, 2);
  assert.equal(r.deep._rev, rev);
  assert.equal(r.deep.v, 11);
  assert.equal(r.deep._revisions.start, 12);
  assert.equal(r.deep._revisions.ids.length, 12);
  assert.equal(r.info.doc_count, 2);
});

test('a sync with concurrent edits ends with the same winner and conflicts on both sides', async () => {
  const remote = await couch.freshDb('conflict');
  await couch.request('PUT', `/${remote.name}/doc`, { side: 'server' });
  await couch.request('PUT', `/${remote.name}/only-server`, { n: 1 });
  const r = await page.evaluate(async ({ url }) => {
    const db = new Settee(crypto.randomUUID(), { adapter: 'memory' });
    await db.put({ _id: 'doc', side: 'browser' });
    await db.put({ _id: 'only-browser', n: 2 });
    const result = await db.sync(url);
    // pouchdb-server's feed can skip 'doc' when the push updates it during the pull's read
    // (see couch.mjs); a second sync must then bring it, and write nothing else.
    const again = await db.sync(url);
    return { result, again, doc: await db.get('doc', { conflicts: true }), ids: (await db.allDocs()).rows.map((r) => r.id) };
  }, remote);
  assert.equal(r.result.ok, true);
  assert.equal(r.result.push.docs_written, 2);
  assert.equal(r.again.push.docs_written, 0);
  assert.equal(r.result.pull.docs_written + r.again.pull.docs_written, 2);
  const server = (await couch.request('GET', `/${remote.name}/doc?conflicts=true`)).body;
  assert.equal(r.doc._rev, server._rev, 'same winner');
  assert.equal(r.doc.side, server.side);
  assert.deepEqual(r.doc._conflicts, server._conflicts);
  assert.equal(r.doc._conflicts.length, 1);
  assert.deepEqual(r.ids, ['doc', 'only-browser', 'only-server']);
});

test('a second run resumes from the checkpoint, writes nothing, and checkpoints hold no credentials', async () => {
  const remote = await couch.freshDb('resume');
  await resetFetchLog(page);
  const r = await page.evaluate(async ({ url }) => {
    const db = new Settee(crypto.randomUUID(), { adapter: 'memory' });
    await db.bulkDocs(Array.from({ length: 50 }, (_, i) => ({ _id: `d${i}` })));
    const first = await db.replicate.to(url, { batch_size: 20 });
    const second = await db.replicate.to(url, { batch_size: 20 });
    await db.put({ _id: 'late' });
    const third = await db.replicate.to(url, { batch_size: 20 });
    return { first, second, third };
  }, remote);
  assert.equal(r.first.docs_written, 50);
  assert.equal(r.second.docs_written, 0);
  assert.equal(r.second.docs_read, 0);
  assert.equal(r.third.docs_written, 1);
  const checkpointPut = (await fetchLog(page)).find((f) => f.startsWith('PUT') && f.includes('/_local/'));
  assert.ok(checkpointPut, 'a checkpoint was written to the server');
  const path = checkpointPut.slice('PUT '.length);
  const doc = (await couch.request('GET', path)).body;
  assert.ok(doc.session_id && doc.history.length >= 1);
  assert.ok(!JSON.stringify(doc).includes(ADMIN.password));
  assert.ok(!(await fetchLog(page)).some((f) => f.includes(ADMIN.password)), 'no request URL carries the password');
});

test('a sync of databases already in sync costs a constant number of requests', async () => {
  const remote = await couch.freshDb('noop');
  const counts = [];
  for (const n of [100, 400]) {
    const name = crypto.randomUUID();
    await page.evaluate(async ({ url, name, n }) => {
      const db = new Settee(name, { adapter: 'memory' });
      window.__noop = db;
      await db.bulkDocs(Array.from({ length: n }, (_, i) => ({ _id: `${name}-${i}` })));
      await db.sync(url);
      // The pull of the first sync may run before the push's docs reach the server's feed;
      // a second sync settles both checkpoints.
      await db.sync(url);
    }, { ...remote, name, n });
    await resetFetchLog(page);
    const result = await page.evaluate(async ({ url }) => window.__noop.sync(url), remote);
    assert.equal(result.push.docs_read + result.pull.docs_read, 0);
    const log = await fetchLog(page);
    // GET /db and GET _local/<id> per direction, and one _changes for the pull.
    assert.ok(log.length <= 5, `a no-op sync took ${log.length} requests: ${log.join(', ')}`);
    counts.push(log.length);
  }
  assert.equal(counts[1], counts[0], 'the cost does not grow with the database');
});

test('a live sync picks up a change made on the server and pushes a local one', async () => {
  const remote = await couch.freshDb('live');
  await page.evaluate(async ({ url }) => {
    const db = new Settee(crypto.randomUUID(), { adapter: 'memory' });
    window.__live = { db, events: [] };
    window.__live.rep = db
      .sync(url, { live: true, retry: true, back_off_base: 100 })
      .on('paused', (e) => window.__live.events.push(e ? 'paused-error' : 'paused'))
      .on('active', () => window.__live.events.push('active'))
      .on('change', (c) => window.__live.events.push(`change-${c.direction}`));
  }, remote);
  await eventually('the first paused', () => page.evaluate(() => window.__live.events.includes('paused')));
  await couch.request('PUT', `/${remote.name}/from-server`, { v: 1 });
  await eventually('the server doc locally', () =>
    page.evaluate(() => window.__live.db.get('from-server').then(() => true, () => false)),
  );
  await page.evaluate(() => window.__live.db.put({ _id: 'from-browser', v: 2 }));
  await eventually('the local doc on the server', async () => (await couch.request('GET', `/${remote.name}/from-browser`)).status === 200);
  const r = await page.evaluate(async () => {
    window.__live.rep.cancel();
    return { result: await window.__live.rep, events: window.__live.events };
  });
  assert.equal(r.result.status, 'cancelled');
  assert.ok(r.events.includes('change-pull') && r.events.includes('change-push'), r.events.join());
  assert.ok(!r.events.includes('paused-error'));
});

test('a live replication with retry survives the server being restarted', async (t) => {
  if (!couch.canRestart) return t.skip('needs a server the tests can kill and restart, not one at COUCH_URL');
  const remote = await couch.freshDb('restart');
  await page.evaluate(async ({ url }) => {
    const db = new Settee(crypto.randomUUID(), { adapter: 'memory' });
    window.__retry = { db, events: [] };
    window.__retry.rep = db
      .replicate.to(url, { live: true, retry: true, back_off_base: 200 })
      .on('paused', (e) => window.__retry.events.push(e ? `paused-error:${e.name}` : 'paused'))
      .on('error', (e) => window.__retry.events.push(`error:${e.name}`));
    await db.put({ _id: 'before' });
  }, remote);
  await eventually('the first doc on the server', async () => (await couch.request('GET', `/${remote.name}/before`)).status === 200);
  await couch.kill();
  await page.evaluate(() => window.__retry.db.put({ _id: 'during' }));
  await eventually('a paused event with the network error', () =>
    page.evaluate(() => window.__retry.events.some((e) => e.startsWith('paused-error'))),
  );
  await couch.restart();
  await eventually('the doc written during the outage on the server', async () =>
    (await couch.request('GET', `/${remote.name}/during`).catch(() => ({ status: 0 }))).status === 200,
  30000);
  const r = await page.evaluate(async () => {
    window.__retry.rep.cancel();
    return { result: await window.__retry.rep, events: window.__retry.events };
  });
  assert.equal(r.result.status, 'cancelled');
  assert.equal(r.result.docs_written, 2, 'nothing lost, nothing written twice');
  assert.ok(!r.events.some((e) => e.startsWith('error')), r.events.join());
  assert.ok(r.events.includes('paused-error:network_error'), r.events.join());
});

test("the browser's online event ends a retrying replication's back-off at once", async (t) => {
  if (!couch.canRestart) return t.skip('needs a server the tests can kill and restart, not one at COUCH_URL');
  const remote = await couch.freshDb('online');
  await page.evaluate(async ({ url }) => {
    const db = new Settee(crypto.randomUUID(), { adapter: 'memory' });
    window.__online = { db, events: [] };
    // A base of 10 minutes: without the event, the wait after the outage is up to that long.
    window.__online.rep = db.replicate
      .to(url, { live: true, retry: true, back_off_base: 600_000 })
      .on('paused', (e) => window.__online.events.push(e ? `paused-error:${e.name}` : 'paused'));
    await db.put({ _id: 'before' });
  }, remote);
  await eventually('the first doc on the server', async () => (await couch.request('GET', `/${remote.name}/before`)).status === 200);
  await couch.kill();
  await page.evaluate(() => window.__online.db.put({ _id: 'during' }));
  await eventually('a paused event with the network error', () =>
    page.evaluate(() => window.__online.events.some((e) => e.startsWith('paused-error'))),
  );
  await couch.restart();
  const woke = Date.now();
  await page.evaluate(() => window.dispatchEvent(new Event('online')));
  await eventually('the doc written during the outage on the server', async () =>
    (await couch.request('GET', `/${remote.name}/during`).catch(() => ({ status: 0 }))).status === 200,
  10_000);
  const r = await page.evaluate(async () => {
    window.__online.rep.cancel();
    return (await window.__online.rep).docs_written;
  });
  assert.equal(r, 2);
  assert.ok(Date.now() - woke < 10_000);
});

test('basic auth works from the auth option and from the URL, and a remote Settee reads and writes', async () => {
  const remote = await couch.freshDb('auth');
  const r = await page.evaluate(async ({ plainUrl, url, admin }) => {
    const viaOption = new Settee(plainUrl, { auth: admin });
    const put = await viaOption.put({ _id: 'x', v: 1 });
    const viaUrl = new Settee(url);
    const got = await viaUrl.get('x');
    const bulk = await viaUrl.bulkDocs([{ _id: 'y' }, { _id: 'x', v: 2 }]);
    const all = await viaUrl.allDocs({ include_docs: true });
    const changes = await viaOption.changes({ since: 0 });
    const info = await viaOption.info();
    return { put, got, bulk, ids: all.rows.map((r) => r.id), changes: changes.results.length, info, name: viaUrl.name };
  }, { ...remote, admin: ADMIN });
  assert.equal(r.put.ok, true);
  assert.equal(r.got.v, 1);
  assert.equal(r.bulk[0].ok, true);
  assert.equal(r.bulk[1].status, 409);
  assert.equal(r.bulk[1].name, 'conflict');
  assert.deepEqual(r.ids, ['x', 'y']);
  assert.equal(r.changes, 2);
  assert.equal(r.info.doc_count, 2);
  assert.ok(!r.name.includes(ADMIN.password));
});

test('a wrong password stops a live, retrying replication with a 401 error that hides the password', async () => {
  const remote = await couch.freshDb('denied');
  await resetFetchLog(page);
  const bad = remote.url.replace(ADMIN.password, 'wrong-password-9');
  const r = await page.evaluate(async ({ bad }) => {
    const db = new Settee(crypto.randomUUID(), { adapter: 'memory' });
    await db.put({ _id: 'a' });
    const events = [];
    const rep = db.replicate.to(bad, { live: true, retry: true, back_off_base: 50 }).on('error', (e) => events.push(e.status));
    const err = await rep.then(() => null, (e) => ({ status: e.status, name: e.name, message: e.message, reason: e.reason }));
    return { err, events };
  }, { bad });
  assert.equal(r.err.status, 401);
  assert.equal(r.err.name, 'unauthorized');
  assert.deepEqual(r.events, [401]);
  assert.ok(!JSON.stringify(r.err).includes('wrong-password-9'));
  assert.ok((await fetchLog(page)).length <= 3, 'no retries');
});

test('doc_ids and filter functions limit what is replicated', async () => {
  const remote = await couch.freshDb('filters');
  for (const id of ['a', 'b', 'c', 'd']) await couch.request('PUT', `/${remote.name}/${id}`, { keep: id !== 'd' });
  const r = await page.evaluate(async ({ url }) => {
    const pulled = new Settee(crypto.randomUUID(), { adapter: 'memory' });
    const byIds = await pulled.replicate.from(url, { doc_ids: ['a', 'c'] });
    const ids = (await pulled.allDocs()).rows.map((r) => r.id);
    const local = new Settee(crypto.randomUUID(), { adapter: 'memory' });
    await local.bulkDocs([{ _id: 'p1', push: true }, { _id: 'p2', push: false }]);
    const pushed = await local.replicate.to(url, { filter: (doc) => doc.push === true });
    return { byIds, ids, pushed };
  }, remote);
  assert.deepEqual(r.ids, ['a', 'c']);
  assert.equal(r.byIds.docs_written, 2);
  assert.equal(r.pushed.docs_written, 1);
  assert.equal((await couch.request('GET', `/${remote.name}/p1`)).status, 200);
  assert.equal((await couch.request('GET', `/${remote.name}/p2`)).status, 404);
});

test('a 1,000-doc pull completes with every doc', async () => {
  const remote = await couch.freshDb('big');
  const docs = Array.from({ length: 1000 }, (_, i) => ({ _id: `doc-${String(i).padStart(4, '0')}`, i, text: 'x'.repeat(50) }));
  await couch.request('POST', `/${remote.name}/_bulk_docs`, { docs });
  const r = await page.evaluate(async ({ url }) => {
    const db = new Settee(crypto.randomUUID());
    const t0 = performance.now();
    const changes = [];
    // Several batches whatever the default batch size (1,000): one change event each.
    const result = await db.replicate.from(url, { batch_size: 300 }).on('change', (c) => changes.push({ pending: c.pending, written: c.docs_written }));
    const ms = performance.now() - t0;
    const info = await db.info();
    const last = await db.get('doc-0999');
    await db.destroy();
    return { result, ms, info, last, changes };
  }, remote);
  assert.equal(r.result.docs_written, 1000);
  assert.equal(r.info.doc_count, 1000);
  assert.equal(r.last.i, 999);
  assert.equal(r.changes.length, 4, 'a change event per batch');
  assert.deepEqual(r.changes.at(-1), { pending: r.changes.at(-1).pending, written: 1000 });
  console.log(`1,000-doc pull into IndexedDB: ${Math.round(r.ms)} ms`);
});
