// settee/pouchdb attachments: what PouchDB's test.attachments.js expects of `binary: true` in
// changes() and bulkGet(), Blob data in put/bulkDocs, and putAttachment's "no rev" ('').
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sharedPouchPage } from './helpers.mjs';

/** Runs `fn(name)` in the shared page with `window.PouchDB` loaded from pkg/pouchdb.js. */
const inPage = sharedPouchPage('patts');

test('binary: true gives Blobs in one-shot and live changes and in bulkGet', async () => {
  const r = await inPage(async (name) => {
    const db = new PouchDB(name, { adapter: 'memory' });
    const put = await db.put({ _id: 'd', _attachments: { 'a.txt': { content_type: 'text/plain', data: btoa('hello') } } });
    const opts = { include_docs: true, attachments: true, binary: true };
    const blobText = async (doc) => {
      const data = doc._attachments['a.txt'].data;
      return data instanceof Blob ? data.type + ':' + (await data.text()) : typeof data;
    };
    const once = await db.changes(opts);
    const live = await new Promise((ok) => {
      const feed = db.changes({ ...opts, live: true }).on('change', (c) => {
        feed.cancel();
        ok(blobText(c.doc));
      });
    });
    const got = await db.bulkGet({ docs: [{ id: 'd', rev: put.rev }], attachments: true, binary: true });
    return { once: await blobText(once.results[0].doc), live: await live, bulkGet: await blobText(got.results[0].docs[0].ok) };
  });
  assert.deepEqual(r, { once: 'text/plain:hello', live: 'text/plain:hello', bulkGet: 'text/plain:hello' });
});

test('put and bulkDocs take Blob and typed array attachment data; putAttachment takes "" as no rev', async () => {
  const r = await inPage(async (name) => {
    const db = new PouchDB(name, { adapter: 'memory' });
    await db.put({ _id: 'blob', _attachments: { 'a.txt': { content_type: 'text/plain', data: new Blob(['from blob']) } } });
    await db.bulkDocs([{ _id: 'bytes', _attachments: { 'b.bin': { content_type: 'application/octet-stream', data: new Uint8Array([1, 2, 3]) } } }]);
    const empty = await db.putAttachment('new', 'c.txt', '', btoa('x'), 'text/plain');
    const underscore = await db.putAttachment('new', '_c.txt', empty.rev, btoa('x'), 'text/plain').catch((e) => e.name);
    const blob = await db.get('blob', { attachments: true });
    const bytes = await db.get('bytes', { attachments: true });
    const created = await db.get('new');
    return {
      blob: atob(blob._attachments['a.txt'].data),
      bytes: bytes._attachments['b.bin'].data,
      emptyRev: empty.rev.startsWith('1-'),
      revpos: created._attachments['c.txt'].revpos,
      underscore,
    };
  });
  assert.deepEqual(r, { blob: 'from blob', bytes: 'AQID', emptyRev: true, revpos: 1, underscore: 'bad_request' });
});

test('put writes the doc as it was at the call, even when the caller changes it right after', async () => {
  const r = await inPage(async (name) => {
    const db = new PouchDB(name, { adapter: 'memory' });
    const doc = { _id: 'x', _attachments: { 'a.txt': { content_type: 'text/plain', data: btoa('AAA') } }, v: 1 };
    const put = db.put(doc);
    doc._attachments['a.txt'].data = btoa('ZZZ');
    doc.v = 2;
    await put;
    const got = await db.get('x', { attachments: true });
    return { data: atob(got._attachments['a.txt'].data), v: got.v };
  });
  assert.deepEqual(r, { data: 'AAA', v: 1 });
});
