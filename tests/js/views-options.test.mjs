// Every `query` option, CouchDB collation across key types, the built-in reduces, every Mango
// operator, sorting through an index, index management, viewCleanup, design doc rebuilds
// and the errors, all through the built package in Chromium, on IndexedDB.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { settle, sharedPage, uniqueName } from './helpers.mjs';

let page;
sharedPage((shared) => ({ page } = shared));

// One doc per key, in CouchDB's order (two docs share the key 2), inserted shuffled.
const MIXED = [
  ['n1', null, 1],
  ['f1', false, 2],
  ['t1', true, 3],
  ['num-1', -1, 4],
  ['num2', 2, 5],
  ['num2b', 2, 6],
  ['num10', 10, 7],
  ['sA', 'A', 8],
  ['sa', 'a', 9],
  ['sb', 'b', 10],
  ['arr1', [1], 11],
  ['arr1x', [1, 'x'], 12],
  ['arr2', [2], 13],
  ['obj', { a: 1 }, 14],
  ['objb', { b: 1 }, 15],
];
const MIXED_IDS = MIXED.map(([id]) => id);
const SHUFFLED = [7, 2, 14, 0, 5, 11, 4, 9, 1, 13, 6, 3, 12, 8, 10].map((i) => MIXED[i]); // num2b before num2

const PATHS = [
  { _id: 'p1', path: ['a', 'x', 1], v: 1 },
  { _id: 'p2', path: ['a', 'x', 2], v: 2 },
  { _id: 'p3', path: ['a', 'y', 1], v: 3 },
  { _id: 'p4', path: ['b', 'x', 1], v: 4 },
];

const DESIGN = {
  _id: '_design/opts',
  views: {
    all: { map: "function (doc) { if ('k' in doc) emit(doc.k, doc.v); }", reduce: '_sum' },
    count: { map: "function (doc) { if ('k' in doc) emit(doc.k, doc.v); }", reduce: '_count' },
    stats: { map: "function (doc) { if ('k' in doc) emit(doc.k, doc.v); }", reduce: '_stats' },
    byPath: { map: 'function (doc) { if (doc.path) emit(doc.path, doc.v); }', reduce: '_sum' },
    pathCount: { map: 'function (doc) { if (doc.path) emit(doc.path); }', reduce: '_count' },
  },
};

/** Runs `queries` (name → [view, options]) against a fresh db holding MIXED, PATHS, DESIGN. */
async function runQueries(queries) {
  const docs = [...SHUFFLED.map(([_id, k, v]) => ({ _id, k, v })), ...PATHS, DESIGN];
  return page.evaluate(
    async ([name, docs, queries]) => {
      const db = new Settee(name);
      await db.bulkDocs(docs);
      const out = {};
      for (const [label, [view, options]] of Object.entries(queries)) out[label] = await db.query(view, options);
      return out;
    },
    [uniqueName('opts'), docs, queries],
  );
}

const idsOf = (r) => r.rows.map((row) => row.id);

test('map rows are ordered by key then doc id across null, booleans, numbers, strings, arrays and objects', async () => {
  const r = await runQueries({
    all: ['opts/all', { reduce: false }],
    temp: [{ map: "function (doc) { if ('k' in doc) emit(doc.k, doc.v); }" }, {}],
  });
  assert.deepEqual(
    r.all.rows.map((row) => [row.id, row.key, row.value]),
    MIXED.map(([id, k, v]) => [id, k, v]),
  );
  assert.equal(r.all.total_rows, 15);
  assert.equal(r.all.offset, 0);
  assert.deepEqual(idsOf(r.temp), MIXED_IDS);
});

test('strings collate by code point, numbers by value, arrays and objects member by member', async () => {
  // In the order CouchDB (and Settee) sorts them; inserted reversed.
  const keys = [-1e300, -1.5, 0, 0.5, 1e300, '', 'L', 'Z', 'a', 'a\u0000', 'a\u0000b', 'ab', 'é', '\uFF5A', '\u{1F600}',
    [], [null], [1], [1, 2], ['a'], [[]], {}, { a: null }, { a: 1 }, { a: 1, b: 2 }, { b: 0 }];
  const r = await page.evaluate(async ([name, keys]) => {
    const db = new Settee(name);
    await db.bulkDocs(keys.map((k, i) => ({ _id: 'k' + String(i).padStart(2, '0'), k })).reverse());
    const res = await db.query((doc, emit) => emit(doc.k));
    return res.rows.map((row) => row.key);
  }, [uniqueName('collate'), keys]);
  assert.deepEqual(r, keys);
});

