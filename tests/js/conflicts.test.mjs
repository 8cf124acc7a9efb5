// Conflicts through the built package in a browser: `conflicts()` (the persisted index),
// the `'conflict'` event on a database and on a replication, and `resolveConflict`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sharedPage, uniqueName } from './helpers.mjs';

let page;
sharedPage((shared) => ({ page } = shared));

test('conflicts() lists docs with non-deleted losing revisions, and survives a reopen', async () => {
  const r = await page.evaluate(async (name) => {
    const db = new Settee(name);
    const out = {};
    await db.put({ _id: 'calm' });
    await db.bulkDocs([{ _id: 'doc', _rev: '1-a', n: 1 }], { new_edits: false });
    out.one = await db.conflicts();
    await db.bulkDocs([{ _id: 'doc', _rev: '1-b', n: 2 }, { _id: 'doc', _rev: '1-c', n: 3 }], { new_edits: false });
    out.three = await db.conflicts({ include_docs: true });
    out.verify = (await db.verify()).conflicts;
    await db.close();
    const again = new Settee(name);
    out.reopened = await again.conflicts();
    await again.remove('doc', '1-b');
    out.afterRemove = await again.conflicts();
    await again.remove('doc', '1-a');
    out.resolved = await again.conflicts();
    out.limited = await again.conflicts({ limit: 0 });
    return out;
  }, uniqueName('list'));
  assert.deepEqual(r.one, { rows: [] }, 'one leaf is no conflict');
  assert.deepEqual(r.three.rows, [
    {
      id: 'doc',
      rev: '1-c',
      conflicts: ['1-b', '1-a'],
      doc: { _id: 'doc', _rev: '1-c', n: 3, _conflicts: ['1-b', '1-a'] },
    },
  ]);
  assert.equal(r.verify, 1);
  assert.deepEqual(r.reopened.rows, [{ id: 'doc', rev: '1-c', conflicts: ['1-b', '1-a'] }]);
  assert.deepEqual(r.afterRemove.rows, [{ id: 'doc', rev: '1-c', conflicts: ['1-a'] }]);
  assert.deepEqual(r.resolved, { rows: [] });
  assert.deepEqual(r.limited, { rows: [] });
});

test("'conflict' fires for a write that adds a conflicting leaf, not for other edits, until off()", async () => {
  const r = await page.evaluate(async (name) => {
    const db = new Settee(name);
    const events = [];
    let wake;
    const listener = (e) => {
      events.push(e);
      wake?.();
    };
    const nextEvent = (n) =>
      new Promise((ok, fail) => {
        const t = setTimeout(() => fail(new Error(`only ${events.length} events`)), 5000);
        wake = () => events.length >= n && (clearTimeout(t), ok());
        wake();
      });
    db.on('conflict', listener);
    await db.bulkDocs([{ _id: 'doc', _rev: '1-a' }], { new_edits: false });
    await db.bulkDocs([{ _id: 'doc', _rev: '1-b' }], { new_edits: false });
    await nextEvent(1);
    // An edit of the winner and a deletion of a loser add no live leaf: no event.
    const edited = await db.put({ _id: 'doc', _rev: '1-b', v: 2 });
    await db.remove('doc', '1-a');
    // A forced put on an old rev forks the tree: the second event.
    const forked = await db.put({ _id: 'doc', _rev: '1-b', v: 3 }, { force: true });
    await nextEvent(2);
    db.off('conflict', listener);
    await db.bulkDocs([{ _id: 'other', _rev: '1-a' }, { _id: 'other', _rev: '1-b' }], { new_edits: false });
    await new Promise((ok) => setTimeout(ok, 100));
    return { events, edited: edited.rev, forked: forked.rev };
  }, uniqueName('events'));
  assert.equal(r.events.length, 2, JSON.stringify(r.events));
  assert.deepEqual(r.events[0], { id: 'doc', rev: '1-b', conflicts: ['1-a'], replicated: false });
  const revs = [r.edited, r.forked].sort().reverse();
  assert.deepEqual([r.events[1].rev, ...r.events[1].conflicts], revs, 'the greater hash of generation 2 wins');
});

test("a replication reports the conflicts it writes into its target as 'conflict'", async () => {
  const r = await page.evaluate(async (names) => {
    const a = new Settee(names[0]);
    const b = new Settee(names[1]);
    const base = await a.put({ _id: 'x', v: 0 });
    await a.replicate.to(b);
    await a.put({ _id: 'x', _rev: base.rev, v: 'a' });
    await b.put({ _id: 'x', _rev: base.rev, v: 'b' });
    const onDb = [];
    b.on('conflict', (e) => onDb.push(e));
    const onReplication = [];
    const rep = a.replicate.to(b).on('conflict', (e) => onReplication.push(e));
    await rep;
    await new Promise((ok) => setTimeout(ok, 50));
    // As JSON: the same event object is in both lists, and Firefox's WebDriver BiDi hands the
    // second sighting of an object back as a reference that puppeteer reads as undefined.
    return JSON.parse(JSON.stringify({ onDb, onReplication, listed: await b.conflicts() }));
  }, [uniqueName('rep-a'), uniqueName('rep-b')]);
  assert.equal(r.onReplication.length, 1, JSON.stringify(r.onReplication));
  const e = r.onReplication[0];
  assert.equal(e.id, 'x');
  assert.equal(e.replicated, true);
  assert.deepEqual(r.onDb, [e], 'the target database hears the same event');
  assert.deepEqual(r.listed.rows, [{ id: 'x', rev: e.rev, conflicts: e.conflicts }]);
});

