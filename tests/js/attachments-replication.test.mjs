// Attachments replicated with a real pouchdb-server from Chromium: data both ways (inline
// base64 for small ones, multipart and Blob downloads for large ones), data fetched only when
// the target lacks it, one stored copy per digest in IndexedDB, a conflict where only one side
// changed an attachment, and corrupted data rejected by its digest (through a proxy that
// corrupts one attachment download on its way from the server).
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, afterEach, before, test } from 'node:test';
import { CouchServer, fetchLog, installFetchCounter, resetFetchLog } from './couch.mjs';
import { ENGINE, launch, openPage, removeProfile, startServer, uniqueName } from './helpers.mjs';

let web, browser, page, couch, proxy;
before(async () => {
  couch = await CouchServer.start();
  proxy = await corruptingProxy(couch.url);
  web = await startServer();
  browser = await launch();
  page = await openPage(browser.context, web.url);
  await installFetchCounter(page, couch.url);
});
after(async () => {
  await browser?.context.close();
  removeProfile(browser?.profile);
  await web?.close();
  proxy?.close();
  await couch?.stop();
});
afterEach(async () => {
  await couch.ensureUp();
});

/**
 * Forwards everything to `target`, except that the body of a GET of an attachment named
 * `corrupt*` gets one byte flipped: what a bad disk or a broken middlebox would do.
 */
function corruptingProxy(target) {
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const headers = { ...req.headers };
    delete headers.host;
    const answer = await fetch(target + req.url, {
      method: req.method,
      headers,
      body: chunks.length ? Buffer.concat(chunks) : undefined,
      redirect: 'manual',
    });
    let body = Buffer.from(await answer.arrayBuffer());
    if (req.method === 'GET' && /\/corrupt[^/?]*(\?|$)/.test(req.url) && body.length > 0) {
      body = Buffer.from(body);
      body[0] ^= 0xff;
    }
    const out = {};
    answer.headers.forEach((v, k) => {
      if (!['content-length', 'content-encoding', 'transfer-encoding', 'connection'].includes(k)) out[k] = v;
    });
    res.writeHead(answer.status, out);
    res.end(body);
  });
  return new Promise((ok) =>
    server.listen(0, '127.0.0.1', () => {
      server.url = `http://127.0.0.1:${server.address().port}`;
      ok(server);
    }),
  );
}

/** Bytes 0..n-1 mod 251, a pattern that is cheap to check. */
const pattern = (n, seed = 0) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed) % 251));

test('a push sends small attachments inline and a 1 MB one as multipart; the server serves the same bytes', async () => {
  const remote = await couch.freshDb('att-push');
  const r = await page.evaluate(async ({ url }) => {
    const big = new Uint8Array(1024 * 1024).map((_, i) => (i * 7) % 251);
    const db = new Settee(crypto.randomUUID());
    const a = await db.putAttachment('doc', 'small.txt', btoa('hello'), 'text/plain');
    await db.putAttachment('doc', 'big.bin', a.rev, new Blob([big]), 'application/octet-stream');
    const result = await db.replicate.to(url);
    const doc = await db.get('doc');
    return { ok: result.ok, written: result.docs_written, failures: result.doc_write_failures, stubs: doc._attachments };
  }, remote);
  assert.deepEqual([r.ok, r.written, r.failures], [true, 1, 0]);
  const server = (await couch.request('GET', `/${remote.name}/doc?att_encoding_info=true`)).body;
  for (const name of ['small.txt', 'big.bin']) {
    assert.equal(server._attachments[name].length, r.stubs[name].length, name);
    // CouchDB stores text gzipped, and its digest is then the md5 of the gzipped bytes.
    if (couch.kind === 'couchdb' && name === 'small.txt') assert.equal(server._attachments[name].encoding, 'gzip');
    else assert.equal(server._attachments[name].digest, r.stubs[name].digest, name);
  }
  const big = Buffer.from(await (await fetch(`${couch.dbUrl(remote.name, false)}/doc/big.bin`, {
    headers: { authorization: 'Basic ' + Buffer.from('admin:sekrit-pw-1').toString('base64') },
  })).arrayBuffer());
  assert.ok(big.equals(pattern(1024 * 1024)));
});

