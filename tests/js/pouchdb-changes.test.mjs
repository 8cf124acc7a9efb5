// settee/pouchdb changes(): filters on a local database, as PouchDB's test.changes.js uses
// them (functions, design doc filters, `_view`, selectors), with `limit` counted after them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sharedPouchPage } from './helpers.mjs';

/** Runs `fn(name)` in the shared page with `window.PouchDB` loaded from pkg/pouchdb.js. */
const inPage = sharedPouchPage('pchanges');

test('a filter function gets (doc, req) with req.query from query_params, and limit counts kept rows', async () => {
  const r = await inPage(async (name) => {
    const db = new PouchDB(name, { adapter: 'memory' });
    await db.bulkDocs([0, 1, 2, 3, 4].map((i) => ({ _id: String(i), integer: i })));
    const all = await db.changes();
    const even = await db.changes({ filter: (doc, req) => req.query.even && doc.integer % 2 === 0, query_params: { even: true } });
    const limited = await db.changes({ filter: (doc) => doc.integer % 2 === 0, limit: 2 });
    const rest = await db.changes({ filter: (doc) => doc.integer % 2 === 0, since: limited.last_seq });
    return {
      even: even.results.map((c) => c.id),
      sameLastSeq: even.last_seq === all.last_seq,
      limited: limited.results.map((c) => c.id),
      rest: rest.results.map((c) => c.id),
    };
  });
  assert.deepEqual(r, { even: ['0', '2', '4'], sameLastSeq: true, limited: ['0', '2'], rest: ['4'] });
});

test("design doc filters run by name ('ddoc/name' or the 'name' shorthand), and _view keeps what the map emits for", async () => {
  const r = await inPage(async (name) => {
    const db = new PouchDB(name, { adapter: 'memory' });
    await db.bulkDocs([0, 1, 2, 3].map((i) => ({ _id: String(i), integer: i })));
    await db.put({
      _id: '_design/odd',
      filters: { odd: 'function (doc, req) { return doc.integer % 2 === ("rem" in req.query ? req.query.rem : 1); }' },
      views: { odd: { map: 'function (doc) { if (doc.integer % 2 === 1) emit(doc._id); }' } },
    });
    const ids = (res) => res.results.map((c) => c.id);
    return {
      named: ids(await db.changes({ filter: 'odd/odd' })),
      short: ids(await db.changes({ filter: 'odd' })),
      params: ids(await db.changes({ filter: 'odd/odd', query_params: { rem: 0 }, include_docs: true })),
      view: ids(await db.changes({ filter: '_view', view: 'odd/odd' })),
      viewAlone: ids(await db.changes({ view: 'odd/odd', limit: 1 })),
    };
  });
  assert.deepEqual(r, { named: ['1', '3'], short: ['1', '3'], params: ['0', '2'], view: ['1', '3'], viewAlone: ['1'] });
});

test('a missing filter or design doc is a 404 error event and rejection; a throwing filter rejects', async () => {
  const r = await inPage(async (name) => {
    const db = new PouchDB(name, { adapter: 'memory' });
    await db.put({ _id: '_design/foo', filters: { boom: 'function () { throw new Error("boom"); }' } });
    const fail = (options) =>
      new Promise((ok) => {
        const events = [];
        const feed = db.changes(options).on('error', (e) => events.push(e.status));
        feed.then(() => ok('resolved'), (e) => ok({ status: e.status, name: e.name, events }));
      });
    return {
      noFilter: await fail({ filter: 'foo/odd' }),
      noDdoc: await fail({ filter: 'bar/odd' }),
      noView: await fail({ filter: '_view', view: 'foo/odd' }),
      noViewParam: await fail({ filter: '_view' }),
      throws: await fail({ filter: 'foo/boom' }),
      selectorAndFunction: await db.changes({ selector: { a: 1 }, filter: () => true }).catch((e) => e.message),
    };
  });
  assert.deepEqual(r, {
    noFilter: { status: 404, name: 'not_found', events: [404] },
    noDdoc: { status: 404, name: 'not_found', events: [404] },
    noView: { status: 404, name: 'not_found', events: [404] },
    noViewParam: { status: 400, name: 'bad_request', events: [400] },
    throws: { status: 400, name: 'bad_request', events: [400] },
    selectorAndFunction: 'selector invalid for filter "function"',
  });
});

test('a live feed with a filter function or selector delivers only passing changes', async () => {
  const r = await inPage(async (name) => {
    const db = new PouchDB(name, { adapter: 'memory' });
    const seen = { fn: [], selector: [] };
    const a = db.changes({ live: true, filter: (doc) => doc.keep }).on('change', (c) => seen.fn.push(c.id));
    const b = db.changes({ live: true, selector: { keep: true } }).on('change', (c) => seen.selector.push(c.id));
    await db.bulkDocs([{ _id: 'a', keep: true }, { _id: 'b' }, { _id: 'c', keep: true }]);
    for (let i = 0; i < 100 && (seen.fn.length < 2 || seen.selector.length < 2); i++) await new Promise((ok) => setTimeout(ok, 10));
    a.cancel();
    b.cancel();
    return seen;
  });
  assert.deepEqual(r, { fn: ['a', 'c'], selector: ['a', 'c'] });
});

test('a change listener that throws is logged; the feed goes on and no global error fires', async () => {
  const r = await inPage(async (name) => {
    const db = new PouchDB(name, { adapter: 'memory' });
    let globalErrors = 0;
    const onError = () => globalErrors++;
    window.addEventListener('error', onError);
    let count = 0;
    await new Promise((done) => {
      const changes = db.changes({ live: true });
      changes.on('change', () => {
        if (++count === 1) throw new Error('deliberate');
        if (count === 3) changes.cancel();
      });
      changes.on('complete', () => done());
      db.post({}).then(() => db.post({})).then(() => db.post({}));
    });
    await new Promise((ok) => setTimeout(ok, 50));
    window.removeEventListener('error', onError);
    return { count, globalErrors };
  });
  assert.deepEqual(r, { count: 3, globalErrors: 0 });
});
