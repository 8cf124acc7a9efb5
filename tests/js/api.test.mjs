// The PouchDB-shaped API as a web page uses it, through the built package in Chromium.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sharedPage, uniqueName } from './helpers.mjs';

let page;
sharedPage((shared) => ({ page } = shared));

test('put, get, remove, allDocs, changes and _local docs behave like PouchDB', async () => {
  const r = await page.evaluate(async (name) => {
    const db = new Settee(name);
    const out = {};
    out.put1 = await db.put({ _id: 'a', n: 1, nested: { z: 1, a: [1, 2] } });
    out.get1 = await db.get('a');
    out.put2 = await db.put({ ...out.get1, n: 2 });
    out.post = await db.post({ n: 3 });
    out.removed = await db.remove('a', out.put2.rev);
    out.getDeleted = await db.get('a').catch((e) => ({ status: e.status, name: e.name, reason: e.reason }));
    out.getMissing = await db.get('nope').catch((e) => ({ status: e.status, name: e.name, reason: e.reason }));
    out.putLocal = await db.put({ _id: '_local/checkpoint', seq: 7 });
    out.getLocal = await db.get('_local/checkpoint');
    out.all = await db.allDocs({ include_docs: true });
    out.changes = await db.changes({ since: 0 });
    out.info = await db.info();
    out.removeLocal = await db.remove(out.getLocal);
    out.getLocalAfter = await db.get('_local/checkpoint').catch((e) => e.status);
    out.byKeys = await db.allDocs({ keys: ['a', out.post.id, 'never'] });
    return out;
  }, uniqueName('tour'));

  assert.equal(r.put1.ok, true);
  assert.equal(r.put1.id, 'a');
  assert.match(r.put1.rev, /^1-[0-9a-f]{32}$/);
  assert.deepEqual(r.get1, { _id: 'a', _rev: r.put1.rev, n: 1, nested: { z: 1, a: [1, 2] } });
  assert.deepEqual(Object.keys(r.get1.nested), ['z', 'a'], 'key order is kept');
  assert.match(r.put2.rev, /^2-/);
  assert.match(r.removed.rev, /^3-/);
  assert.deepEqual(r.getDeleted, { status: 404, name: 'not_found', reason: 'deleted' });
  assert.deepEqual(r.getMissing, { status: 404, name: 'not_found', reason: 'missing' });
  assert.ok(r.post.id.length > 0);

  assert.equal(r.putLocal.id, '_local/checkpoint');
  assert.equal(r.getLocal.seq, 7);
  assert.equal(r.getLocalAfter, 404);

  // allDocs: live docs only, no _local docs.
  assert.equal(r.all.total_rows, 1);
  assert.deepEqual(r.all.rows.map((row) => row.id), [r.post.id]);
  assert.equal(r.all.rows[0].doc.n, 3);
  assert.deepEqual(r.all.rows[0].value, { rev: r.post.rev });

  // changes: one row per doc, the deleted one flagged; _local writes are not changes.
  const byId = Object.fromEntries(r.changes.results.map((c) => [c.id, c]));
  assert.deepEqual(Object.keys(byId).sort(), ['a', r.post.id].sort());
  assert.equal(byId.a.deleted, true);
  assert.deepEqual(byId.a.changes, [{ rev: r.removed.rev }]);
  assert.equal(r.changes.last_seq, Math.max(...r.changes.results.map((c) => c.seq)));
  assert.equal(r.info.doc_count, 1);
  assert.equal(r.info.update_seq, r.changes.last_seq);
  assert.equal(r.info.adapter, 'idb');

  // keys: deleted and never-existing ids get rows, as in CouchDB.
  assert.deepEqual(r.byKeys.rows[0], { id: 'a', key: 'a', value: { rev: r.removed.rev, deleted: true } });
  assert.equal(r.byKeys.rows[1].id, r.post.id);
  assert.deepEqual(r.byKeys.rows[2], { key: 'never', error: 'not_found' });
});

test('conflicting revisions written with new_edits: false show up in get({conflicts: true})', async () => {
  const a = '1-' + 'a'.repeat(32);
  const b = '1-' + 'b'.repeat(32);
  const r = await page.evaluate(
    async ({ name, a, b }) => {
      const db = new Settee(name);
      const written = await db.bulkDocs(
        [
          { _id: 'c', _rev: a, v: 'A' },
          { _id: 'c', _rev: b, v: 'B' },
        ],
        { new_edits: false },
      );
      const doc = await db.get('c', { conflicts: true });
      const leaves = await db.get('c', { open_revs: 'all' });
      const loser = await db.get('c', { rev: a });
      // Resolve: delete the losing leaf; the conflict goes away.
      await db.remove('c', a);
      const resolved = await db.get('c', { conflicts: true });
      return { written, doc, leaves, loser, resolved };
    },
    { name: uniqueName('conflicts'), a, b },
  );
  assert.deepEqual(r.written, [], 'with new_edits: false only failures are listed, as in CouchDB');
  assert.equal(r.doc._rev, b, 'the higher rev hash wins');
  assert.equal(r.doc.v, 'B');
  assert.deepEqual(r.doc._conflicts, [a]);
  assert.deepEqual(r.leaves.map((l) => l.ok._rev).sort(), [a, b]);
  assert.equal(r.loser.v, 'A');
  assert.equal(r.resolved._rev, b);
  assert.equal(r.resolved._conflicts, undefined);
});

