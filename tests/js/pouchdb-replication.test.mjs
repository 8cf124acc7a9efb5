// settee/pouchdb replication between local databases: filters as PouchDB's test.replication.js
// and test.sync.js use them, and the emitter details PouchDB apps rely on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sharedPouchPage } from './helpers.mjs';

/** Runs `fn(name)` in the shared page with `window.PouchDB` loaded from pkg/pouchdb.js. */
const inPage = sharedPouchPage('prepl');

test('a local source runs design doc filters (with query_params) and _view filters', async () => {
  const r = await inPage(async (name) => {
    const source = new PouchDB(name, { adapter: 'memory' });
    await source.bulkDocs([0, 1, 2, 3].map((i) => ({ _id: String(i), integer: i })));
    await source.put({
      _id: '_design/f',
      filters: { rem: 'function (doc, req) { return doc.integer % 2 === Number(req.query.rem); }' },
      views: { odd: { map: 'function (doc) { if (doc.integer % 2) emit(doc._id); }' } },
    });
    const ids = async (target) => (await target.allDocs()).rows.map((r) => r.id);
    const named = new PouchDB(name + '-named', { adapter: 'memory' });
    const a = await source.replicate.to(named, { filter: 'f/rem', query_params: { rem: 0 } });
    const view = new PouchDB(name + '-view', { adapter: 'memory' });
    await source.replicate.to(view, { filter: '_view', view: 'f/odd' });
    return { named: await ids(named), written: a.docs_written, view: await ids(view) };
  });
  assert.deepEqual(r, { named: ['0', '2'], written: 2, view: ['1', '3'] });
});

test('a filter function gets req.query, and other query_params start a new checkpoint', async () => {
  const r = await inPage(async (name) => {
    const remote = new PouchDB(name, { adapter: 'memory' });
    const db = new PouchDB(name + '-copy', { adapter: 'memory' });
    await remote.bulkDocs([0, 1, 2, 3, 5].map((i) => ({ _id: String(i), integer: i })));
    const filter = (doc, req) => (req.query.even ? doc.integer % 2 === 0 : true);
    const first = await db.replicate.from(remote, { filter, query_params: { even: true } });
    const second = await db.replicate.from(remote, { filter, query_params: { even: false } });
    return [first.docs_written, second.docs_written];
  });
  assert.deepEqual(r, [2, 3]);
});

test("sync takes a filter for one direction in its push / pull options", async () => {
  const r = await inPage(async (name) => {
    const a = new PouchDB(name, { adapter: 'memory' });
    const b = new PouchDB(name + '-b', { adapter: 'memory' });
    await a.bulkDocs([{ _id: 'a1', up: true }, { _id: 'a2' }]);
    await b.bulkDocs([{ _id: 'b1' }, { _id: 'b2', down: true }]);
    await a.sync(b, { push: { filter: (doc) => doc.up }, pull: { filter: (doc) => doc.down } });
    return { a: (await a.allDocs()).rows.map((r) => r.id), b: (await b.allDocs()).rows.map((r) => r.id) };
  });
  assert.deepEqual(r, { a: ['a1', 'a2', 'b2'], b: ['a1', 'b1', 'b2'] });
});

test('a finished replication drops its listeners; sync.pull.cancel() ends the sync; setMaxListeners chains', async () => {
  const r = await inPage(async (name) => {
    const a = new PouchDB(name, { adapter: 'memory' });
    const b = new PouchDB(name + '-b', { adapter: 'memory' });
    await a.bulkDocs([{}, {}]);
    const rep = a.replicate.to(b);
    rep.on('change', () => {}).on('error', () => {});
    const events = await new Promise((ok) => rep.on('complete', () => setTimeout(() => ok(Object.keys(rep._events)))));
    const sync = a.sync(b, { live: true });
    const status = await new Promise((ok) => {
      sync.on('complete', (info) => ok(info.status ?? 'complete'));
      sync.on('paused', () => sync.pull.cancel());
    });
    return { events, status, chained: a.setMaxListeners(100) === a };
  });
  assert.deepEqual(r, { events: [], status: 'cancelled', chained: true });
});

test('doc_ids that are no list are a bad_request in CouchDB words; change events carry start_time', async () => {
  const r = await inPage(async (name) => {
    const a = new PouchDB(name, { adapter: 'memory' });
    const b = new PouchDB(name + '-b', { adapter: 'memory' });
    await a.bulkDocs([{ _id: '1' }]);
    const err = await a.replicate.to(b, { doc_ids: 'foo' }).then(() => null, (e) => [e.name, e.reason]);
    const starts = [];
    const result = await a.replicate.to(b).on('change', (c) => starts.push(typeof c.start_time));
    return { err, starts, end: typeof result.end_time };
  });
  assert.deepEqual(r, { err: ['bad_request', '`doc_ids` filter parameter is not a list.'], starts: ['string'], end: 'string' });
});
