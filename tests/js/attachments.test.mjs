// Attachments through the built package in Chromium: putAttachment from a Blob, a Uint8Array
// and base64; getAttachment returning an equal Blob; get with attachments/binary; removal.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { settle, sharedPage, uniqueName } from './helpers.mjs';

let page;
sharedPage((shared) => ({ page } = shared));

test('putAttachment takes a Blob, a Uint8Array and base64, and getAttachment returns equal Blobs', async () => {
  const r = await page.evaluate(async (name) => {
    const db = new Settee(name);
    const bytesOf = async (blob) => Array.from(new Uint8Array(await blob.arrayBuffer()));
    const png = new Uint8Array([137, 80, 78, 71, 0, 255, 1, 2]);
    const a = await db.putAttachment('doc', 'photo.png', null, new Blob([png], { type: 'image/png' }), 'image/png');
    const b = await db.putAttachment('doc', 'raw.bin', a.rev, png.slice(0, 3), 'application/octet-stream');
    const c = await db.putAttachment('doc', 'note.txt', b.rev, btoa('hello world'), 'text/plain');
    const out = { revs: [a.rev, b.rev, c.rev] };
    for (const att of ['photo.png', 'raw.bin', 'note.txt']) {
      const blob = await db.getAttachment('doc', att);
      out[att] = { isBlob: blob instanceof Blob, type: blob.type, bytes: await bytesOf(blob) };
    }
    // PouchDB's four-argument form (no rev) creates the doc; an ArrayBuffer is taken too.
    const d = await db.putAttachment('doc2', 'buf.bin', png.buffer.slice(2, 5), 'application/x-buf');
    const buf = await db.getAttachment('doc2', 'buf.bin');
    out.arrayBuffer = { rev: d.rev.split('-')[0], type: buf.type, bytes: await bytesOf(buf) };
    const old = await db.getAttachment('doc', 'photo.png', { rev: a.rev });
    out.oldRev = await bytesOf(old);
    out.stubs = (await db.get('doc'))._attachments;
    return out;
  }, uniqueName('att-inputs'));

  assert.deepEqual(r.revs.map((rev) => rev.split('-')[0]), ['1', '2', '3']);
  assert.deepEqual(r['photo.png'], { isBlob: true, type: 'image/png', bytes: [137, 80, 78, 71, 0, 255, 1, 2] });
  assert.deepEqual(r['raw.bin'], { isBlob: true, type: 'application/octet-stream', bytes: [137, 80, 78] });
  assert.deepEqual(r['note.txt'].bytes, [...Buffer.from('hello world')]);
  assert.equal(r['note.txt'].type, 'text/plain');
  assert.deepEqual(r.oldRev, [137, 80, 78, 71, 0, 255, 1, 2]);
  assert.deepEqual(r.arrayBuffer, { rev: '1', type: 'application/x-buf', bytes: [78, 71, 0] });
  assert.deepEqual(r.stubs['note.txt'], {
    content_type: 'text/plain',
    digest: 'md5-XrY7u+Ae7tCTyyK7j1rNww==',
    length: 11,
    revpos: 3,
    stub: true,
  });
  assert.equal(r.stubs['photo.png'].revpos, 1);
});