test('a 10,000-doc bulkDocs is all there in allDocs and info', async () => {
  const r = await page.evaluate(async (name) => {
    const db = new Settee(name);
    const docs = Array.from({ length: 10000 }, (_, i) => ({ _id: `doc-${String(i).padStart(5, '0')}`, i }));
    const t0 = performance.now();
    const results = await db.bulkDocs(docs);
    const ms = performance.now() - t0;
    const all = await db.allDocs();
    const some = await db.allDocs({ startkey: 'doc-00100', endkey: 'doc-00109', include_docs: true });
    const info = await db.info();
    return {
      ms,
      ok: results.filter((x) => x.ok).length,
      total: all.total_rows,
      rows: all.rows.length,
      first: all.rows[0].id,
      last: all.rows.at(-1).id,
      some: some.rows.map((row) => row.doc.i),
      info,
    };
  }, uniqueName('bulk10k'));
  console.log(`  10,000-doc bulkDocs took ${Math.round(r.ms)} ms`);
  assert.equal(r.ok, 10000);
  assert.equal(r.total, 10000);
  assert.equal(r.rows, 10000);
  assert.equal(r.first, 'doc-00000');
  assert.equal(r.last, 'doc-09999');
  assert.deepEqual(r.some, [100, 101, 102, 103, 104, 105, 106, 107, 108, 109]);
  assert.equal(r.info.doc_count, 10000);
  assert.equal(r.info.update_seq, 10000);
});

test('puts started together (Promise.all) each get the result they would get one by one', async () => {
  const r = await page.evaluate(async (name) => {
    const db = new Settee(name);
    const first = await db.put({ _id: 'x', v: 0 });
    const settled = await Promise.allSettled([
      ...Array.from({ length: 300 }, (_, i) => db.put({ _id: `p-${String(i).padStart(3, '0')}`, i })),
      db.put({ _id: 'x', _rev: first.rev, v: 1 }),
      db.put({ _id: 'x', _rev: first.rev, v: 2 }),
      db.put({ _id: '_bad' }),
      db.post({ v: 'posted' }),
    ]);
    const changes = await db.changes({ since: 1 });
    return {
      statuses: settled.map((s) => (s.status === 'fulfilled' ? (s.value.ok ? 200 : 'no ok') : s.reason.status)),
      x: await db.get('x'),
      postedId: settled.at(-1).value.id,
      changed: changes.results.map((c) => c.id),
      info: await db.info(),
    };
  }, uniqueName('together'));
  assert.deepEqual(r.statuses, [...Array(300).fill(200), 200, 409, 400, 200]);
  assert.equal(r.x.v, 1);
  assert.match(r.x._rev, /^2-/);
  const ids = Array.from({ length: 300 }, (_, i) => `p-${String(i).padStart(3, '0')}`);
  // Committed together, like one bulkDocs: seqs within a group go by id (no order is promised
  // between writes nobody awaited, in CouchDB either).
  assert.deepEqual([...r.changed].sort(), [r.postedId, ...ids, 'x'].sort());
  assert.equal(r.info.doc_count, 302);
  assert.equal(r.info.update_seq, 303);
});

test('many named databases open at once in one page stay separate', async () => {
  const r = await page.evaluate(async (prefix) => {
    const dbs = Array.from({ length: 20 }, (_, i) => new Settee(`${prefix}-${i}`));
    await Promise.all(dbs.map((db, i) => db.bulkDocs(Array.from({ length: i + 1 }, (_, j) => ({ _id: `d${j}`, owner: i })))));
    return Promise.all(
      dbs.map(async (db) => {
        const info = await db.info();
        const all = await db.allDocs({ include_docs: true });
        return { name: info.db_name, count: info.doc_count, owners: [...new Set(all.rows.map((row) => row.doc.owner))] };
      }),
    );
  }, uniqueName('many'));
  r.forEach((db, i) => {
    assert.match(db.name, new RegExp(`-${i}$`));
    assert.equal(db.count, i + 1);
    assert.deepEqual(db.owners, [i]);
  });
});