test('a pull downloads attachment data once per digest, stores one Blob per digest, and an edit downloads nothing again', async () => {
  const remote = await couch.freshDb('att-pull');
  const b64 = (buf) => buf.toString('base64');
  const shared = { content_type: 'image/png', data: b64(pattern(300 * 1024, 1)) };
  await couch.request('POST', `/${remote.name}/_bulk_docs`, {
    docs: [
      { _id: 'a', _attachments: { 'photo.png': shared, 'note.txt': { content_type: 'text/plain', data: b64(Buffer.from('hi')) } } },
      { _id: 'b', _attachments: { 'copy.png': shared } },
    ],
  });
  await resetFetchLog(page);
  const name = uniqueName('att-pull-local');
  const r = await page.evaluate(async ({ url, name }) => {
    const db = new Settee(name);
    const result = await db.replicate.from(url);
    const photo = await db.getAttachment('a', 'photo.png');
    const copy = await db.getAttachment('b', 'copy.png');
    const note = await db.getAttachment('a', 'note.txt');
    const records = await new Promise((ok, fail) => {
      const open = indexedDB.open('settee:' + name);
      open.onerror = () => fail(open.error);
      open.onsuccess = () => {
        const tx = open.result.transaction('attachments');
        const req = tx.objectStore('attachments').getAll();
        req.onsuccess = () => {
          // A Blob record, or (where the engine refuses Blobs) a head of ArrayBuffer parts.
          ok(req.result.map((v) => ({ kind: v.blob instanceof Blob ? 'Blob' : v.complete ? 'parts' : '?', size: v.blob?.size ?? v.size })));
          open.result.close();
        };
      };
    });
    return {
      written: result.docs_written,
      photo: Array.from(new Uint8Array(await photo.arrayBuffer()).slice(0, 8)),
      photoSize: photo.size,
      photoType: photo.type,
      copySize: copy.size,
      note: await note.text(),
      records,
      doc: await db.get('a'),
    };
  }, { url: remote.url, name });
  assert.equal(r.written, 2);
  assert.deepEqual(r.photo, [...pattern(8, 1)]);
  assert.equal(r.photoSize, 300 * 1024);
  assert.equal(r.photoType, 'image/png');
  assert.equal(r.copySize, 300 * 1024);
  assert.equal(r.note, 'hi');
  // Two digests, two records: the shared photo is stored once. WebKit's WebDriver session
  // refuses Blobs in IndexedDB (as Private Browsing does), so there the data is in parts.
  const kind = ENGINE === 'webkit' ? 'parts' : 'Blob';
  assert.deepEqual(r.records.map((x) => x.kind), [kind, kind]);
  assert.deepEqual(r.records.map((x) => x.size).sort((x, y) => x - y), [2, 300 * 1024]);
  const downloads = (await fetchLog(page)).filter((f) => /\/(a|b)\/[^/?]+\?rev=/.test(f));
  assert.equal(downloads.length, 2, 'one download per digest: ' + JSON.stringify(downloads));

  // An edit on the server that keeps the attachments as stubs: nothing is downloaded again.
  const doc = (await couch.request('GET', `/${remote.name}/a`)).body;
  await couch.request('PUT', `/${remote.name}/a`, { ...doc, edited: true });
  await resetFetchLog(page);
  const again = await page.evaluate(async ({ url, name }) => {
    const db = new Settee(name);
    const result = await db.replicate.from(url);
    return { written: result.docs_written, edited: (await db.get('a')).edited };
  }, { url: remote.url, name });
  assert.deepEqual(again, { written: 1, edited: true });
  const more = (await fetchLog(page)).filter((f) => /\/a\/[^/?]+\?rev=/.test(f));
  assert.equal(more.length, 0);
});