test('key, keys, startkey/endkey, doc id bounds, inclusive_end, descending, skip and limit select exact rows', async () => {
  const m = (o) => ['opts/all', { reduce: false, ...o }];
  const r = await runQueries({
    key2: m({ key: 2 }),
    keyNull: m({ key: null }),
    keyArray: m({ key: [1, 'x'] }),
    keyObject: m({ key: { a: 1 } }),
    keys: m({ keys: ['b', 2, 'missing', false] }),
    range: m({ startkey: true, endkey: 'a' }),
    exclusive: m({ startkey: 2, endkey: 'a', inclusive_end: false }),
    startDocid: m({ startkey: 2, startkey_docid: 'num2b', endkey: 10 }),
    endDocid: m({ startkey: -1, endkey: 2, endkey_docid: 'num2' }),
    arrayPrefix: m({ startkey: [1], endkey: [1, {}] }),
    desc: m({ startkey: 'a', endkey: 2, descending: true }),
    descExclusive: m({ startkey: 'a', endkey: 2, descending: true, inclusive_end: false }),
    descLimit: m({ descending: true, limit: 2 }),
    skipLimit: m({ skip: 2, limit: 3 }),
    skipPast: m({ skip: 20 }),
    limit0: m({ limit: 0 }),
    strings: m({ startkey: 'A', endkey: 'Z' }),
  });
  assert.deepEqual(idsOf(r.key2), ['num2', 'num2b']);
  assert.deepEqual(idsOf(r.keyNull), ['n1'], 'null is a key, not "no key"');
  assert.deepEqual(idsOf(r.keyArray), ['arr1x']);
  assert.deepEqual(idsOf(r.keyObject), ['obj']);
  assert.deepEqual(idsOf(r.keys), ['sb', 'num2', 'num2b', 'f1'], 'in the order the keys were given');
  assert.deepEqual(idsOf(r.range), ['t1', 'num-1', 'num2', 'num2b', 'num10', 'sA', 'sa']);
  assert.deepEqual(idsOf(r.exclusive), ['num2', 'num2b', 'num10', 'sA']);
  assert.deepEqual(idsOf(r.startDocid), ['num2b', 'num10']);
  assert.deepEqual(idsOf(r.endDocid), ['num-1', 'num2']);
  assert.deepEqual(idsOf(r.arrayPrefix), ['arr1', 'arr1x']);
  assert.deepEqual(idsOf(r.desc), ['sa', 'sA', 'num10', 'num2b', 'num2']);
  assert.deepEqual(idsOf(r.descExclusive), ['sa', 'sA', 'num10']);
  assert.deepEqual(idsOf(r.descLimit), ['objb', 'obj']);
  assert.deepEqual(idsOf(r.skipLimit), ['t1', 'num-1', 'num2']);
  assert.equal(r.skipLimit.offset, 2);
  assert.equal(r.skipLimit.total_rows, 15);
  assert.deepEqual(idsOf(r.skipPast), []);
  assert.deepEqual(idsOf(r.limit0), []);
  assert.deepEqual(idsOf(r.strings), ['sA'], "strings compare by code point: 'a' > 'Z'");
});

