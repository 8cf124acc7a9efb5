// allDocs and changes against PouchDB 9 itself, in the same page: the same revisions written
// to both (new_edits: false, so the revs are the same), then every answer compared whole.
// Settee builds these answers in columns and rebuilds PouchDB's rows in JS (src/wasm/expand.rs),
// so this checks the rebuilt rows, not only the Rust side.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addPouchDB, sharedPage, uniqueName } from './helpers.mjs';

let page;
sharedPage((shared) => ({ page } = shared));

/** The shared page, with PouchDB's browser build loaded. */
async function pageWithPouchDB() {
  await addPouchDB(page);
  return page;
}

/** One revision per call, so both databases give each write its own seq. */
const WRITES = [
  { _id: 'a', _rev: '1-a1', v: 1 },
  { _id: 'a', _rev: '2-a2', v: 2, _revisions: { start: 2, ids: ['a2', 'a1'] } },
  { _id: 'a', _rev: '3-a3', v: 3, _revisions: { start: 3, ids: ['a3', 'a2'] } },
  { _id: 'b', _rev: '1-b1', v: 1 },
  { _id: 'b', _rev: '2-b2', _deleted: true, _revisions: { start: 2, ids: ['b2', 'b1'] } },
  { _id: 'c', _rev: '1-ca', v: 'a' },
  { _id: 'c', _rev: '1-cb', v: 'b' },
  { _id: 'c', _rev: '2-cx', _deleted: true, _revisions: { start: 2, ids: ['cx', 'cb'] } },
  { _id: 'e', _rev: '1-ea', v: 'a', nested: { z: [1, { y: null }], s: 'q"\\' } },
  { _id: 'e', _rev: '1-eb', v: 'b' },
  { _id: 'd', _rev: '1-d1', v: 1 },
  { _id: 'd', _rev: '2-d2', _deleted: true, _revisions: { start: 2, ids: ['d2', 'd1'] } },
  { _id: 'd', _rev: '3-d3', v: 2, _revisions: { start: 3, ids: ['d3', 'd2'] } },
  { _id: 'é ✓', _rev: '1-u', v: 'unicode id' },
];

const ALL_DOCS = [
  {},
  { include_docs: true },
  { include_docs: true, conflicts: true },
  { descending: true, skip: 1, limit: 2, include_docs: true },
  { startkey: 'b', endkey: 'd', update_seq: true },
  { keys: ['e', 'b', 'zz', 'a'], include_docs: true },
  { limit: 0 },
];

const CHANGES = [
  {},
  { include_docs: true },
  { include_docs: true, conflicts: true },
  { style: 'all_docs' },
  { since: 5 },
  { limit: 2 },
  { descending: true },
  { doc_ids: ['b', 'e'], include_docs: true },
];

/** Leaf order within a row is not specified by PouchDB: compare it as a set. */
function sortLeaves(res) {
  for (const row of res.results) row.changes.sort((x, y) => (x.rev < y.rev ? -1 : 1));
  return res;
}

test('allDocs and changes answer as PouchDB does after updates, deletions and conflicts', async () => {
  const r = await (await pageWithPouchDB()).evaluate(
    async ([name, writes, allDocs, changes]) => {
      const settee = new Settee(name);
      const pouch = new PouchDB(name + '-pouch');
      for (const doc of writes) {
        await settee.bulkDocs([doc], { new_edits: false });
        await pouch.bulkDocs([doc], { new_edits: false });
      }
      const out = { allDocs: [], changes: [] };
      for (const o of allDocs) out.allDocs.push([o, await settee.allDocs(o), await pouch.allDocs(o)]);
      for (const o of changes) out.changes.push([o, await settee.changes(o), await pouch.changes(o)]);
      await settee.destroy();
      await pouch.destroy();
      return out;
    },
    [uniqueName('feeds'), WRITES, ALL_DOCS, CHANGES],
  );
  for (const [o, settee, pouch] of r.allDocs) assert.deepEqual(settee, pouch, `allDocs ${JSON.stringify(o)}`);
  for (const [o, settee, pouch] of r.changes) {
    // With doc_ids, Settee's last_seq is the last seq it looked at (so that a feed does not
    // scan those again; see src/db/changes.rs), PouchDB's that of the last row it returned.
    if (o.doc_ids) settee.last_seq = pouch.last_seq;
    assert.deepEqual(sortLeaves(settee), sortLeaves(pouch), `changes ${JSON.stringify(o)}`);
  }
  // Row members come in PouchDB's documented order.
  const [, all] = r.allDocs[1];
  assert.deepEqual(Object.keys(all), ['total_rows', 'offset', 'rows']);
  assert.deepEqual(Object.keys(all.rows[0]), ['id', 'key', 'value', 'doc']);
  const [, withDocs] = r.changes[1];
  const deleted = withDocs.results.find((row) => row.id === 'b');
  assert.deepEqual(Object.keys(deleted), ['id', 'seq', 'changes', 'deleted', 'doc']);
});

test('allDocs and changes over several internal pages match PouchDB', async () => {
  const r = await (await pageWithPouchDB()).evaluate(async (name) => {
    const docs = [];
    for (let i = 0; i < 4500; i++) docs.push({ _id: `doc-${String(i).padStart(5, '0')}`, _rev: `1-h${i}`, n: i });
    const settee = new Settee(name);
    const pouch = new PouchDB(name + '-pouch');
    await settee.bulkDocs(docs, { new_edits: false });
    await pouch.bulkDocs(docs, { new_edits: false });
    const out = {};
    for (const db of [settee, pouch]) {
      const key = db === settee ? 'settee' : 'pouch';
      const all = await db.allDocs({ include_docs: true });
      const ch = await db.changes({ since: 0 });
      const tail = await db.changes({ since: 4000, include_docs: true });
      out[key] = { all, ids: ch.results.map((x) => [x.id, x.changes[0].rev]), last: ch.last_seq, tail: tail.results.map((x) => x.doc) };
    }
    await settee.destroy();
    await pouch.destroy();
    return out;
  }, uniqueName('feeds-big'));
  assert.equal(r.settee.all.rows.length, 4500);
  assert.deepEqual(r.settee.all, r.pouch.all);
  assert.deepEqual(new Set(r.settee.ids.map(String)), new Set(r.pouch.ids.map(String)));
  assert.equal(r.settee.last, 4500);
  assert.deepEqual(r.settee.tail, r.settee.all.rows.slice(4000).map((row) => row.doc));
});