test('the same API works inside a module Web Worker, on the same storage as the page', async () => {
  const name = uniqueName('worker');
  const r = await page.evaluate(async (name) => {
    const worker = new Worker('/worker.js', { type: 'module' });
    const replies = new Map();
    let nextId = 0;
    await new Promise((ok, fail) => {
      worker.onerror = (e) => fail(new Error(`worker failed to load: ${e.message}`));
      worker.onmessage = ({ data }) => (data.ready ? ok() : replies.get(data.id)(data));
    });
    const run = (fn, arg) =>
      new Promise((ok) => {
        const id = nextId++;
        replies.set(id, ok);
        worker.postMessage({ id, body: `return (${fn})(Settee, arg)`, arg });
      });
    const inWorker = await run(
      async (Settee, name) => {
        const db = new Settee(name);
        const put = await db.put({ _id: 'w', from: 'worker' });
        const got = await db.get('w');
        const info = await db.info();
        await db.close();
        return { put, got, info, isWorker: typeof WorkerGlobalScope !== 'undefined' };
      },
      name,
    );
    const conflict = await run(async (Settee, name) => new Settee(name).put({ _id: 'w', from: 'stale' }), name);
    const fromPage = await new Settee(name).get('w');
    worker.terminate();
    return { inWorker, conflict, fromPage };
  }, name);
  assert.ok(r.inWorker.ok, `worker call failed: ${JSON.stringify(r.inWorker.error)}`);
  assert.equal(r.inWorker.ok.isWorker, true);
  assert.equal(r.inWorker.ok.got.from, 'worker');
  assert.equal(r.inWorker.ok.got._rev, r.inWorker.ok.put.rev);
  assert.equal(r.inWorker.ok.info.doc_count, 1);
  assert.deepEqual(
    { isError: r.conflict.error.isError, status: r.conflict.error.status, name: r.conflict.error.name },
    { isError: true, status: 409, name: 'conflict' },
  );
  assert.equal(r.fromPage.from, 'worker', 'the page reads what the worker wrote');
});

test('bulkGet, revsDiff, revs options, compact, close and destroy work through the wrapper', async () => {
  const r = await page.evaluate(async (name) => {
    const db = new Settee(name, { revs_limit: 50 });
    const r1 = await db.put({ _id: 'a', v: 1 });
    const r2 = await db.put({ _id: 'a', _rev: r1.rev, v: 2 });
    const out = { r1, r2, name: db.name };
    out.revs = await db.get('a', { revs: true, revs_info: true });
    out.old = await db.get('a', { rev: r1.rev });
    out.bulkGet = await db.bulkGet({ docs: [{ id: 'a', rev: r1.rev }, { id: 'a' }, { id: 'nope' }] });
    out.revsDiff = await db.revsDiff({ a: [r1.rev, r2.rev, '3-' + 'f'.repeat(32)], b: ['1-' + 'e'.repeat(32)] });
    out.compact = await db.compact();
    out.afterCompact = await db.get('a', { revs_info: true });
    out.oldAfterCompact = await db.get('a', { rev: r1.rev }).catch((e) => ({ status: e.status, reason: e.reason }));
    out.close = await db.close();
    const again = new Settee(name);
    out.reopened = await again.get('a');
    out.destroy = await again.destroy();
    out.afterDestroy = await new Settee(name).info();
    return out;
  }, uniqueName('surface'));
  assert.equal(r.name.startsWith('surface-'), true);
  assert.deepEqual(r.revs._revisions.ids, [r.r2.rev.slice(2), r.r1.rev.slice(2)]);
  assert.equal(r.revs._revisions.start, 2);
  assert.deepEqual(r.revs._revs_info.map((i) => [i.rev, i.status]), [
    [r.r2.rev, 'available'],
    [r.r1.rev, 'available'],
  ]);
  assert.equal(r.old.v, 1);
  assert.equal(r.bulkGet.results.length, 3);
  assert.equal(r.bulkGet.results[0].docs[0].ok.v, 1);
  assert.equal(r.bulkGet.results[1].docs[0].ok.v, 2);
  assert.ok(r.bulkGet.results[2].docs[0].error, 'a missing id is an error entry');
  assert.deepEqual(r.revsDiff.a.missing, ['3-' + 'f'.repeat(32)]);
  assert.deepEqual(r.revsDiff.b.missing, ['1-' + 'e'.repeat(32)]);
  assert.deepEqual(r.compact, { ok: true });
  assert.equal(r.afterCompact._revs_info[1].status, 'missing', 'compaction drops non-leaf bodies');
  assert.equal(r.oldAfterCompact.status, 404);
  assert.equal(r.reopened.v, 2);
  assert.deepEqual(r.destroy, { ok: true });
  assert.equal(r.afterDestroy.doc_count, 0);
});