test('_sum, _count and _stats reduce, grouped by exact key and by group_level, with skip and limit', async () => {
  const r = await runQueries({
    sum: ['opts/all', {}],
    count: ['opts/count', {}],
    stats: ['opts/stats', {}],
    reduceTrue: ['opts/all', { reduce: true, startkey: 'A', endkey: 'b' }],
    group: ['opts/all', { group: true, startkey: 2, endkey: 'A' }],
    groupKeys: ['opts/all', { group: true, keys: [2, null] }],
    groupLevelMixed: ['opts/all', { group_level: 1, startkey: [1], endkey: [2] }],
    level0: ['opts/byPath', { group_level: 0 }],
    level1: ['opts/byPath', { group_level: 1 }],
    level2: ['opts/byPath', { group_level: 2 }],
    level2Paged: ['opts/byPath', { group_level: 2, skip: 1, limit: 1 }],
    level2Desc: ['opts/byPath', { group_level: 2, descending: true }],
    countLevel1: ['opts/pathCount', { group_level: 1 }],
    groupAll: ['opts/byPath', { group: true }],
  });
  assert.deepEqual(r.sum.rows, [{ key: null, value: 120 }]);
  assert.deepEqual(r.count.rows, [{ key: null, value: 15 }]);
  assert.deepEqual(r.stats.rows, [{ key: null, value: { sum: 120, count: 15, min: 1, max: 15, sumsqr: 1240 } }]);
  assert.deepEqual(r.reduceTrue.rows, [{ key: null, value: 27 }]);
  assert.deepEqual(r.group.rows, [
    { key: 2, value: 11 },
    { key: 10, value: 7 },
    { key: 'A', value: 8 },
  ]);
  assert.deepEqual(r.groupKeys.rows, [
    { key: 2, value: 11 },
    { key: null, value: 1 },
  ]);
  assert.deepEqual(r.groupLevelMixed.rows, [
    { key: [1], value: 23 },
    { key: [2], value: 13 },
  ]);
  assert.deepEqual(r.level0.rows, [{ key: null, value: 10 }]);
  assert.deepEqual(r.level1.rows, [
    { key: ['a'], value: 6 },
    { key: ['b'], value: 4 },
  ]);
  assert.deepEqual(r.level2.rows, [
    { key: ['a', 'x'], value: 3 },
    { key: ['a', 'y'], value: 3 },
    { key: ['b', 'x'], value: 4 },
  ]);
  assert.deepEqual(r.level2Paged.rows, [{ key: ['a', 'y'], value: 3 }]);
  assert.deepEqual(r.level2Desc.rows, [
    { key: ['b', 'x'], value: 4 },
    { key: ['a', 'y'], value: 3 },
    { key: ['a', 'x'], value: 3 },
  ]);
  assert.deepEqual(r.countLevel1.rows, [
    { key: ['a'], value: 3 },
    { key: ['b'], value: 1 },
  ]);
  assert.deepEqual(
    r.groupAll.rows.map((row) => row.value),
    [1, 2, 3, 4],
  );
});

test('temporary views: closures sharing a source map apart; the same function is incremental', async () => {
  const r = await page.evaluate(async (name) => {
    window.tempCalls = 0;
    const db = new Settee(name);
    await db.bulkDocs([{ _id: 'a', type: 'x' }, { _id: 'b', type: 'y' }, { _id: 'c', type: 'x' }]);
    const byType = (type) => (doc, emit) => {
      window.tempCalls++;
      if (doc.type === type) emit(doc._id);
    };
    const ids = (res) => res.rows.map((row) => row.id);
    const x = byType('x');
    const first = ids(await db.query(x));
    const y = ids(await db.query(byType('y')));
    window.tempCalls = 0;
    await db.put({ _id: 'd', type: 'x' });
    const again = ids(await db.query(x));
    const source = 'function (doc) { if (doc.type === "y") emit(doc._id); }';
    const fromSource = ids(await db.query({ map: source }));
    return { first, y, again, callsAgain: window.tempCalls, fromSource };
  }, uniqueName('temp'));
  assert.deepEqual(r.first, ['a', 'c']);
  assert.deepEqual(r.y, ['b'], 'a closure over another value is another index');
  assert.deepEqual(r.again, ['a', 'c', 'd']);
  assert.equal(r.callsAgain, 1, 'the same function object only mapped the new doc');
  assert.deepEqual(r.fromSource, ['b']);
});