test('a conflict where only the server changed an attachment converges, with both leaves readable on both sides', async () => {
  const remote = await couch.freshDb('att-conflict');
  const name = uniqueName('att-conflict-local');
  const r = await page.evaluate(async ({ url, name }) => {
    const db = new Settee(name);
    const one = await db.put({ _id: 'd', v: 0, _attachments: { 'f.txt': { content_type: 'text/plain', data: btoa('v1') } } });
    await db.replicate.to(url);
    // This side edits the body only: the attachment stays a stub.
    const local = await db.put({ _id: 'd', _rev: one.rev, v: 1, _attachments: { 'f.txt': { stub: true } } });
    return { base: one.rev, local: local.rev };
  }, { url: remote.url, name });
  // The server's side replaces the attachment.
  const doc = (await couch.request('GET', `/${remote.name}/d?rev=${r.base}`)).body;
  const put = await couch.request('PUT', `/${remote.name}/d`, {
    ...doc,
    _attachments: { 'f.txt': { content_type: 'text/plain', data: Buffer.from('v2').toString('base64') } },
  });
  const serverRev = put.body.rev;
  const local = await page.evaluate(async ({ url, name, revs }) => {
    const db = new Settee(name);
    await db.sync(url);
    // The push updates 'd' on the server while the pull reads the server's feed, which
    // pouchdb-server can then skip (see couch.mjs): a second sync brings it.
    await db.sync(url);
    const d = await db.get('d', { conflicts: true });
    const texts = {};
    for (const rev of revs) texts[rev] = await (await db.getAttachment('d', 'f.txt', { rev })).text();
    return { winner: d._rev, conflicts: d._conflicts, texts };
  }, { url: remote.url, name, revs: [r.local, serverRev] });
  assert.deepEqual(local.texts, { [r.local]: 'v1', [serverRev]: 'v2' });
  const server = (await couch.request('GET', `/${remote.name}/d?conflicts=true`)).body;
  assert.equal(server._rev, local.winner);
  assert.deepEqual(server._conflicts, local.conflicts);
  const auth = { authorization: 'Basic ' + Buffer.from('admin:sekrit-pw-1').toString('base64') };
  for (const [rev, text] of [[r.local, 'v1'], [serverRev, 'v2']]) {
    const res = await fetch(`${couch.url}/${remote.name}/d/f.txt?rev=${rev}`, { headers: auth });
    assert.equal(await res.text(), text, rev);
  }
});

test('data that does not match its digest fails that doc, is never stored, and the others are written', async () => {
  const remote = await couch.freshDb('att-corrupt');
  await couch.request('POST', `/${remote.name}/_bulk_docs`, {
    docs: [
      { _id: 'x', _attachments: { 'corrupt.bin': { content_type: 'a/b', data: pattern(64).toString('base64') } } },
      { _id: 'y', _attachments: { 'fine.bin': { content_type: 'a/b', data: pattern(64, 3).toString('base64') } } },
    ],
  });
  const viaProxy = `http://admin:sekrit-pw-1@127.0.0.1:${proxy.address().port}/${remote.name}`;
  const name = uniqueName('att-corrupt-local');
  const r = await page.evaluate(async ({ url, name }) => {
    const db = new Settee(name);
    const result = await db.replicate.from(url);
    const x = await db.get('x').catch((e) => e.status);
    const y = await db.getAttachment('y', 'fine.bin');
    return {
      written: result.docs_written,
      failures: result.doc_write_failures,
      errors: result.errors,
      x,
      ySize: y.size,
    };
  }, { url: viaProxy, name });
  assert.equal(r.written, 1);
  assert.equal(r.failures, 1);
  assert.equal(r.x, 404);
  assert.equal(r.ySize, 64);
  assert.match(JSON.stringify(r.errors), /bad_digest/);
});
