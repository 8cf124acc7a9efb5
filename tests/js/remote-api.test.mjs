// The database API of a remote Settee (`new Settee('http://…/db')`) against a real
// pouchdb-server: attachments as bytes both ways, views of design docs, and Mango indexes and
// queries, so code written for a local database runs against a CouchDB URL unchanged.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CouchServer, fetchLog, installFetchCounter, resetFetchLog } from './couch.mjs';
import { launch, openPage, removeProfile, startServer } from './helpers.mjs';

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

test('a remote database puts, gets and removes attachments as bytes, not base64 JSON', async () => {
  const remote = await couch.freshDb('remote-att');
  await resetFetchLog(page);
  const r = await page.evaluate(async ({ url }) => {
    const db = new Settee(url);
    const bytes = new Uint8Array(300000).map((_, i) => (i * 7) % 256);
    const a = await db.putAttachment('doc', 'big.bin', new Blob([bytes], { type: 'application/x-big' }), 'application/x-big');
    const b = await db.putAttachment('doc', 'note.txt', a.rev, btoa('hello'), 'text/plain');
    const big = await db.getAttachment('doc', 'big.bin');
    const note = await db.getAttachment('doc', 'note.txt', { rev: b.rev });
    const same = new Uint8Array(await big.arrayBuffer()).every((v, i) => v === bytes[i]);
    const removed = await db.removeAttachment('doc', 'big.bin', b.rev);
    const doc = await db.get('doc');
    let missing;
    try {
      await db.getAttachment('doc', 'big.bin');
    } catch (e) {
      missing = { status: e.status, name: e.name };
    }
    let conflict;
    try {
      await db.putAttachment('doc', 'late.txt', a.rev, btoa('x'), 'text/plain');
    } catch (e) {
      conflict = e.status;
    }
    return {
      revs: [a.rev, b.rev, removed.rev].map((rev) => rev.split('-')[0]),
      big: { isBlob: big instanceof Blob, size: big.size, type: big.type, same },
      note: { type: note.type, text: await note.text() },
      names: Object.keys(doc._attachments),
      missing,
      conflict,
    };
  }, remote);
  assert.deepEqual(r.revs, ['1', '2', '3']);
  assert.deepEqual(r.big, { isBlob: true, size: 300000, type: 'application/x-big', same: true });
  assert.deepEqual(r.note, { type: 'text/plain', text: 'hello' });
  assert.deepEqual(r.names, ['note.txt']);
  assert.deepEqual(r.missing, { status: 404, name: 'not_found' });
  assert.equal(r.conflict, 409);
  const server = (await couch.request('GET', `/${remote.name}/doc`)).body;
  assert.equal(server._attachments['note.txt'].length, 5);
  // The 300 kB went up as the request body, once: a PUT of the attachment itself.
  const puts = (await fetchLog(page)).filter((f) => f.startsWith('PUT'));
  assert.ok(puts.some((f) => f.includes('/doc/big.bin')), puts.join('\n'));
});

test('a remote database queries design-doc views; temporary views are a clear 400', async () => {
  const remote = await couch.freshDb('remote-view');
  const r = await page.evaluate(async ({ url }) => {
    const db = new Settee(url);
    await db.bulkDocs(Array.from({ length: 20 }, (_, i) => ({ _id: `d${String(i).padStart(2, '0')}`, n: i, even: i % 2 === 0 })));
    await db.put({
      _id: '_design/app',
      views: { byN: { map: 'function (doc) { if (doc.even) emit(doc.n, null); }', reduce: '_count' } },
    });
    const range = await db.query('app/byN', { startkey: 4, endkey: 10, reduce: false, include_docs: true });
    const keys = await db.query('_design/app/byN', { keys: [2, 3, 18], reduce: false });
    const count = await db.query('app/byN');
    let temp;
    try {
      await db.query((doc) => emit(doc.n));
    } catch (e) {
      temp = { status: e.status, name: e.name };
    }
    let badName;
    try {
      await db.query('no-slash');
    } catch (e) {
      badName = e.status;
    }
    return {
      range: range.rows.map((row) => [row.key, row.id, row.doc.n]),
      keys: keys.rows.map((row) => row.key),
      count: count.rows[0].value,
      temp,
      badName,
    };
  }, remote);
  assert.deepEqual(r.range, [[4, 'd04', 4], [6, 'd06', 6], [8, 'd08', 8], [10, 'd10', 10]]);
  assert.deepEqual(r.keys, [2, 18]);
  assert.equal(r.count, 10);
  assert.deepEqual(r.temp, { status: 400, name: 'bad_request' });
  assert.equal(r.badName, 400);
});