test('include_docs, conflicts and update_seq', async () => {
  const a = '1-' + 'a'.repeat(32);
  const b = '1-' + 'b'.repeat(32);
  const r = await page.evaluate(
    async ([name, a, b]) => {
      const db = new Settee(name);
      await db.bulkDocs([{ _id: 'plain', k: 1, v: 'p' }]);
      await db.bulkDocs(
        [
          { _id: 'split', _rev: a, k: 2, v: 'A' },
          { _id: 'split', _rev: b, k: 2, v: 'B' },
        ],
        { new_edits: false },
      );
      const map = (doc, emit) => emit(doc.k, doc.v);
      return {
        docs: await db.query(map, { include_docs: true }),
        conflicts: await db.query(map, { include_docs: true, conflicts: true, key: 2 }),
        seq: await db.query(map, { update_seq: true, limit: 0 }),
        noSeq: await db.query(map, { limit: 0 }),
        info: await db.info(),
      };
    },
    [uniqueName('docs'), a, b],
  );
  assert.deepEqual(idsOf(r.docs), ['plain', 'split']);
  assert.equal(r.docs.rows[0].doc.v, 'p');
  assert.match(r.docs.rows[0].doc._rev, /^1-/);
  assert.equal(r.docs.rows[1].doc._rev, b, 'the winning revision');
  assert.equal(r.docs.rows[1].doc._conflicts, undefined);
  assert.deepEqual(r.conflicts.rows[0].doc._conflicts, [a]);
  assert.equal(r.seq.update_seq, r.info.update_seq);
  assert.equal(r.noSeq.update_seq, undefined);
});

test("stale: 'ok' answers from the index as it is; 'update_after' answers, then catches up", async () => {
  const r = await page.evaluate(async (name) => {
    window.staleCalls = 0;
    const db = new Settee(name);
    await db.bulkDocs([{ _id: 'a', n: 1 }, { _id: 'b', n: 2 }]);
    await db.put({ _id: '_design/s', views: { v: { map: 'function (doc) { window.staleCalls++; emit(doc.n); }' } } });
    const ids = (res) => res.rows.map((row) => row.id);
    const unbuilt = ids(await db.query('s/v', { stale: 'ok' }));
    const built = ids(await db.query('s/v'));
    await db.put({ _id: 'c', n: 3 });
    const stale = ids(await db.query('s/v', { stale: 'ok' }));
    const callsBefore = window.staleCalls;
    const updateAfter = ids(await db.query('s/v', { stale: 'update_after' }));
    let caughtUp = [];
    for (let i = 0; i < 100 && caughtUp.length < 3; i++) {
      await new Promise((ok) => setTimeout(ok, 20));
      caughtUp = ids(await db.query('s/v', { stale: 'ok' }));
    }
    return { unbuilt, built, stale, callsBefore, updateAfter, caughtUp, callsAfter: window.staleCalls };
  }, uniqueName('stale'));
  assert.deepEqual(r.unbuilt, [], 'an index never built answers empty');
  assert.deepEqual(r.built, ['a', 'b']);
  assert.deepEqual(r.stale, ['a', 'b']);
  assert.equal(r.callsBefore, 2, 'stale queries mapped nothing');
  assert.deepEqual(r.updateAfter, ['a', 'b']);
  assert.deepEqual(r.caughtUp, ['a', 'b', 'c']);
  assert.equal(r.callsAfter, 3, 'the update after mapped only the new doc');
});

// Mango: five docs cover every operator; no index, so results come in _id order.
const PEOPLE = [
  { _id: 'a', name: 'ann', age: 30, tags: ['x', 'y'], kids: [{ age: 3 }, { age: 8 }], type: 'user', score: 7 },
  { _id: 'b', name: 'bob', age: 25, tags: ['y'], kids: [{ age: 12 }], type: 'user', score: 10, nick: null },
  { _id: 'c', name: 'cat', age: 41, tags: [], kids: [], type: 'admin', score: 3 },
  { _id: 'd', name: 'dan', age: '41', tags: ['x', 'y', 'z'], kids: [{ age: 9 }, { age: 10 }], type: 'user' },
  { _id: 'e', name: 'Eve', type: 'bot', score: 0 },
  { _id: '_design/not-a-result', views: {} },
];