test('resolveConflict writes the merge on the winner and deletes the losers in one write', async () => {
  const r = await page.evaluate(async (name) => {
    const db = new Settee(name);
    await db.bulkDocs(
      [
        { _id: 'doc', _rev: '1-a', tags: ['a'] },
        { _id: 'doc', _rev: '1-b', tags: ['b'] },
        { _id: 'doc', _rev: '1-c', tags: ['c'] },
      ],
      { new_edits: false },
    );
    const seen = [];
    const before = (await db.info()).update_seq;
    const res = await db.resolveConflict('doc', async (winner, losers) => {
      seen.push({ winner, losers });
      await new Promise((ok) => setTimeout(ok, 10));
      return { ...winner, tags: [winner, ...losers].flatMap((d) => d.tags).sort() };
    });
    const after = (await db.info()).update_seq;
    const doc = await db.get('doc', { conflicts: true });
    const leaves = await db.get('doc', { open_revs: 'all' });
    return { seen, res, doc, seqs: after - before, deleted: leaves.filter((l) => l.ok?._deleted).length, list: await db.conflicts() };
  }, uniqueName('resolve'));
  assert.deepEqual(r.seen, [
    {
      winner: { _id: 'doc', _rev: '1-c', tags: ['c'] },
      losers: [
        { _id: 'doc', _rev: '1-b', tags: ['b'] },
        { _id: 'doc', _rev: '1-a', tags: ['a'] },
      ],
    },
  ]);
  assert.equal(r.res.ok, true);
  assert.equal(r.res.id, 'doc');
  assert.match(r.res.rev, /^2-/);
  assert.deepEqual(r.doc, { _id: 'doc', _rev: r.res.rev, tags: ['a', 'b', 'c'] });
  assert.equal(r.seqs, 1, 'one commit');
  assert.equal(r.deleted, 2);
  assert.deepEqual(r.list, { rows: [] });
});

test('resolveConflict merges again when the doc moves on while merge runs', async () => {
  const r = await page.evaluate(async (name) => {
    const db = new Settee(name);
    await db.bulkDocs([{ _id: 'doc', _rev: '1-a', n: 1 }, { _id: 'doc', _rev: '1-b', n: 2 }], { new_edits: false });
    let calls = 0;
    const res = await db.resolveConflict('doc', async (winner, losers) => {
      if (++calls === 1) await db.put({ ...winner, n: 10 });
      return { n: [winner, ...losers].reduce((s, d) => s + d.n, 0) };
    });
    return { calls, res, doc: await db.get('doc', { conflicts: true }) };
  }, uniqueName('retry'));
  assert.equal(r.calls, 2);
  assert.match(r.res.rev, /^3-/);
  assert.deepEqual(r.doc, { _id: 'doc', _rev: r.res.rev, n: 11 });
});

test('resolveConflict: no conflicts, a missing doc, a bad merge or a throwing one change nothing', async () => {
  const r = await page.evaluate(async (name) => {
    const db = new Settee(name);
    const calm = await db.put({ _id: 'calm' });
    await db.bulkDocs([{ _id: 'doc', _rev: '1-a' }, { _id: 'doc', _rev: '1-b' }], { new_edits: false });
    const before = (await db.info()).update_seq;
    const error = (e) => ({ status: e.status, name: e.name, message: e.message });
    const out = {};
    let merged = 0;
    out.calm = await db.resolveConflict('calm', () => (merged++, {}));
    out.missing = await db.resolveConflict('nope', () => ({})).catch(error);
    out.notObject = await db.resolveConflict('doc', () => 42).catch(error);
    out.undefined = await db.resolveConflict('doc', async () => undefined).catch(error);
    const mine = new Error('mine');
    out.thrown = await db.resolveConflict('doc', () => {
      throw mine;
    }).catch((e) => e === mine);
    out.rejected = await db.resolveConflict('doc', () => Promise.reject(mine)).catch((e) => e === mine);
    out.merged = merged;
    out.seqs = (await db.info()).update_seq - before;
    out.list = await db.conflicts();
    out.calmRev = calm.rev;
    return out;
  }, uniqueName('bad'));
  assert.deepEqual(r.calm, { ok: true, id: 'calm', rev: r.calmRev });
  assert.equal(r.merged, 0, 'no merge without conflicts');
  assert.deepEqual([r.missing.status, r.missing.name], [404, 'not_found']);
  assert.deepEqual([r.notObject.status, r.notObject.name], [400, 'bad_request']);
  assert.deepEqual([r.undefined.status, r.undefined.name], [400, 'bad_request']);
  assert.equal(r.thrown, true, "merge's own exception rejects the call as is");
  assert.equal(r.rejected, true);
  assert.equal(r.seqs, 0, 'nothing written');
  assert.deepEqual(r.list.rows, [{ id: 'doc', rev: '1-b', conflicts: ['1-a'] }]);
});
