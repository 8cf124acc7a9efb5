// settee/pouchdb: the PouchDB-shaped entry. Each test is a behaviour a PouchDB app relies on
// (found failing by PouchDB's own suite, scripts/pouchdb-suite/) and must keep working.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sharedPouchPage } from './helpers.mjs';

/** Runs `fn(name)` in the shared page with `window.PouchDB` loaded from pkg/pouchdb.js. */
const inPage = sharedPouchPage('pouch');

test('PouchDB(name) works without new and the database is an instance of PouchDB', async () => {
  const r = await inPage(async (name) => {
    const a = PouchDB(name, { adapter: 'memory' });
    const b = new PouchDB({ name, adapter: 'memory' });
    let threw = false;
    try {
      new PouchDB();
    } catch {
      threw = true;
    }
    return { a: a instanceof PouchDB, b: b instanceof PouchDB, name: b.name, adapter: a.adapter, threw };
  });
  assert.deepEqual(r, { a: true, b: true, name: r.name, adapter: 'memory', threw: true });
});

test('every method takes a Node-style callback and still returns its promise', async () => {
  const r = await inPage(async (name) => {
    const db = new PouchDB(name, { adapter: 'memory' });
    const viaCallback = await new Promise((ok) => db.put({ _id: 'a', v: 1 }, (err, res) => ok({ err, ok: res?.ok })));
    const returned = await db.get('a', (err, doc) => doc);
    const missing = await new Promise((ok) => db.get('nope', {}, (err) => ok({ status: err?.status, docId: err?.docId })));
    const all = await new Promise((ok) => db.allDocs((err, res) => ok(res.rows.length)));
    return { viaCallback, returnedV: returned.v, missing, all };
  });
  assert.deepEqual(r, { viaCallback: { err: null, ok: true }, returnedV: 1, missing: { status: 404, docId: 'nope' }, all: 1 });
});

test('a conflict names the document in docId', async () => {
  const r = await inPage(async (name) => {
    const db = new PouchDB(name, { adapter: 'memory' });
    await db.put({ _id: 'x' });
    const put = await db.put({ _id: 'x' }).catch((e) => ({ status: e.status, docId: e.docId }));
    const post = await db.post({ _id: 'x' }).catch((e) => ({ status: e.status, docId: e.docId }));
    return { put, post };
  });
  assert.deepEqual(r, { put: { status: 409, docId: 'x' }, post: { status: 409, docId: 'x' } });
});

test('plugin() adds methods to every database and defaults() supplies options', async () => {
  const r = await inPage(async (name) => {
    PouchDB.plugin({ hello() { return 'hi ' + this.name; } });
    const Mem = PouchDB.defaults({ adapter: 'memory' });
    const db = new Mem(name);
    let bad;
    try {
      PouchDB.plugin(null);
    } catch (e) {
      bad = e instanceof Error;
    }
    return { hello: db.hello(), adapter: db.adapter, isPouch: db instanceof PouchDB, bad };
  });
  assert.equal(r.hello.startsWith('hi '), true);
  assert.deepEqual({ ...r, hello: undefined }, { hello: undefined, adapter: 'memory', isPouch: true, bad: true });
});

test('created and destroyed are emitted on the constructor and destroyed on the database', async () => {
  const r = await inPage(async (name) => {
    const events = [];
    const onCreated = (n) => n === name && events.push('created');
    PouchDB.on('created', onCreated);
    PouchDB.on('destroyed', (n) => n === name && events.push('ctor destroyed'));
    const db = new PouchDB(name, { adapter: 'memory' });
    db.on('destroyed', () => events.push('db destroyed'));
    await db.info();
    await new Promise((ok) => setTimeout(ok, 10));
    await db.destroy();
    PouchDB.removeListener('created', onCreated);
    return events;
  });
  assert.deepEqual(r, ['created', 'db destroyed', 'ctor destroyed']);
});