const OPERATORS = {
  $eq: [{ name: { $eq: 'bob' } }, ['b']],
  implicitEq: [{ type: 'user' }, ['a', 'b', 'd']],
  nestedEq: [{ kids: { $eq: [{ age: 12 }] } }, ['b']],
  $ne: [{ score: { $ne: 10 } }, ['a', 'c', 'e']],
  $gt: [{ age: { $gt: 29 } }, ['a', 'c', 'd']], // '41' is a string, and strings collate after numbers
  $gte: [{ age: { $gte: 30, $lt: 100 } }, ['a', 'c']],
  $lt: [{ age: { $lt: 30 } }, ['b']],
  $lte: [{ age: { $lte: 30 } }, ['a', 'b']],
  $existsTrue: [{ nick: { $exists: true } }, ['b']],
  $existsFalse: [{ score: { $exists: false } }, ['d']],
  $typeString: [{ age: { $type: 'string' } }, ['d']],
  $typeNull: [{ nick: { $type: 'null' } }, ['b']],
  $typeArray: [{ tags: { $type: 'array' } }, ['a', 'b', 'c', 'd']],
  $in: [{ name: { $in: ['ann', 'Eve', 'zed'] } }, ['a', 'e']],
  $inArrayField: [{ tags: { $in: ['z'] } }, ['d']],
  $nin: [{ type: { $nin: ['user', 'bot'] } }, ['c']],
  $size2: [{ tags: { $size: 2 } }, ['a']],
  $size0: [{ tags: { $size: 0 } }, ['c']],
  $mod: [{ score: { $mod: [5, 0] } }, ['b', 'e']],
  $regex: [{ name: { $regex: '^[a-c]' } }, ['a', 'b', 'c']],
  $and: [{ $and: [{ type: 'user' }, { age: { $lt: 30 } }] }, ['b']],
  $or: [{ $or: [{ type: 'bot' }, { score: 3 }] }, ['c', 'e']],
  $nor: [{ $nor: [{ type: 'user' }, { score: 0 }] }, ['c']],
  $not: [{ name: { $not: { $regex: '^[a-c]' } } }, ['d', 'e']],
  $all: [{ tags: { $all: ['x', 'y'] } }, ['a', 'd']],
  $elemMatch: [{ kids: { $elemMatch: { age: { $gt: 10 } } } }, ['b']],
  $allMatch: [{ kids: { $allMatch: { age: { $lt: 10 } } } }, ['a']],
  everything: [{ _id: { $gt: null } }, ['a', 'b', 'c', 'd', 'e']],
};

test('every Mango operator selects exactly the docs CouchDB would', async () => {
  const found = await page.evaluate(
    async ([name, docs, ops]) => {
      const db = new Settee(name);
      await db.bulkDocs(docs);
      const out = {};
      for (const [op, [selector]] of Object.entries(ops)) out[op] = (await db.find({ selector })).docs.map((d) => d._id);
      return out;
    },
    [uniqueName('ops'), PEOPLE, OPERATORS],
  );
  for (const [op, [, expected]] of Object.entries(OPERATORS)) assert.deepEqual(found[op], expected, op);
});

test('with an index on every field, each operator still selects the same docs, read through the index', async () => {
  const r = await page.evaluate(
    async ([name, docs, ops]) => {
      const db = new Settee(name);
      await db.bulkDocs(docs);
      for (const field of ['name', 'age', 'score', 'type', 'tags', 'kids', 'nick']) {
        await db.createIndex({ index: { fields: [field], name: `by-${field}` } });
      }
      const out = {};
      for (const [op, [selector]] of Object.entries(ops)) {
        const res = await db.find({ selector });
        const plan = await db.explain({ selector });
        out[op] = { ids: res.docs.map((d) => d._id).sort(), index: plan.index.name };
      }
      return out;
    },
    [uniqueName('ops-indexed'), PEOPLE, OPERATORS],
  );
  for (const [op, [, expected]] of Object.entries(OPERATORS)) assert.deepEqual(r[op].ids, expected, op);
  assert.equal(r.$gt.index, 'by-age');
  assert.equal(r.$elemMatch.index, 'by-kids');
  assert.equal(r.$in.index, 'by-name');
  assert.equal(r.$or.index, '_all_docs', 'no single field is required by every branch');
});

