// Replication against a real pouchdb-server at scale and under faults: 2,000+ docs with deep
// histories both ways, the server killed mid-run, every filter, a cookie session, and PouchDB 9
// syncing the same server database as a Settee database.
//
// Requests avoided because they make pouchdb-server 4.2.0 exit (real CouchDB answers them):
// `_changes?filter=_selector` (selectors are only tested with a local source, which filters
// itself), `filter=_view`, a filter naming a missing design doc (the design doc is put first).
import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';
import { ADMIN, CouchServer, fetchLog, installFetchCounter, resetFetchLog } from './couch.mjs';
import { addPouchDB, eventually as poll, launch, openPage, removeProfile, startServer } from './helpers.mjs';

let web, browser, page, couch;
before(async () => {
  couch = await CouchServer.start();
  web = await startServer();
  browser = await launch();
  page = await openPage(browser.context, web.url);
  await addPouchDB(page, web.url);
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

const eventually = (what, check, ms = 20000) => poll(what, check, ms, 20);

/** `{id: [deleted, sorted leaf revs]}` from a `_changes?style=all_docs` answer. */
const leaves = (changes) =>
  Object.fromEntries(changes.results.map((r) => [r.id, [!!r.deleted, r.changes.map((c) => c.rev).sort()]]));

const serverLeaves = async (name) => leaves((await couch.request('GET', `/${name}/_changes?style=all_docs`)).body);

/** A fake but well-formed rev path of `depth` revs for `id` (newest first). */
const revPath = (id, depth) =>
  Array.from({ length: depth }, (_, i) => `${id}x${depth - i}x`.padEnd(32, '0').replace(/[^0-9a-f]/g, 'a'));

/** The `since` of a logged request (`GET /db/_changes?…`). */
// CouchDB 3's seqs are opaque strings whose number before the dash is the sum of its shards'
// seqs: enough to tell how far a feed starts.
const sinceOf = (entry) => parseInt(new URL(couch.url + entry.split(' ')[1]).searchParams.get('since'), 10);

test('a push of 2,000 docs with updates, deletes and 50-rev histories matches on the server', async () => {
  const remote = await couch.freshDb('bigpush');
  const r = await page.evaluate(async ({ url }) => {
    const db = new Settee(crypto.randomUUID(), { adapter: 'memory' });
    const docs = Array.from({ length: 2000 }, (_, i) => ({ _id: `d${String(i).padStart(4, '0')}`, i }));
    const revs = (await db.bulkDocs(docs)).map((w) => w.rev);
    await db.bulkDocs(docs.slice(0, 300).map((d, i) => ({ ...d, _rev: revs[i], updated: true })));
    await db.bulkDocs(docs.slice(1800).map((d, i) => ({ _id: d._id, _rev: revs[1800 + i], _deleted: true })));
    for (let k = 0; k < 20; k++) {
      let rev = (await db.put({ _id: `deep${k}`, v: 1 })).rev;
      for (let v = 2; v <= 50; v++) rev = (await db.put({ _id: `deep${k}`, _rev: rev, v })).rev;
    }
    const result = await db.replicate.to(url);
    const local = await db.changes({ style: 'all_docs' });
    const deep = await Promise.all(Array.from({ length: 20 }, (_, k) => db.get(`deep${k}`, { revs: true })));
    return { result, local, deep };
  }, remote);
  assert.equal(r.result.ok, true);
  assert.equal(r.result.docs_written, 2020);
  assert.equal(r.result.doc_write_failures, 0);
  assert.deepEqual(await serverLeaves(remote.name), leaves(r.local));
  const info = (await couch.request('GET', `/${remote.name}`)).body;
  assert.equal(info.doc_count, 1820);
  for (const doc of r.deep) {
    const server = (await couch.request('GET', `/${remote.name}/${doc._id}?revs=true`)).body;
    assert.equal(server._revisions.ids.length, 50);
    assert.deepEqual(server._revisions, doc._revisions);
    assert.equal(server.v, 50);
  }
  const updated = (await couch.request('GET', `/${remote.name}/d0299`)).body;
  assert.equal(updated.updated, true);
  const d1999 = await couch.request('GET', `/${remote.name}/_all_docs?keys=${encodeURIComponent('["d1999"]')}`);
  assert.equal(d1999.body.rows[0].value.deleted, true);
});

test('a pull of 2,000 docs with updates, deletes, conflicts and deep histories matches the server', async () => {
  const remote = await couch.freshDb('bigpull');
  const docs = Array.from({ length: 2000 }, (_, i) => ({ _id: `d${String(i).padStart(4, '0')}`, i }));
  const revs = (await couch.request('POST', `/${remote.name}/_bulk_docs`, { docs })).body.map((w) => w.rev);
  await couch.request('POST', `/${remote.name}/_bulk_docs`, {
    docs: [
      ...docs.slice(0, 300).map((d, i) => ({ ...d, _rev: revs[i], updated: true })),
      ...docs.slice(1800).map((d, i) => ({ _id: d._id, _rev: revs[1800 + i], _deleted: true })),
    ],
  });
  // 60-rev histories written as replication writes them, some forking an existing doc.
  const deep = Array.from({ length: 30 }, (_, k) => {
    const ids = revPath(`f${k}`, 60);
    return { _id: k < 10 ? `d${String(k + 500).padStart(4, '0')}` : `deep${k}`, _rev: `60-${ids[0]}`, _revisions: { start: 60, ids }, k };
  });
  await couch.request('POST', `/${remote.name}/_bulk_docs`, { docs: deep, new_edits: false });
  // And a few real 50-edit histories.
  for (let k = 0; k < 3; k++) {
    let rev = (await couch.request('PUT', `/${remote.name}/edited${k}`, { v: 1 })).body.rev;
    for (let v = 2; v <= 50; v++) rev = (await couch.request('PUT', `/${remote.name}/edited${k}`, { _rev: rev, v })).body.rev;
  }
  const ids = [...deep.map((d) => d._id), 'edited0', 'edited1', 'edited2', 'd0003'];
  const r = await page.evaluate(async ({ url, ids }) => {
    const db = new Settee(crypto.randomUUID());
    const result = await db.replicate.from(url);
    const local = await db.changes({ style: 'all_docs' });
    const got = {};
    for (const id of ids) got[id] = await db.get(id, { revs: true, conflicts: true });
    await db.destroy();
    return { result, local, got };
  }, { ...remote, ids });
  assert.equal(r.result.ok, true);
  assert.equal(r.result.docs_written, 2000 + 30 + 3);
  assert.deepEqual(leaves(r.local), await serverLeaves(remote.name));
  for (const id of ids) {
    const server = (await couch.request('GET', `/${remote.name}/${id}?revs=true&conflicts=true`)).body;
    assert.deepEqual(r.got[id], server, id);
  }
  assert.equal(r.got.deep10._revisions.ids.length, 60);
  assert.equal(r.got.edited0._revisions.ids.length, 50);
  assert.equal(r.got.d0500._conflicts.length, 1, 'the forked doc keeps its conflict');
});

test('a pull interrupted by the server dying resumes from its checkpoint after the restart', async (t) => {
  if (!couch.canRestart) return t.skip('needs a server the tests can kill and restart, not one at COUCH_URL');
  const remote = await couch.freshDb('killpull');
  const docs = Array.from({ length: 3000 }, (_, i) => ({ _id: `k${String(i).padStart(4, '0')}`, i }));
  await couch.request('POST', `/${remote.name}/_bulk_docs`, { docs });
  await resetFetchLog(page);
  await page.evaluate(async ({ url }) => {
    const db = new Settee(crypto.randomUUID());
    window.__kill = { db, written: 0, events: [] };
    window.__kill.rep = db.replicate
      .from(url, { batch_size: 100, retry: true, back_off_base: 100 })
      .on('change', (c) => (window.__kill.written = c.docs_written))
      .on('paused', (e) => window.__kill.events.push(e ? `paused:${e.name}` : 'paused'));
  }, remote);
  await eventually('a fifth of the docs written', () => page.evaluate(() => window.__kill.written >= 600));
  await couch.kill();
  const logAtKill = (await fetchLog(page)).length;
  await eventually('a retry waiting on the dead server', () =>
    page.evaluate(() => window.__kill.events.includes('paused:network_error')),
  );
  await couch.restart();
  const r = await page.evaluate(async () => {
    const result = await window.__kill.rep;
    const { db } = window.__kill;
    const info = await db.info();
    const conflicted = (await db.allDocs({ conflicts: true, include_docs: true })).rows.filter((row) => row.doc._conflicts);
    await db.destroy();
    return { result, info, conflicted: conflicted.length };
  });
  assert.equal(r.result.ok, true);
  assert.equal(r.info.doc_count, 3000, 'nothing lost');
  assert.equal(r.conflicted, 0, 'nothing duplicated as a conflict');
  assert.ok(r.result.docs_written <= 3000, `written ${r.result.docs_written}: nothing twice`);
  // The first _changes after the restart starts at a checkpoint well past 0.
  const changesAfterKill = (await fetchLog(page)).slice(logAtKill).filter((f) => f.includes('/_changes'));
  assert.ok(sinceOf(changesAfterKill[0]) >= 600, `resumed from since=${sinceOf(changesAfterKill[0])}, not 0`);
});

test('a push killed mid-run fails, and a rerun resumes from the checkpoint without duplicates', async (t) => {
  if (!couch.canRestart) return t.skip('needs a server the tests can kill and restart, not one at COUCH_URL');
  const remote = await couch.freshDb('killpush');
  await page.evaluate(async () => {
    const db = new Settee(crypto.randomUUID(), { adapter: 'memory' });
    await db.bulkDocs(Array.from({ length: 3000 }, (_, i) => ({ _id: `p${String(i).padStart(4, '0')}`, i })));
    window.__kp = { db, written: 0 };
  });
  // Started without awaiting it in the page, so that the page answers the polls meanwhile
  // (WebDriver, which drives WebKit, runs one command at a time).
  await page.evaluate(async ({ url }) => {
    const rep = window.__kp.db.replicate.to(url, { batch_size: 100 }).on('change', (c) => (window.__kp.written = c.docs_written));
    window.__kp.outcome = rep.then(
      () => ({ failed: false }),
      (e) => ({ failed: true, status: e.status, name: e.name, partial: e.result }),
    );
  }, remote);
  await eventually('a fifth of the docs pushed', () => page.evaluate(() => window.__kp.written >= 600));
  await couch.kill();
  const first = await page.evaluate(() => window.__kp.outcome);
  assert.equal(first.failed, true);
  assert.equal(first.name, 'network_error');
  const checkpointed = first.partial.last_seq;
  assert.ok(checkpointed >= 600, `checkpointed at ${checkpointed}`);
  await couch.restart();
  const rerun = await page.evaluate(async ({ url }) => window.__kp.db.replicate.to(url, { batch_size: 100 }), remote);
  assert.equal(rerun.ok, true);
  assert.ok(rerun.docs_read <= 3000 - checkpointed + 100, `the rerun read ${rerun.docs_read} changes, not 3000`);
  assert.ok(first.partial.docs_written + rerun.docs_written <= 3000, 'nothing written twice');
  const info = (await couch.request('GET', `/${remote.name}`)).body;
  assert.equal(info.doc_count, 3000, 'nothing lost');
  const all = (await couch.request('GET', `/${remote.name}/_changes?style=all_docs`)).body.results;
  assert.ok(all.every((row) => row.changes.length === 1), 'no doc got a second leaf');
});

test('doc_ids and selector filter a push; a selector also filters local to local', async () => {
  const remote = await couch.freshDb('pushfilter');
  const r = await page.evaluate(async ({ url }) => {
    const db = new Settee(crypto.randomUUID(), { adapter: 'memory' });
    await db.bulkDocs(Array.from({ length: 20 }, (_, i) => ({ _id: `x${i}`, kind: i % 4 === 0 ? 'keep' : 'skip', i })));
    const byIds = await db.replicate.to(url, { doc_ids: ['x1', 'x2', 'nope'] });
    const bySelector = await db.replicate.to(url, { selector: { kind: 'keep', i: { $gte: 8 } } });
    const other = new Settee(crypto.randomUUID(), { adapter: 'memory' });
    const local = await db.replicate.to(other, { selector: { kind: 'skip' }, batch_size: 3 });
    const localIds = (await other.allDocs()).rows.map((row) => row.id);
    return { byIds, bySelector, local, localIds };
  }, remote);
  assert.equal(r.byIds.docs_written, 2);
  assert.equal(r.bySelector.docs_written, 3);
  const ids = (await couch.request('GET', `/${remote.name}/_all_docs`)).body.rows.map((row) => row.id);
  assert.deepEqual(ids, ['x1', 'x12', 'x16', 'x2', 'x8']);
  assert.equal(r.local.docs_written, 15);
  assert.equal(r.localIds.length, 15);
  assert.ok(r.localIds.every((id) => Number(id.slice(1)) % 4 !== 0));
});

test('since starts a pull at a server seq, and a design-doc filter with query_params filters a pull', async () => {
  const remote = await couch.freshDb('pullfilter');
  await couch.request('PUT', `/${remote.name}/_design/f`, {
    filters: { by_kind: 'function (doc, req) { return doc.kind === req.query.kind; }' },
  });
  await couch.request('POST', `/${remote.name}/_bulk_docs`, {
    docs: Array.from({ length: 10 }, (_, i) => ({ _id: `early${i}`, kind: i % 2 ? 'a' : 'b' })),
  });
  const since = (await couch.request('GET', `/${remote.name}`)).body.update_seq;
  await couch.request('POST', `/${remote.name}/_bulk_docs`, { docs: [{ _id: 'late1', kind: 'a' }, { _id: 'late2', kind: 'b' }] });
  const r = await page.evaluate(async ({ url, since }) => {
    const fromSince = new Settee(crypto.randomUUID(), { adapter: 'memory' });
    const a = await fromSince.replicate.from(url, { since });
    const byFilter = new Settee(crypto.randomUUID(), { adapter: 'memory' });
    const b = await byFilter.replicate.from(url, { filter: 'f/by_kind', query_params: { kind: 'a' } });
    return {
      a,
      sinceIds: (await fromSince.allDocs()).rows.map((row) => row.id),
      b,
      filterIds: (await byFilter.allDocs()).rows.map((row) => row.id),
    };
  }, { ...remote, since });
  assert.deepEqual(r.sinceIds, ['late1', 'late2']);
  assert.equal(r.a.docs_read, 2);
  assert.deepEqual(r.filterIds, ['early1', 'early3', 'early5', 'early7', 'early9', 'late1']);
  assert.equal(r.b.docs_written, 6);
  assert.ok(couch.alive, 'the server survived the filtered pull');
});

test('a cookie session logs in with POST /_session, replicates on the cookie, and logs in again when it is gone', async () => {
  const remote = await couch.freshDb('session');
  await couch.request('PUT', `/${remote.name}/_security`, { admins: { names: [], roles: [] }, members: { names: [ADMIN.username], roles: [] } });
  await browser.context.clearCookies();
  await resetFetchLog(page);
  const r = await page.evaluate(async ({ plainUrl, admin, server }) => {
    const anonymous = await new Settee(plainUrl).info().then(() => 200, (e) => e.status);
    const db = new Settee(crypto.randomUUID(), { adapter: 'memory' });
    await db.bulkDocs([{ _id: 'a' }, { _id: 'b' }]);
    const remote = new Settee(plainUrl, { auth: { ...admin, session: true } });
    window.__session = { db, remote };
    const pushed = await db.replicate.to(remote);
    const pulled = await db.replicate.from(remote);
    const session = await (await fetch(`${server}/_session`, { credentials: 'include' })).json();
    const bad = new Settee(plainUrl, { auth: { username: admin.username, password: 'wrong-pw-77', session: true } });
    const err = await bad.info().then(
      () => null,
      (e) => ({ status: e.status, name: e.name, text: `${e.message} ${e.reason} ${e.stack}` }),
    );
    return { anonymous, pushed, pulled, user: session.userCtx?.name, err };
  }, { ...remote, admin: ADMIN, server: couch.url });
  assert.equal(r.anonymous, 401, 'the database needs a login');
  assert.equal(r.pushed.docs_written, 2);
  assert.equal(r.pulled.docs_written, 0);
  assert.equal(r.user, ADMIN.username, 'the browser holds the session cookie');
  const log = await fetchLog(page);
  assert.equal(log.filter((f) => f === 'POST /_session').length, 2, 'one login per remote database');
  assert.equal(r.err.status, 401);
  assert.ok(!r.err.text.includes('wrong-pw-77'));
  const checkpoints = log.filter((f) => f.startsWith('PUT') && f.includes('/_local/'));
  assert.ok(checkpoints.length >= 1);
  for (const put of checkpoints) {
    const doc = (await couch.request('GET', put.slice('PUT '.length))).body;
    assert.ok(!JSON.stringify(doc).includes(ADMIN.password));
  }
  // The session ends (as it does after 10 minutes on CouchDB): the next request's 401 logs in again.
  await browser.context.clearCookies();
  await resetFetchLog(page);
  const again = await page.evaluate(async () => {
    const { db, remote } = window.__session;
    await db.put({ _id: 'c' });
    return db.replicate.to(remote);
  });
  assert.equal(again.docs_written, 1);
  assert.equal((await fetchLog(page)).filter((f) => f === 'POST /_session').length, 1);
  assert.equal((await couch.request('GET', `/${remote.name}/c`)).status, 200);
});

test('PouchDB 9 and Settee syncing one server database agree on docs, winners and conflicts', async () => {
  const remote = await couch.freshDb('interop');
  const seed = Array.from({ length: 40 }, (_, i) => ({ _id: `s${String(i).padStart(2, '0')}`, v: 0 }));
  await couch.request('POST', `/${remote.name}/_bulk_docs`, { docs: seed });
  const setup = await page.evaluate(async ({ url, plainUrl, admin }) => {
    const settee = new Settee(crypto.randomUUID(), { adapter: 'memory' });
    const pouch = new PouchDB(`pouch-${crypto.randomUUID()}`);
    const pouchRemote = new PouchDB(plainUrl, { auth: admin });
    window.__interop = { settee, pouch, pouchRemote, url };
    await settee.sync(url);
    await pouch.sync(pouchRemote);
    return { settee: (await settee.info()).doc_count, pouch: (await pouch.info()).doc_count };
  }, { ...remote, admin: ADMIN });
  assert.deepEqual(setup, { settee: 40, pouch: 40 });
  // Offline edits on all three: the same docs edited or deleted on several sides.
  const serverEdits = [];
  for (let i = 0; i < 40; i += 5) {
    const doc = (await couch.request('GET', `/${remote.name}/s${String(i).padStart(2, '0')}`)).body;
    serverEdits.push({ ...doc, by: 'server' });
  }
  await couch.request('POST', `/${remote.name}/_bulk_docs`, { docs: serverEdits });
  await page.evaluate(async () => {
    const { settee, pouch } = window.__interop;
    const sDocs = (await settee.allDocs({ include_docs: true })).rows.map((row) => row.doc);
    const pDocs = (await pouch.allDocs({ include_docs: true })).rows.map((row) => row.doc);
    await settee.bulkDocs([
      ...sDocs.filter((_, i) => i % 2 === 0).map((d) => ({ ...d, by: 'settee' })),
      ...sDocs.filter((_, i) => i % 7 === 3).map((d) => ({ _id: d._id, _rev: d._rev, _deleted: true })),
      ...Array.from({ length: 10 }, (_, i) => ({ _id: `settee-new${i}`, by: 'settee' })),
    ]);
    await pouch.bulkDocs([
      ...pDocs.filter((_, i) => i % 3 === 0).map((d) => ({ ...d, by: 'pouch' })),
      ...pDocs.filter((_, i) => i % 2 === 1 && i % 3 !== 0).slice(0, 6).map((d) => ({ ...d, _deleted: true })),
      ...Array.from({ length: 10 }, (_, i) => ({ _id: `pouch-new${i}`, by: 'pouch' })),
    ]);
  });
  // Both sync at the same time, then again until a round writes nothing anywhere.
  const rounds = await page.evaluate(async () => {
    const { settee, pouch, pouchRemote, url } = window.__interop;
    await Promise.all([settee.sync(url), pouch.sync(pouchRemote)]);
    for (let round = 1; round <= 10; round++) {
      const [s, p] = await Promise.all([settee.sync(url), pouch.sync(pouchRemote)]);
      const written = s.push.docs_written + s.pull.docs_written + p.push.docs_written + p.pull.docs_written;
      if (written === 0) return round;
    }
    return -1;
  });
  assert.ok(rounds > 0, 'the three reach quiescence');
  const sides = await page.evaluate(async () => {
    const { settee, pouch } = window.__interop;
    const view = async (db) => ({
      docs: (await db.allDocs({ include_docs: true, conflicts: true })).rows.map((row) => row.doc),
      changes: await db.changes({ style: 'all_docs' }),
    });
    return { settee: await view(settee), pouch: await view(pouch) };
  });
  const server = {
    docs: (await couch.request('GET', `/${remote.name}/_all_docs?include_docs=true&conflicts=true`)).body.rows.map((row) => row.doc),
    changes: (await couch.request('GET', `/${remote.name}/_changes?style=all_docs`)).body,
  };
  const norm = (side) => ({
    docs: side.docs.map((d) => ({ ...d, _conflicts: d._conflicts?.slice().sort() })),
    leaves: leaves(side.changes),
  });
  assert.deepEqual(norm(sides.settee), norm(server), 'Settee and the server');
  assert.deepEqual(norm(sides.pouch), norm(server), 'PouchDB and the server');
  const conflicted = server.docs.filter((d) => d._conflicts?.length);
  assert.ok(conflicted.length >= 8, `conflicts were made (${conflicted.length})`);
  assert.ok(Object.values(leaves(server.changes)).some(([deleted]) => deleted), 'some deletions won');
  assert.equal(server.docs.length + Object.values(leaves(server.changes)).filter(([d]) => d).length, 60);
  await page.evaluate(() => window.__interop.pouch.destroy());
});