test('changes() without live is an emitter of change and complete that is also awaitable', async () => {
  const r = await inPage(async (name) => {
    const db = new PouchDB(name, { adapter: 'memory' });
    await db.bulkDocs([{ _id: 'a' }, { _id: 'b' }]);
    const seen = [];
    let completed;
    const fromOption = [];
    const feed = db
      .changes({ onChange: (c) => fromOption.push(c.id), complete: (err, res) => (completed = res.results.length) })
      .on('change', (c) => seen.push(c.id))
      .on('complete', (info) => seen.push('complete:' + info.results.length));
    const res = await feed;
    return { seen, fromOption, completed, awaited: res.results.length };
  });
  assert.deepEqual(r, { seen: ['a', 'b', 'complete:2'], fromOption: ['a', 'b'], completed: 2, awaited: 2 });
});

test('a live changes feed is awaitable and resolves when cancelled', async () => {
  const r = await inPage(async (name) => {
    const db = new PouchDB(name, { adapter: 'memory' });
    const rows = [];
    const feed = db.changes({ live: true }).on('change', (c) => {
      rows.push(c.id);
      if (rows.length === 2) feed.cancel();
    });
    await db.put({ _id: 'a' });
    await db.put({ _id: 'b' });
    const done = await feed;
    return { rows, status: done.status, results: done.results.length };
  });
  assert.deepEqual(r, { rows: ['a', 'b'], status: 'cancelled', results: 2 });
});

test('replications take a callback, have catch/finally and removeListener, and PouchDB.sync exists', async () => {
  const r = await inPage(async (name) => {
    const a = new PouchDB(name + '-a', { adapter: 'memory' });
    const b = new PouchDB(name + '-b', { adapter: 'memory' });
    await a.put({ _id: 'x' });
    const viaCallback = await new Promise((ok) => a.replicate.to(b, {}, (err, res) => ok(res?.docs_written)));
    let changes = 0;
    const listener = () => changes++;
    const rep = PouchDB.replicate(a, b).on('change', listener);
    rep.removeListener('change', listener);
    let finallyRan = false;
    await rep.catch(() => {}).finally(() => (finallyRan = true));
    const failed = await a.replicate.to('http:///').catch((e) => e instanceof Error);
    await b.put({ _id: 'y' });
    const synced = await PouchDB.sync(a, b);
    return { viaCallback, changes, finallyRan, failed, pulled: synced.pull.docs_written, y: (await a.get('y'))._id };
  });
  assert.deepEqual(r, { viaCallback: 1, changes: 0, finallyRan: true, failed: true, pulled: 1, y: 'y' });
});

test('db.id() resolves to a string, by callback too', async () => {
  const r = await inPage(async (name) => {
    const db = new PouchDB(name, { adapter: 'memory' });
    const viaCallback = await new Promise((ok) => db.id((err, id) => ok(typeof id)));
    return { viaCallback, promised: typeof (await db.id()) };
  });
  assert.deepEqual(r, { viaCallback: 'string', promised: 'string' });
});

test('two handles on one database see each other at once, and methods work unbound', async () => {
  const r = await inPage(async (name) => {
    const db1 = new PouchDB(name, { adapter: 'memory' });
    const db2 = new PouchDB(name, { adapter: 'memory' });
    await db1.post({ a: 1 });
    const seq = (await db2.info()).update_seq;
    const get = db2.get; // PouchDB #7259: `.then(db.get)`
    await db2.put({ _id: 'b' });
    const viaUnbound = await Promise.resolve('b').then(get);
    await db1.close();
    const stillOpen = (await db2.allDocs()).total_rows;
    return { seq, viaUnbound: viaUnbound._id, stillOpen };
  });
  assert.deepEqual(r, { seq: 1, viaUnbound: 'b', stillOpen: 2 });
});

test('remove(doc, {rev}) takes the rev from the options', async () => {
  const r = await inPage(async (name) => {
    const db = new PouchDB(name, { adapter: 'memory' });
    const doc = { _id: 'foo' };
    const { rev } = await db.put(doc);
    const removed = await db.remove(doc, { rev });
    return { ok: removed.ok, gone: await db.get('foo').catch((e) => e.status) };
  });
  assert.deepEqual(r, { ok: true, gone: 404 });
});

