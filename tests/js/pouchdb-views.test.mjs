// settee/pouchdb query(): what PouchDB's test.mapreduce.js expects of map and reduce errors and
// of attachments in query results.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sharedPouchPage } from './helpers.mjs';

/** Runs `fn(name)` in the shared page with `window.PouchDB` loaded from pkg/pouchdb.js. */
const inPage = sharedPouchPage('pviews');

test('a map that throws skips that doc and emits error on the database; the others are indexed', async () => {
  const r = await inPage(async (name) => {
    const db = new PouchDB(name, { adapter: 'memory' });
    const errors = [];
    db.on('error', (e) => errors.push(e instanceof Error));
    await db.bulkDocs([{ _id: 'a', foo: { bar: 1 } }, { _id: 'b' }, { _id: 'c', foo: { bar: 2 } }]);
    const res = await db.query((doc) => emit(doc.foo.bar));
    return { keys: res.rows.map((r) => r.key), errors };
  });
  assert.deepEqual(r, { keys: [1, 2], errors: [true] });
});

test('a reduce that throws gives null for its group and emits error (PouchDB), or rejects in Settee', async () => {
  const r = await inPage(async (name) => {
    const db = new PouchDB(name, { adapter: 'memory' });
    let errors = 0;
    db.on('error', () => errors++);
    await db.put({ _id: '1', name: 'bar' });
    const view = { map: (doc) => emit(doc.name), reduce: (keys) => keys[0].foo.bar };
    const res = await db.query(view, { group: true });
    const settee = await db.settee.query(view, { group: true }).then(() => 'resolved', (e) => e.status);
    return { rows: res.rows, errors, settee };
  });
  assert.deepEqual(r, { rows: [{ key: 'bar', value: null }], errors: 1, settee: 400 });
});

test('query with include_docs, attachments and binary gives Blobs', async () => {
  const r = await inPage(async (name) => {
    const db = new PouchDB(name, { adapter: 'memory' });
    await db.put({ _id: 'd', _attachments: { 'a.txt': { content_type: 'text/plain', data: btoa('hello') } } });
    const map = (doc) => emit(doc._id);
    const b64 = await db.query(map, { include_docs: true, attachments: true });
    const bin = await db.query(map, { include_docs: true, attachments: true, binary: true });
    const blob = bin.rows[0].doc._attachments['a.txt'].data;
    return { b64: b64.rows[0].doc._attachments['a.txt'].data, blob: blob instanceof Blob, text: await blob.text() };
  });
  assert.deepEqual(r, { b64: 'aGVsbG8=', blob: true, text: 'hello' });
});