test('find sorts through an index, asc and desc, with limit, skip and fields', async () => {
  const r = await page.evaluate(
    async ([name, docs]) => {
      const db = new Settee(name);
      await db.bulkDocs(docs);
      const created = await db.createIndex({ index: { fields: ['score'], name: 'by-score', ddoc: 'scores' } });
      const ids = (res) => res.docs.map((d) => d._id);
      const asc = await db.find({ selector: { score: { $gte: 0 } }, sort: ['score'] });
      const desc = await db.find({ selector: { score: { $gte: 0 } }, sort: [{ score: 'desc' }] });
      return {
        created,
        asc: ids(asc),
        warning: asc.warning,
        desc: ids(desc),
        ascPage: (await db.find({ selector: { score: { $gt: 0 } }, sort: ['score'], skip: 1, limit: 2, fields: ['_id', 'score'] })).docs,
        descPage: (await db.find({ selector: { score: { $gt: 0 } }, sort: [{ score: 'desc' }], skip: 1, limit: 2, fields: ['name'] })).docs,
        filtered: ids(await db.find({ selector: { score: { $lt: 8 }, type: 'user' }, sort: ['score'] })),
        explain: await db.explain({ selector: { score: { $gt: 0 } }, sort: [{ score: 'desc' }] }),
      };
    },
    [uniqueName('sort'), PEOPLE],
  );
  assert.deepEqual(r.created, { result: 'created', id: '_design/scores', name: 'by-score' });
  assert.deepEqual(r.asc, ['e', 'c', 'a', 'b'], 'd has no score, so it is not in the index');
  assert.equal(r.warning, undefined);
  assert.deepEqual(r.desc, ['b', 'a', 'c', 'e']);
  assert.deepEqual(r.ascPage, [
    { _id: 'a', score: 7 },
    { _id: 'b', score: 10 },
  ]);
  assert.deepEqual(r.descPage, [{ name: 'ann' }, { name: 'cat' }]);
  assert.deepEqual(r.filtered, ['a']);
  assert.equal(r.explain.index.name, 'by-score');
  assert.equal(r.explain.descending, true);
  assert.deepEqual(r.explain.range.lower, { value: 0, inclusive: false });
});

test('getIndexes lists json indexes and deleteIndex removes one (then 404s)', async () => {
  const r = await page.evaluate(async (name) => {
    const db = new Settee(name);
    await db.bulkDocs([{ _id: 'a', x: 1, y: 2 }]);
    const one = await db.createIndex({ index: { fields: ['x'], name: 'ix', ddoc: 'shared' } });
    const two = await db.createIndex({ index: { fields: [{ y: 'asc' }, 'x'], name: 'iy', ddoc: 'shared' } });
    const again = await db.createIndex({ index: { fields: ['x'], name: 'ix', ddoc: 'shared' } });
    const before = await db.getIndexes();
    const deleted = await db.deleteIndex({ ddoc: '_design/shared', name: 'ix' });
    const middle = await db.getIndexes();
    await db.deleteIndex({ ddoc: 'shared', name: 'iy' });
    const after = await db.getIndexes();
    let missing;
    try {
      await db.deleteIndex({ ddoc: 'shared', name: 'iy' });
    } catch (e) {
      missing = { status: e.status, name: e.name };
    }
    let ddocGone;
    try {
      await db.get('_design/shared');
    } catch (e) {
      ddocGone = e.status;
    }
    return { one, two, again, before, deleted, middle, after, missing, ddocGone };
  }, uniqueName('indexes'));
  assert.equal(r.one.result, 'created');
  assert.equal(r.two.result, 'created');
  assert.equal(r.again.result, 'exists');
  assert.deepEqual(r.before, {
    total_rows: 3,
    indexes: [
      { ddoc: null, name: '_all_docs', type: 'special', def: { fields: [{ _id: 'asc' }] } },
      { ddoc: '_design/shared', name: 'ix', type: 'json', def: { fields: [{ x: 'asc' }] } },
      { ddoc: '_design/shared', name: 'iy', type: 'json', def: { fields: [{ y: 'asc' }, { x: 'asc' }] } },
    ],
  });
  assert.deepEqual(r.deleted, { ok: true });
  assert.deepEqual(r.middle.indexes.map((i) => i.name), ['_all_docs', 'iy']);
  assert.deepEqual(r.after.indexes.map((i) => i.name), ['_all_docs']);
  assert.deepEqual(r.missing, { status: 404, name: 'not_found' });
  assert.equal(r.ddocGone, 404, 'the design doc goes with its last index');
});