test('a remote database creates, lists, uses and deletes Mango indexes with PouchDB-shaped requests', async () => {
  const remote = await couch.freshDb('remote-find');
  const r = await page.evaluate(async ({ url }) => {
    const db = new Settee(url);
    await db.bulkDocs(Array.from({ length: 30 }, (_, i) => ({ _id: `p${i}`, n: i, kind: i % 3 ? 'a' : 'b' })));
    const created = await db.createIndex({ index: { fields: ['n'], name: 'by-n', ddoc: 'idx' } });
    const listed = await db.getIndexes();
    const found = await db.find({ selector: { n: { $gte: 10, $lt: 15 } }, fields: ['_id', 'n'], sort: ['n'] });
    const explained = await db.explain({ selector: { n: { $gt: 1 } } });
    const deleted = await db.deleteIndex({ ddoc: '_design/idx', name: 'by-n' });
    const after = await db.getIndexes();
    return {
      created: created.result,
      listed: listed.indexes.map((i) => [i.ddoc, i.name]),
      found: found.docs,
      explainedIndex: explained.index.name,
      deleted: deleted.ok,
      after: after.indexes.map((i) => i.name),
    };
  }, remote);
  assert.equal(r.created, 'created');
  assert.deepEqual(r.listed, [[null, '_all_docs'], ['_design/idx', 'by-n']]);
  assert.deepEqual(r.found, [10, 11, 12, 13, 14].map((n) => ({ _id: `p${n}`, n })));
  assert.equal(r.explainedIndex, 'by-n');
  assert.equal(r.deleted, true);
  assert.deepEqual(r.after, ['_all_docs']);
});

test('a remote live changes feed follows the server with longpolls and stops on cancel', async () => {
  const remote = await couch.freshDb('remote-live');
  await couch.request('PUT', `/${remote.name}/before`, { n: 0 });
  await resetFetchLog(page);
  const started = page.evaluate(async ({ url }) => {
    const db = new Settee(url);
    window.__remoteRows = [];
    const feed = db.changes({ live: true, since: 'now', include_docs: true });
    window.__remoteFeed = feed;
    return await new Promise((resolve) => {
      feed.on('change', (row) => {
        window.__remoteRows.push([row.id, row.doc?.n ?? null, row.deleted ?? false]);
        if (window.__remoteRows.length === 3) feed.cancel();
      });
      feed.on('complete', (info) => resolve({ status: info.status, lastSeq: info.last_seq }));
      feed.on('error', (e) => resolve({ error: e.message }));
    });
  }, remote);
  // Writes land on the server after the feed is waiting, one at a time.
  await new Promise((ok) => setTimeout(ok, 500));
  const a = (await couch.request('PUT', `/${remote.name}/a`, { n: 1 })).body;
  await new Promise((ok) => setTimeout(ok, 200));
  await couch.request('PUT', `/${remote.name}/b`, { n: 2 });
  await new Promise((ok) => setTimeout(ok, 200));
  await couch.request('DELETE', `/${remote.name}/a?rev=${a.rev}`);
  const done = await started;
  assert.equal(done.status, 'cancelled', JSON.stringify(done));
  assert.ok(done.lastSeq !== 0 && done.lastSeq !== undefined);
  const rows = await page.evaluate(() => window.__remoteRows);
  assert.deepEqual(rows, [['a', 1, false], ['b', 2, false], ['a', null, true]], 'since now: no "before"');
  const polls = (await fetchLog(page)).filter((f) => f.includes('/_changes'));
  assert.ok(polls.some((f) => f.includes('feed=longpoll')), polls.join('\n'));
  assert.ok(polls.length <= 8, `one longpoll per wake-up, not a busy loop: ${polls.length}`);
});

test('a remote live feed with doc_ids and limit ends by itself; a bad server answer is an error event', async () => {
  const remote = await couch.freshDb('remote-live-ids');
  for (const id of ['x', 'y', 'z']) await couch.request('PUT', `/${remote.name}/${id}`, { id });
  const r = await page.evaluate(async ({ url }) => {
    const collect = (feed) =>
      new Promise((resolve) => {
        const ids = [];
        feed.on('change', (row) => ids.push(row.id));
        feed.on('complete', (info) => resolve({ ids, status: info.status }));
        feed.on('error', (e) => resolve({ ids, error: { status: e.status, name: e.name } }));
      });
    const db = new Settee(url);
    const limited = await collect(db.changes({ live: true, doc_ids: ['x', 'z'], limit: 2 }));
    const missing = await collect(new Settee(url + '-missing-db').changes({ live: true }));
    return { limited, missing };
  }, remote);
  // Sorted: CouchDB's feed merges its shards' feeds, so it is not in write order.
  assert.deepEqual({ ...r.limited, ids: r.limited.ids.sort() }, { ids: ['x', 'z'], status: 'finished' });
  assert.deepEqual(r.missing.ids, []);
  assert.equal(r.missing.error.status, 404);
});