test('get returns stubs, base64 with attachments, and Blobs with binary; allDocs too', async () => {
  const r = await page.evaluate(async (name) => {
    const db = new Settee(name);
    await db.put({ _id: 'a', n: 1, _attachments: { 'x.txt': { content_type: 'text/plain', data: btoa('abc') } } });
    const stub = await db.get('a');
    const inline = await db.get('a', { attachments: true });
    const binary = await db.get('a', { attachments: true, binary: true });
    const blob = binary._attachments['x.txt'].data;
    const all = await db.allDocs({ include_docs: true, attachments: true });
    const allBinary = await db.allDocs({ include_docs: true, attachments: true, binary: true });
    const allBlob = allBinary.rows[0].doc._attachments['x.txt'];
    return {
      allBinary: { isBlob: allBlob.data instanceof Blob, text: await allBlob.data.text(), stub: allBlob.stub, length: allBlob.length },
      inlineEntry: Object.keys(inline._attachments['x.txt']).sort(),
      binaryEntry: Object.keys(binary._attachments['x.txt']).sort(),
      stub: stub._attachments['x.txt'],
      inline: inline._attachments['x.txt'].data,
      binary: { isBlob: blob instanceof Blob, type: blob.type, text: await blob.text() },
      all: all.rows[0].doc._attachments['x.txt'].data,
      changes: (await db.changes({ include_docs: true, attachments: true })).results[0].doc._attachments['x.txt'].data,
    };
  }, uniqueName('att-get'));

  assert.equal(r.stub.stub, true);
  assert.equal(r.stub.length, 3);
  assert.equal(r.stub.data, undefined);
  assert.equal(r.inline, Buffer.from('abc').toString('base64'));
  assert.deepEqual(r.binary, { isBlob: true, type: 'text/plain', text: 'abc' });
  assert.equal(r.all, Buffer.from('abc').toString('base64'));
  assert.equal(r.changes, Buffer.from('abc').toString('base64'));
  assert.deepEqual(r.allBinary, { isBlob: true, text: 'abc', stub: undefined, length: undefined });
  // As CouchDB: an entry with data has no `stub` and no `length`.
  assert.deepEqual(r.inlineEntry, ['content_type', 'data', 'digest', 'revpos']);
  assert.deepEqual(r.binaryEntry, ['content_type', 'data', 'digest', 'revpos']);
});

test('removeAttachment drops one entry; later reads are 404', async () => {
  const name = uniqueName('att-remove');
  const r = await settle(
    page,
    async (name) => {
      const db = new Settee(name);
      const a = await db.putAttachment('d', 'one', null, btoa('1'), 'text/plain');
      const b = await db.putAttachment('d', 'two', a.rev, btoa('2'), 'text/plain');
      const removed = await db.removeAttachment('d', 'one', b.rev);
      const doc = await db.get('d');
      const missing = await db.getAttachment('d', 'one').catch((e) => ({ status: e.status, name: e.name }));
      const kept = await (await db.getAttachment('d', 'two')).text();
      return { removed, names: Object.keys(doc._attachments), missing, kept };
    },
    name,
  );
  assert.ok(r.ok, JSON.stringify(r.error));
  assert.equal(r.ok.removed.ok, true);
  assert.ok(r.ok.removed.rev.startsWith('3-'));
  assert.deepEqual(r.ok.names, ['two']);
  assert.deepEqual(r.ok.missing, { status: 404, name: 'not_found' });
  assert.equal(r.ok.kept, '2');
});

test('bad base64 and missing stubs reject with PouchDB-shaped errors and write nothing', async () => {
  const r = await page.evaluate(async (name) => {
    const db = new Settee(name);
    const err = (e) => ({ status: e.status, name: e.name });
    const badPut = await db
      .put({ _id: 'a', _attachments: { x: { content_type: 'text/plain', data: '!!not base64' } } })
      .catch(err);
    const badPutAttachment = await db.putAttachment('b', 'x', null, '%%%', 'text/plain').catch(err);
    const stub = await db.put({ _id: 'c', _attachments: { x: { stub: true } } }).catch(err);
    return { badPut, badPutAttachment, stub, info: await db.info() };
  }, uniqueName('att-bad'));
  assert.deepEqual(r.badPut, { status: 400, name: 'bad_request' });
  assert.deepEqual(r.badPutAttachment, { status: 400, name: 'bad_request' });
  assert.deepEqual(r.stub, { status: 412, name: 'missing_stub' });
  assert.equal(r.info.doc_count, 0);
  assert.equal(r.info.update_seq, 0);
});