test('a changed design doc rebuilds its view; viewCleanup drops the unused index so it is re-mapped', async () => {
  const r = await page.evaluate(async (name) => {
    window.cleanCalls = 0;
    const db = new Settee(name);
    const docs = [];
    for (let i = 0; i < 20; i++) docs.push({ _id: `d${String(i).padStart(2, '0')}`, n: i });
    await db.bulkDocs(docs);
    const A = 'function (doc) { window.cleanCalls++; emit(doc.n); }';
    const B = 'function (doc) { window.cleanCalls++; emit(-doc.n); }';
    const ddoc = async (map) => {
      const old = await db.get('_design/c').catch(() => ({}));
      await db.put({ _id: '_design/c', _rev: old._rev, views: { v: { map } } });
    };
    const step = async () => {
      window.cleanCalls = 0;
      const res = await db.query('c/v', { limit: 1 });
      return { calls: window.cleanCalls, first: res.rows[0].id };
    };
    await ddoc(A);
    const built = await step();
    await ddoc(B);
    const rebuilt = await step();
    await ddoc(A);
    const backToA = await step(); // A's index was still there
    await ddoc(B);
    const cleaned = await db.viewCleanup(); // B is in use; A's index is not
    const bKept = await step();
    await ddoc(A);
    const aRemapped = await step();
    return { built, rebuilt, backToA, cleaned, bKept, aRemapped };
  }, uniqueName('cleanup'));
  assert.deepEqual(r.built, { calls: 20, first: 'd00' });
  assert.deepEqual(r.rebuilt, { calls: 20, first: 'd19' }, 'the new map ran over every doc');
  assert.deepEqual(r.backToA, { calls: 0, first: 'd00' }, 'without a cleanup the old index is reused');
  assert.deepEqual(r.cleaned, { ok: true });
  assert.deepEqual(r.bKept, { calls: 0, first: 'd19' }, 'cleanup kept the index in use');
  assert.deepEqual(r.aRemapped, { calls: 20, first: 'd00' }, "cleanup removed the unused index's data");
});

test('bad selectors, sorts without an index and missing views are 4xx errors with PouchDB names', async () => {
  const r = await settle(
    page,
    async (name) => {
      const db = new Settee(name);
      await db.bulkDocs([{ _id: 'a', n: 1 }]);
      await db.put({ _id: '_design/d', views: { v: { map: 'function (doc) { emit(doc.n); }' } } });
      const fail = async (f) => {
        try {
          await f();
          return 'resolved';
        } catch (e) {
          return { status: e.status, name: e.name, message: e.message, isError: e instanceof Error };
        }
      };
      return {
        badOperator: await fail(() => db.find({ selector: { n: { $bogus: 1 } } })),
        notAnObject: await fail(() => db.find({ selector: 'n' })),
        noSelector: await fail(() => db.find({})),
        badRegex: await fail(() => db.find({ selector: { n: { $regex: '(' } } })),
        sortNoIndex: await fail(() => db.find({ selector: { n: { $gt: 0 } }, sort: ['n'] })),
        missingView: await fail(() => db.query('d/nope')),
        missingDdoc: await fail(() => db.query('nope/v')),
        badName: await fail(() => db.query('noslash')),
        reduceOnMap: await fail(() => db.query('d/v', { reduce: true })),
        backwards: await fail(() => db.query('d/v', { startkey: 2, endkey: 1 })),
        badStale: await fail(() => db.query('d/v', { stale: 'later' })),
      };
    },
    uniqueName('errors'),
  );
  const e = r.ok;
  for (const [label, err] of Object.entries(e)) {
    assert.ok(err.isError, `${label} rejects with an Error`);
    assert.ok(err.status >= 400 && err.status < 500, `${label}: status ${err.status}`);
  }
  assert.deepEqual([e.badOperator.status, e.badOperator.name], [400, 'bad_request']);
  assert.match(e.badOperator.message, /\$bogus/);
  assert.deepEqual([e.notAnObject.status, e.noSelector.status, e.badRegex.status], [400, 400, 400]);
  assert.deepEqual([e.sortNoIndex.status, e.sortNoIndex.name], [400, 'no_usable_index']);
  assert.deepEqual([e.missingView.status, e.missingView.name, e.missingView.message], [404, 'not_found', 'missing_named_view']);
  assert.deepEqual([e.missingDdoc.status, e.missingDdoc.name], [404, 'not_found']);
  // A bare name is PouchDB's shorthand for view `noslash` of `_design/noslash`: missing here.
  assert.deepEqual([e.badName.status, e.badName.name], [404, 'not_found']);
  assert.deepEqual([e.reduceOnMap.status, e.reduceOnMap.name], [400, 'query_parse_error']);
  assert.deepEqual([e.backwards.status, e.backwards.name], [400, 'query_parse_error']);
  assert.deepEqual([e.badStale.status, e.badStale.name], [400, 'bad_request']);
});