test('auto_compaction is reported by info() and unknown adapters are refused', async () => {
  const r = await inPage(async (name) => {
    const auto = await new PouchDB(name, { adapter: 'memory', auto_compaction: true }).info();
    const plain = await new PouchDB(name + '-b', { adapter: 'memory' }).info();
    let refused;
    try {
      new PouchDB(name, { adapter: 'myFakeAdapter' });
    } catch (e) {
      refused = e.message;
    }
    return { auto: auto.auto_compaction, plain: plain.auto_compaction, refused, defaults: PouchDB.defaults({ foo: 1 }).__defaults };
  });
  assert.deepEqual(r, { auto: true, plain: false, refused: 'Invalid Adapter: myFakeAdapter', defaults: { foo: 1 } });
});

test('bulkDocs with a doc that is no object or has a bad _ member rejects whole, writing nothing', async () => {
  const r = await inPage(async (name) => {
    const db = new PouchDB(name, { adapter: 'memory' });
    const notObject = await db.bulkDocs({ docs: [{ _id: 'a' }, 'nope'] }).catch((e) => e.message);
    const special = await db.bulkDocs({ docs: [{ _id: 'a' }, { _zing: 4 }] }).catch((e) => [e.name, e.message]);
    const badRev = await db.bulkDocs([{ _id: 'a' }, { _id: 'b', _rev: 'bad-format' }]).catch((e) => [e.name, e.message]);
    return { notObject, special, badRev, count: (await db.info()).doc_count };
  });
  assert.deepEqual(r, {
    notObject: 'Document must be a JSON object',
    special: ['doc_validation', 'Bad special document member: _zing'],
    badRev: ['bad_request', 'Invalid rev format'],
    count: 0,
  });
});

test('views: query(name) is _design/name view name, map source may end in ;, and CouchDB helpers are in scope', async () => {
  const r = await inPage(async (name) => {
    const db = new PouchDB(name, { adapter: 'memory' });
    await db.bulkDocs([{ _id: 'a', n: 1, tags: ['x'] }, { _id: 'b', n: 2, tags: 'y' }]);
    await db.put({
      _id: '_design/byN',
      views: {
        byN: {
          map: "function (doc) { emit(doc.n, isArray(doc.tags) ? toJSON(doc.tags) : null); };",
          reduce: 'function (keys, values) { return sum(values.map(function () { return 1; })); }',
        },
      },
    });
    const rows = (await db.query('byN', { reduce: false })).rows.map((row) => [row.key, row.value]);
    const reduced = (await db.query('byN')).rows[0].value;
    const limited = (await db.query('byN', { reduce: false, limit: '1', skip: '1' })).rows.map((row) => row.id);
    const temp = (await db.query(function (doc) { emit(doc._id); })).rows.length;
    const builtin = (await db.query({ map: 'function (doc) { emit(doc._id, doc.n); }', reduce: '_sum\n garbage' })).rows[0].value;
    const tempSum = (await db.query({ map: (doc) => emit(doc._id, doc.n), reduce: (k, v) => sum(v) })).rows[0].value;
    return { rows, reduced, limited, temp, builtin, tempSum };
  });
  assert.deepEqual(r, { rows: [[1, '["x"]'], [2, null]], reduced: 2, limited: ['b'], temp: 2, builtin: 3, tempSum: 3 });
});

test('a one-shot changes() cancelled by a listener emits no more rows and resolves to {status: cancelled}', async () => {
  const r = await inPage(async (name) => {
    const db = new PouchDB(name, { adapter: 'memory' });
    await db.bulkDocs([{ _id: 'a' }, { _id: 'b' }, { _id: 'c' }]);
    let seen = 0;
    const feed = db.changes().on('change', () => {
      if (++seen === 2) feed.cancel();
    });
    return { result: await feed, seen };
  });
  assert.deepEqual(r, { result: { status: 'cancelled' }, seen: 2 });
});
