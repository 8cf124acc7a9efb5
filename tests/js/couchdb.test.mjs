// What only a real Apache CouchDB 3.5 does, from Chromium: attachments it stores gzipped,
// cookie sessions that expire, its 413s and `forbidden`s in replication, opaque seqs across a
// restart, purges, its own replicator's checkpoints, conflict winners, and the filters
// pouchdb-server cannot serve (`_selector` and `_view` on a remote source, a missing filter's
// 404, `latest=true`).
//
// These run in the CouchDB stage of scripts/test.sh (`SETTEE_SERVER=couchdb`); anywhere else
// the file is skipped, with the reason in the output.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ADMIN, RealCouch, SERVER_KIND, fetchLog, installFetchCounter, resetFetchLog } from './couch.mjs';
import { launch, openPage, removeProfile, startServer } from './helpers.mjs';

const skip = SERVER_KIND === 'couchdb' ? false : 'real CouchDB only: runs with SETTEE_SERVER=couchdb (scripts/test.sh stage js-tests-couchdb)';

const md5 = (bytes) => 'md5-' + createHash('md5').update(bytes).digest('base64');
const sha = (bytes) => createHash('sha256').update(bytes).digest('hex');
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

describe('real CouchDB', { skip }, () => {
  let web, browser, page, couch;
  before(async () => {
    couch = await RealCouch.start();
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

  /** PUTs an attachment as the admin; returns the new rev. */
  async function putAttachment(db, id, rev, name, type, bytes) {
    const res = await fetch(`${couch.url}/${db}/${id}/${name}${rev ? `?rev=${rev}` : ''}`, {
      method: 'PUT',
      headers: { authorization: 'Basic ' + Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString('base64'), 'content-type': type },
      body: bytes,
    });
    const body = await res.json();
    assert.equal(res.status, 201, JSON.stringify(body));
    return body.rev;
  }

  test('attachments CouchDB stores gzipped replicate CouchDB → Settee → CouchDB → Settee with identical bytes', async () => {
    const src = await couch.freshDb('gz-src');
    const dst = await couch.freshDb('gz-dst');
    const binary = randomBytes(1024 * 1024);
    const words = ['settee', 'couch', 'replica', 'offline', 'sync', 'gzip', 'digest', 'bytes'];
    const text = Buffer.from(
      Array.from({ length: 30000 }, (_, i) => words[(i * 7919) % words.length] + (i % 13 === 0 ? '\n' : ' ')).join('').slice(0, 240 * 1024),
    );
    const json = Buffer.from(JSON.stringify({ list: Array.from({ length: 500 }, (_, i) => ({ i, name: `n${i}` })) }));
    let rev = await putAttachment(src.name, 'doc', null, 'big.bin', 'application/octet-stream', binary);
    rev = await putAttachment(src.name, 'doc', rev, 'note.txt', 'text/plain', text);
    rev = await putAttachment(src.name, 'doc', rev, 'data.json', 'application/json', json);
    const stubs = (await couch.request('GET', `/${src.name}/doc?att_encoding_info=true`)).body._attachments;
    assert.equal(stubs['note.txt'].encoding, 'gzip', 'CouchDB stores text gzipped');
    assert.notEqual(stubs['note.txt'].digest, md5(text), 'and its digest is of the gzipped bytes');
    assert.equal(stubs['big.bin'].digest, md5(binary));

    const r = await page.evaluate(async ({ src, dst }) => {
      const bytes = async (db, name) => {
        const blob = await db.getAttachment('doc', name);
        return Array.from(new Uint8Array(await blob.arrayBuffer()));
      };
      const one = new Settee(crypto.randomUUID());
      const pulled = await one.replicate.from(src);
      const pushed = await one.replicate.to(dst);
      const two = new Settee(crypto.randomUUID());
      const pulledAgain = await two.replicate.from(dst);
      const again = [await one.replicate.from(src), await one.replicate.to(dst), await two.replicate.from(dst)];
      const stubs = (await one.get('doc'))._attachments;
      const out = { pulled, pushed, pulledAgain, again, stubs, one: {}, two: {} };
      for (const name of ['big.bin', 'note.txt', 'data.json']) {
        out.one[name] = await bytes(one, name);
        out.two[name] = await bytes(two, name);
      }
      return out;
    }, { src: src.url, dst: dst.url });
    for (const run of [r.pulled, r.pushed, r.pulledAgain]) {
      assert.deepEqual([run.docs_written, run.doc_write_failures], [1, 0], JSON.stringify(run.errors));
    }
    assert.deepEqual(r.again.map((a) => a.docs_written), [0, 0, 0], 'a second replication writes nothing');
    const originals = { 'big.bin': binary, 'note.txt': text, 'data.json': json };
    for (const [name, bytes] of Object.entries(originals)) {
      assert.equal(sha(Buffer.from(r.one[name])), sha(bytes), `${name} in the first Settee db`);
      assert.equal(sha(Buffer.from(r.two[name])), sha(bytes), `${name} in the second Settee db`);
      assert.equal(r.stubs[name].digest, md5(bytes), `Settee's stub of ${name} has the md5 of its bytes`);
      assert.equal(r.stubs[name].length, bytes.length);
      const res = await fetch(`${couch.url}/${dst.name}/doc/${name}`, { headers: { authorization: 'Basic ' + Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString('base64') } });
      assert.equal(sha(Buffer.from(await res.arrayBuffer())), sha(bytes), `${name} on the second CouchDB db`);
    }
    const dstStubs = (await couch.request('GET', `/${dst.name}/doc?att_encoding_info=true`)).body._attachments;
    for (const name of Object.keys(originals)) {
      assert.equal(dstStubs[name].digest, stubs[name].digest, `${name}: the same stub digest on both CouchDB dbs`);
    }
  });

  test('a cookie session that expires mid-replication is renewed and the live pull goes on', async () => {
    const remote = await couch.freshDb('session');
    await couch.setConfig('chttpd_auth', 'timeout', '3');
    try {
      await resetFetchLog(page);
      await page.evaluate(({ plainUrl, admin }) => {
        const db = new Settee(crypto.randomUUID(), { adapter: 'memory' });
        const remote = new Settee(plainUrl, { auth: { ...admin, session: true } });
        window.__s = { db, errors: [] };
        window.__s.rep = db.replicate
          .from(remote, { live: true, retry: true, back_off_base: 200, timeout: 1000, heartbeat: 500 })
          .on('error', (e) => window.__s.errors.push(`${e.name}: ${e.message}`));
      }, { ...remote, admin: ADMIN });
      for (let i = 0; i < 3; i++) {
        await couch.request('PUT', `/${remote.name}/doc${i}`, { i });
        const want = `doc${i}`;
        const end = Date.now() + 20000;
        while (!(await page.evaluate((id) => window.__s.db.get(id).then(() => true, () => false), want))) {
          assert.ok(Date.now() < end, `${want} never arrived`);
          await sleep(100);
        }
        await sleep(4000); // past the session's 3 s
      }
      const r = await page.evaluate(async () => {
        window.__s.rep.cancel();
        return { result: await window.__s.rep, errors: window.__s.errors };
      });
      assert.deepEqual(r.errors, []);
      assert.equal(r.result.docs_written, 3);
      const logins = (await fetchLog(page)).filter((f) => f === 'POST /_session').length;
      assert.ok(logins >= 1, `logged in (${logins} times)`);
    } finally {
      await couch.setConfig('chttpd_auth', 'timeout', '600');
    }
  });

  test("CouchDB's 413s and a validate_doc_update's forbidden fail only their docs; the batch and the checkpoint go on", async () => {
    const remote = await couch.freshDb('refusals');
    await couch.request('PUT', `/${remote.name}/_design/guard`, {
      validate_doc_update: 'function (doc) { if (doc.forbidden) throw({forbidden: "no forbidden docs"}); }',
    });
    await couch.setConfig('couchdb', 'max_document_size', '20000');
    await couch.setConfig('couchdb', 'max_attachment_size', '50000');
    try {
      const r = await page.evaluate(async (url) => {
        const db = new Settee(crypto.randomUUID(), { adapter: 'memory' });
        const docs = Array.from({ length: 20 }, (_, i) => ({ _id: `ok${String(i).padStart(2, '0')}`, i }));
        docs.push({ _id: 'too-big', pad: 'x'.repeat(30000) });
        docs.push({ _id: 'nope', forbidden: true });
        await db.bulkDocs(docs);
        const blob = (n) => new Blob([new Uint8Array(n).fill(7)], { type: 'application/octet-stream' });
        await db.putAttachment('big-inline', 'a.bin', blob(60000), 'application/octet-stream');
        await db.putAttachment('big-multipart', 'a.bin', blob(300000), 'application/octet-stream');
        const denied = [];
        const first = await db.replicate.to(url).on('denied', (e) => denied.push(e.id));
        await db.put({ _id: 'later' });
        const second = await db.replicate.to(url);
        return { first, second, denied };
      }, remote.url);
      assert.equal(r.first.status, 'complete');
      assert.equal(r.first.docs_written, 20);
      assert.equal(r.first.doc_write_failures, 4);
      const errors = Object.fromEntries(r.first.errors.map((e) => [e.id, `${e.status} ${e.error}`]));
      assert.deepEqual(errors, {
        'too-big': '413 document_too_large',
        'big-inline': '413 attachment_too_large',
        'big-multipart': '413 attachment_too_large',
        nope: '403 forbidden',
      });
      assert.deepEqual(r.denied, ['nope'], 'denied fires for the forbidden doc only');
      assert.deepEqual([r.second.docs_read, r.second.docs_written], [1, 1], 'the checkpoint moved past the refused docs');
      const all = (await couch.request('GET', `/${remote.name}/_all_docs`)).body.rows.map((row) => row.id);
      assert.equal(all.filter((id) => id.startsWith('ok')).length, 20);
      assert.ok(!all.includes('too-big') && !all.includes('nope') && all.includes('later'));
    } finally {
      await couch.setConfig('couchdb', 'max_document_size', '8000000');
      await couch.setConfig('couchdb', 'max_attachment_size', 'infinity');
    }
  });

  test('opaque string seqs survive a server restart: the next pull resumes from its checkpoint', async (t) => {
    if (!couch.canRestart) return t.skip('needs a server the tests can kill and restart, not one at COUCH_URL');
    const remote = await couch.freshDb('restart-seqs');
    await couch.request('POST', `/${remote.name}/_bulk_docs`, { docs: Array.from({ length: 30 }, (_, i) => ({ _id: `a${i}` })) });
    const name = crypto.randomUUID();
    const first = await page.evaluate(async ({ url, name }) => new Settee(name).replicate.from(url), { url: remote.url, name });
    assert.equal(typeof first.last_seq, 'string', 'CouchDB 3 seqs are opaque strings');
    assert.equal(first.docs_written, 30);
    await couch.restart();
    await couch.request('POST', `/${remote.name}/_bulk_docs`, { docs: Array.from({ length: 5 }, (_, i) => ({ _id: `b${i}` })) });
    const second = await page.evaluate(async ({ url, name }) => new Settee(name).replicate.from(url), { url: remote.url, name });
    assert.deepEqual([second.docs_read, second.docs_written], [5, 5]);
  });

  test('a doc purged on the server does not come back from a Settee that synced it before', async () => {
    const remote = await couch.freshDb('purge');
    const { rev } = (await couch.request('PUT', `/${remote.name}/gone`, { v: 1 })).body;
    await couch.request('PUT', `/${remote.name}/kept`, { v: 1 });
    const name = crypto.randomUUID();
    // Twice: the first sync's push runs before its pull has written anything, so it is the
    // second whose push checkpoint passes the pulled docs. (Before that, a push would send
    // 'gone' back, as CouchDB's own replicator would.)
    await page.evaluate(async ({ url, name }) => {
      await new Settee(name).sync(url);
      await new Settee(name).sync(url);
    }, { url: remote.url, name });
    const purged = await couch.request('POST', `/${remote.name}/_purge`, { gone: [rev] });
    assert.equal(purged.status, 201, JSON.stringify(purged.body));
    const r = await page.evaluate(async ({ url, name }) => {
      const db = new Settee(name);
      await db.put({ _id: 'new' });
      const s = await db.sync(url);
      return { push: s.push.docs_written, still: await db.get('gone').then(() => true, () => false) };
    }, { url: remote.url, name });
    assert.equal(r.push, 1, 'only the new doc was pushed');
    assert.equal(r.still, true, 'the purge is the server’s own');
    assert.equal((await couch.request('GET', `/${remote.name}/gone`)).status, 404);
  });

  test("Settee and CouchDB's replicator each resume from the other's checkpoint docs", async () => {
    // Their replication ids differ (each hashes its own view of the pair), so each side's
    // checkpoint is copied under the other's id, as if the two had computed the same one.
    const src = await couch.freshDb('cp-src');
    const dst = await couch.freshDb('cp-dst');
    const add = (prefix, n) =>
      couch.request('POST', `/${src.name}/_bulk_docs`, { docs: Array.from({ length: n }, (_, i) => ({ _id: `${prefix}${i}` })) });
    const locals = async (db) => {
      const rows = (await couch.request('GET', `/${db}/_local_docs?include_docs=true`)).body.rows;
      return rows.map((r) => r.doc);
    };
    const copy = async (from, toId) => {
      for (const db of [src.name, dst.name]) {
        const current = (await couch.request('GET', `/${db}/${toId}`)).body;
        const { _id, _rev, ...fields } = from;
        const r = await couch.request('PUT', `/${db}/${toId}`, { ...fields, _rev: current._rev });
        assert.equal(r.status, 201, JSON.stringify(r.body));
      }
    };
    const settee = () => page.evaluate(async ({ src, dst }) => Settee.replicate(src, dst), { src: src.url, dst: dst.url });
    const basic = { authorization: 'Basic ' + Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString('base64') };
    const couchReplicate = async () =>
      (await couch.request('POST', '/_replicate', { source: { url: src.plainUrl, headers: basic }, target: { url: dst.plainUrl, headers: basic } })).body;

    await add('a', 1);
    assert.equal((await settee()).docs_written, 1);
    const setteeId = (await locals(dst.name)).find((d) => d.replicator === 'settee')._id;
    await add('b', 10);
    const c1 = await couchReplicate();
    assert.equal(c1.ok, true, JSON.stringify(c1));
    const couchDoc = (await locals(dst.name)).find((d) => d._id !== setteeId);
    assert.ok(couchDoc.history[0].recorded_seq, 'CouchDB history entries carry recorded_seq');

    // Settee resumes from CouchDB's checkpoint: its feed starts at CouchDB's recorded seq.
    await copy(couchDoc, setteeId);
    await add('c', 4);
    await resetFetchLog(page);
    const s2 = await settee();
    assert.deepEqual([s2.docs_read, s2.docs_written], [4, 4]);
    const feed = (await fetchLog(page)).find((f) => f.startsWith(`GET /${src.name}/_changes`));
    const since = new URL(`http://x${feed.slice(4)}`).searchParams.get('since');
    assert.equal(since, couchDoc.source_last_seq, 'resumed where CouchDB stopped');

    // CouchDB resumes from Settee's checkpoint.
    const setteeDoc = (await locals(dst.name)).find((d) => d._id === setteeId);
    assert.equal(setteeDoc.history[0].recorded_seq, setteeDoc.source_last_seq);
    await copy(setteeDoc, couchDoc._id);
    await add('d', 3);
    const c2 = await couchReplicate();
    assert.equal(c2.history[0].start_last_seq, setteeDoc.source_last_seq, 'CouchDB resumed where Settee stopped');
    assert.deepEqual([c2.history[0].missing_checked, c2.history[0].docs_written], [3, 3]);
  });

  test('a three-way concurrent edit ends with the same winner and conflicts on CouchDB and both Settee dbs', async () => {
    const remote = await couch.freshDb('threeway');
    const { rev } = (await couch.request('PUT', `/${remote.name}/doc`, { who: 'origin' })).body;
    const [a, b] = [crypto.randomUUID(), crypto.randomUUID()];
    await page.evaluate(async ({ url, a, b }) => {
      await new Settee(a).replicate.from(url);
      await new Settee(b).replicate.from(url);
      for (const [name, who] of [[a, 'a'], [b, 'b']]) {
        const db = new Settee(name);
        const doc = await db.get('doc');
        await db.put({ ...doc, who });
      }
    }, { url: remote.url, a, b });
    await couch.request('PUT', `/${remote.name}/doc`, { _rev: rev, who: 'server' });
    const state = await page.evaluate(async ({ url, a, b }) => {
      for (const name of [a, b, a]) await new Settee(name).sync(url);
      const read = async (name) => {
        const d = await new Settee(name).get('doc', { conflicts: true });
        return [d._rev, (d._conflicts ?? []).sort(), d.who];
      };
      return { a: await read(a), b: await read(b) };
    }, { url: remote.url, a, b });
    const server = (await couch.request('GET', `/${remote.name}/_all_docs?include_docs=true&conflicts=true`)).body.rows[0].doc;
    const want = [server._rev, (server._conflicts ?? []).sort(), server.who];
    assert.equal(want[1].length, 2, 'three leaves: a winner and two conflicts');
    assert.deepEqual(state.a, want);
    assert.deepEqual(state.b, want);
  });

  test('filters pouchdb-server cannot serve: _selector and _view on a remote source, a missing filter, latest', async () => {
    const remote = await couch.freshDb('filters');
    await couch.request('PUT', `/${remote.name}/_design/app`, {
      views: { reds: { map: 'function (doc) { if (doc.color === "red") emit(doc._id); }' } },
    });
    await couch.request('POST', `/${remote.name}/_bulk_docs`, {
      docs: Array.from({ length: 12 }, (_, i) => ({ _id: `d${String(i).padStart(2, '0')}`, color: i % 3 ? 'blue' : 'red', i })),
    });
    const old = (await couch.request('GET', `/${remote.name}/d01`)).body._rev;
    await couch.request('PUT', `/${remote.name}/d01`, { _rev: old, color: 'blue', i: 1, edited: true });
    const r = await page.evaluate(async ({ url, old }) => {
      const ids = async (db) => (await db.allDocs()).rows.map((row) => row.id);
      const bySelector = new Settee(crypto.randomUUID(), { adapter: 'memory' });
      const s = await bySelector.replicate.from(url, { selector: { i: { $gte: 9 } } });
      const byView = new Settee(crypto.randomUUID(), { adapter: 'memory' });
      const v = await byView.replicate.from(url, { filter: '_view', view: 'app/reds' });
      const missing = await new Settee(crypto.randomUUID(), { adapter: 'memory' })
        .replicate.from(url, { filter: 'nope/none' })
        .then(() => null, (e) => ({ status: e.status, name: e.name }));
      const latest = await new Settee(url).bulkGet({ docs: [{ id: 'd01', rev: old }], latest: true });
      return { s: s.docs_written, sIds: await ids(bySelector), v: v.docs_written, vIds: await ids(byView), missing, latest };
    }, { url: remote.url, old });
    assert.deepEqual(r.sIds, ['d09', 'd10', 'd11']);
    assert.deepEqual(r.vIds, ['d00', 'd03', 'd06', 'd09']);
    assert.deepEqual(r.missing, { status: 404, name: 'not_found' });
    const latest = r.latest.results[0].docs[0].ok;
    assert.equal(latest.edited, true, 'latest=true answers the leaf that followed the asked rev');
    assert.ok(couch.alive);
  });
});
