// The workloads. Adding one is one entry here: a description, its sizes (full and --quick), an
// untimed `setup` on the fresh database, the timed `run`, and an untimed `verify` of what run returned
// (so a broken implementation fails loudly instead of looking fast).
//
//   setup(impl, h, size) -> ctx      not timed; a ctx.handle replaces h (after a reopen)
//   run(impl, h, size, ctx) -> out   timed
//   verify(impl, h, size, out)       not timed; throws if run's result or the data is wrong
//
// `target` is the goal as a PouchDB/Settee ratio; `floorTarget` as Settee/chunked-floor.
//
// Optional fields:
//   needs: ['query', ...]     impl methods the workload calls; implementations without them
//                             (the raw floors) are not run and show '–'
//   remote: 'seeded'|'empty'  the driver (run.mjs) passes a pouchdb-server database as s.remote:
//                             'seeded' holds makeDoc(0..s.docs-1) and is shared by every run
//                             (only read); 'empty' is created for each run and deleted after it.
//                             HTTP requests to the server during `run` are counted.
//   sampleHeap: true          the JS heap is sampled while `run` runs (peak; see bench.js)
//   serverShare: 'pull'|'push'  the driver also times the server answering this replication's
//                             requests from node, nothing else (bench/lib/couch.mjs)
//   metrics(out) -> {k: n}    extra per-run figures from run's result, kept in the results

/** A small doc, ~100 bytes of JSON. The same docs go to every implementation. */
export function makeDoc(i) {
  return {
    _id: `doc-${String(i).padStart(6, '0')}`,
    type: 'item',
    n: i,
    name: `Item number ${i}`,
    tags: ['alpha', i % 2 ? 'odd' : 'even'],
    done: i % 3 === 0,
  };
}

/** The schema `makeDoc`'s docs pass: types, bounds, a pattern, an enum, a `$ref`, no extras. */
const ITEM_SCHEMA = {
  typeField: 'type',
  types: {
    item: {
      type: 'object',
      required: ['type', 'n', 'name', 'tags', 'done'],
      additionalProperties: false,
      properties: {
        _id: { type: 'string' },
        _rev: { type: 'string' },
        type: { const: 'item' },
        n: { type: 'integer', minimum: 0 },
        name: { type: 'string', minLength: 1, maxLength: 100, pattern: '^Item ' },
        tags: { type: 'array', maxItems: 8, items: { $ref: '#/$defs/tag' } },
        done: { type: 'boolean' },
      },
      $defs: { tag: { enum: ['alpha', 'odd', 'even'] } },
    },
  },
};

function batches(n, size) {
  const out = [];
  for (let i = 0; i < n; i += size) {
    const b = [];
    for (let j = i; j < Math.min(n, i + size); j++) b.push(makeDoc(j));
    out.push(b);
  }
  return out;
}

/** Fills the database with n docs in batches of 1,000 (untimed setup of the read workloads). */
async function fill(impl, h, n) {
  for (const b of batches(n, 1000)) await impl.bulk(h, b);
}

/** A seeded PRNG (mulberry32), so every implementation reads the same ids in the same order. */
export function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function expect(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

function expectCount(docs, n) {
  expect(docs.length === n, `${docs.length} docs, expected ${n}`);
}

/** Seeded start keys of the range queries: s.queries ranges of s.span keys within 0..s.docs-1. */
function ranges(s) {
  const r = rng(7);
  return Array.from({ length: s.queries }, () => Math.floor(r() * (s.docs - s.span + 1)));
}

/** Runs one query per start key in turn; the first is timed apart, as it builds the index. */
async function timedQueries(starts, query) {
  const results = [];
  const t0 = performance.now();
  let firstMs = 0;
  for (const a of starts) {
    results.push(await query(a));
    if (results.length === 1) firstMs = performance.now() - t0;
  }
  return { starts, results, firstMs, t0 };
}

export const WORKLOADS = {
  'bulk insert': {
    describe: (s) => `bulkDocs of ${s.docs} small docs in batches of ${s.batch}`,
    full: { docs: 10000, batch: 1000 },
    quick: { docs: 2000, batch: 1000 },
    target: 20,
    floorTarget: 3,
    setup: (impl, h, s) => batches(s.docs, s.batch), // built before timing
    async run(impl, h, s, docBatches) {
      for (const b of docBatches) await impl.bulk(h, b);
    },
    verify: async (impl, h, s) => expectCount(await impl.allDocs(h), s.docs),
  },
  // Not in the main table (issue 19): the same writes as 'bulk insert', each doc checked
  // against a JSON Schema first. Settee's own cost is this row against 'bulk insert'; PouchDB's
  // side runs ajv in a bulkDocs wrapper (bench/lib/impls.js).
  'bulk insert, schema-validated': {
    describe: (s) => `bulkDocs of ${s.docs} small docs in batches of ${s.batch}, each checked against a JSON Schema`,
    full: { docs: 10000, batch: 1000 },
    quick: { docs: 2000, batch: 1000 },
    needs: ['setSchema', 'validatedBulk'],
    async setup(impl, h, s) {
      await impl.setSchema(h, ITEM_SCHEMA);
      return batches(s.docs, s.batch);
    },
    async run(impl, h, s, docBatches) {
      for (const b of docBatches) await impl.validatedBulk(h, b);
    },
    verify: async (impl, h, s) => expectCount(await impl.allDocs(h), s.docs),
  },
  'sequential puts': {
    describe: (s) => `${s.docs} puts, each awaited before the next`,
    full: { docs: 1000 },
    quick: { docs: 100 },
    target: 3,
    setup: (impl, h, s) => Array.from({ length: s.docs }, (_, i) => makeDoc(i)),
    async run(impl, h, s, docs) {
      for (const doc of docs) await impl.put(h, doc);
    },
    verify: async (impl, h, s) => expectCount(await impl.allDocs(h), s.docs),
  },
  // Not in the table: what an app gets from `Promise.all(docs.map((d) => db.put(d)))`.
  'concurrent puts': {
    describe: (s) => `${s.docs} puts started together, then all awaited`,
    full: { docs: 1000 },
    quick: { docs: 100 },
    setup: (impl, h, s) => Array.from({ length: s.docs }, (_, i) => makeDoc(i)),
    async run(impl, h, s, docs) {
      await Promise.all(docs.map((doc) => impl.put(h, doc)));
    },
    verify: async (impl, h, s) => expectCount(await impl.allDocs(h), s.docs),
  },
  updates: {
    describe: (s) => `${s.docs} docs each updated ${s.rounds} times: ${s.rounds} bulkDocs of all ${s.docs} with their _rev`,
    full: { docs: 1000, rounds: 10 },
    quick: { docs: 200, rounds: 3 },
    async setup(impl, h, s) {
      const docs = Array.from({ length: s.docs }, (_, i) => makeDoc(i));
      const revs = await impl.bulk(h, docs);
      return { docs, revs };
    },
    async run(impl, h, s, ctx) {
      let { revs } = ctx;
      for (let round = 1; round <= s.rounds; round++) {
        const docs = ctx.docs.map((d, i) => ({ ...d, _rev: revs[i], round }));
        revs = await impl.bulk(h, docs);
      }
      return revs;
    },
    async verify(impl, h, s, revs) {
      // Floors keep no revisions; the databases must be at generation rounds + 1.
      if (revs.length) expect(revs.every((r) => r.startsWith(`${s.rounds + 1}-`)), `revs ${revs[0]}`);
      const doc = await impl.get(h, makeDoc(0)._id);
      expect(doc.round === s.rounds, `doc-000000 at round ${doc.round}`);
    },
  },
  'random gets': {
    describe: (s) => `${s.gets} gets of random ids (seeded), each awaited, from ${s.docs} docs`,
    full: { docs: 10000, gets: 1000 },
    quick: { docs: 2000, gets: 100 },
    target: 5,
    async setup(impl, h, s) {
      await fill(impl, h, s.docs);
      const r = rng(42);
      return Array.from({ length: s.gets }, () => makeDoc(Math.floor(r() * s.docs))._id);
    },
    async run(impl, h, s, ids) {
      let found = 0;
      for (const id of ids) if ((await impl.get(h, id))._id === id) found++;
      return found;
    },
    verify: (impl, h, s, found) => expect(found === s.gets, `${found} of ${s.gets} gets found`),
  },
  'random gets, reopened': {
    describe: (s) => `as random gets, but the database is closed and reopened after filling (no warm caches)`,
    full: { docs: 10000, gets: 1000 },
    quick: { docs: 2000, gets: 100 },
    async setup(impl, h, s) {
      const ids = await WORKLOADS['random gets'].setup(impl, h, s);
      return { handle: await impl.reopen(h), ids };
    },
    run: (impl, h, s, ctx) => WORKLOADS['random gets'].run(impl, h, s, ctx.ids),
    verify: (impl, h, s, found) => expect(found === s.gets, `${found} of ${s.gets} gets found`),
  },
  allDocs: {
    describe: (s) => `allDocs include_docs over ${s.docs} docs`,
    full: { docs: 10000 },
    quick: { docs: 2000 },
    target: 20,
    floorTarget: 3,
    setup: (impl, h, s) => fill(impl, h, s.docs),
    run: (impl, h) => impl.allDocs(h),
    verify: (impl, h, s, docs) => expect(docs.length === s.docs && docs[s.docs - 1].n !== undefined, `${docs.length} docs`),
  },
  changes: {
    describe: (s) => `changes since 0 over ${s.docs} docs`,
    full: { docs: 10000 },
    quick: { docs: 2000 },
    target: 20,
    setup: (impl, h, s) => fill(impl, h, s.docs),
    run: (impl, h) => impl.changes(h),
    verify: (impl, h, s, rows) => expect(rows.length === s.docs, `${rows.length} changes`),
  },
  // Views, Mango and replication. Floors have none of these, so their columns stay empty.
  'view build': {
    describe: (s) =>
      `a design-doc view (JS map: emit(doc.n)) over ${s.docs} docs, then ${s.queries} range queries ` +
      `of ${s.span} rows each; the first one builds the index`,
    full: { docs: 10000, queries: 100, span: 50 },
    quick: { docs: 1000, queries: 20, span: 50 },
    target: 10,
    needs: ['query'],
    async setup(impl, h, s) {
      await fill(impl, h, s.docs);
      await impl.put(h, { _id: '_design/bench', views: { byN: { map: 'function (doc) { emit(doc.n); }' } } });
      return ranges(s);
    },
    run: (impl, h, s, starts) => timedQueries(starts, (a) => impl.query(h, 'bench/byN', { startkey: a, endkey: a + s.span - 1 })),
    verify(impl, h, s, out) {
      out.results.forEach((rows, i) => {
        const a = out.starts[i];
        expect(rows.length === s.span, `query ${i}: ${rows.length} rows, expected ${s.span}`);
        expect(rows[0].key === a && rows[0].id === makeDoc(a)._id && rows[s.span - 1].key === a + s.span - 1, `query ${i}: rows ${JSON.stringify(rows[0])}…`);
      });
    },
    metrics: (out) => ({ firstQueryMs: out.firstMs }),
  },
  find: {
    describe: (s) =>
      `createIndex on n, then ${s.queries} finds of ${s.span} docs each ({n: {$gte, $lt}}) over ${s.docs} docs ` +
      `(PouchDB builds the index in createIndex, Settee may in the first find)`,
    full: { docs: 10000, queries: 100, span: 50 },
    quick: { docs: 1000, queries: 20, span: 50 },
    target: 10,
    needs: ['find'],
    async setup(impl, h, s) {
      await fill(impl, h, s.docs);
      return ranges(s);
    },
    async run(impl, h, s, starts) {
      // PouchDB builds the index inside createIndex, Settee maybe on the first find: either way
      // the build is inside the first query's time. `limit`: find's default is 25, as in CouchDB.
      const t0 = performance.now();
      await impl.createIndex(h, ['n']);
      const out = await timedQueries(starts, (a) => impl.find(h, { selector: { n: { $gte: a, $lt: a + s.span } }, limit: s.span }));
      out.firstMs += out.t0 - t0; // createIndex + the first find
      return out;
    },
    verify(impl, h, s, out) {
      out.results.forEach((res, i) => {
        const a = out.starts[i];
        expect(!res.warning, `query ${i} used no index: ${res.warning}`);
        const ns = res.docs.map((d) => d.n).sort((x, y) => x - y);
        expect(ns.length === s.span && ns[0] === a && ns[s.span - 1] === a + s.span - 1, `query ${i}: ${ns.length} docs from n=${ns[0]}`);
      });
    },
    metrics: (out) => ({ indexAndFirstFindMs: out.firstMs }),
  },
  pull: {
    describe: (s) => `one-way replication of ${s.docs} docs from pouchdb-server on 127.0.0.1 into an empty database`,
    full: { docs: 10000 },
    quick: { docs: 500 },
    target: 10,
    needs: ['pull'],
    remote: 'seeded',
    serverShare: 'pull',
    sampleHeap: true,
    run: (impl, h, s) => impl.pull(h, s.remote),
    async verify(impl, h, s, result) {
      expect(result.ok && result.docs_written === s.docs, `pull wrote ${result.docs_written} of ${s.docs} docs`);
      const count = await impl.docCount(h);
      expect(count === s.docs, `${count} docs after the pull, expected ${s.docs}`);
      for (const i of [0, s.docs >> 1, s.docs - 1]) {
        const doc = await impl.get(h, makeDoc(i)._id);
        expect(doc.name === makeDoc(i).name && doc._rev.startsWith('1-'), `doc ${i} after the pull: ${JSON.stringify(doc)}`);
      }
    },
  },
  push: {
    describe: (s) => `one-way replication of ${s.docs} docs into a fresh, empty pouchdb-server database`,
    full: { docs: 10000 },
    quick: { docs: 500 },
    target: 5,
    needs: ['push'],
    remote: 'empty',
    serverShare: 'push',
    setup: (impl, h, s) => fill(impl, h, s.docs),
    run: (impl, h, s) => impl.push(h, s.remote),
    async verify(impl, h, s, result) {
      expect(result.ok && result.docs_written === s.docs, `push wrote ${result.docs_written} of ${s.docs} docs`);
      const info = await (await fetch(s.remote)).json();
      expect(info.doc_count === s.docs, `the server db has ${info.doc_count} docs, expected ${s.docs}`);
    },
  },
  'no-op sync': {
    describe: (s) =>
      `sync (both ways) of a ${s.docs}-doc database with a server database already in sync with it ` +
      `(two syncs before, untimed)`,
    full: { docs: 1000 },
    quick: { docs: 100 },
    needs: ['sync'],
    remote: 'empty',
    async setup(impl, h, s) {
      await fill(impl, h, s.docs);
      // The first sync's pull may read its feed before the pushed docs reach it; the second
      // brings both checkpoints up to date.
      await impl.sync(h, s.remote);
      await impl.sync(h, s.remote);
    },
    run: (impl, h, s) => impl.sync(h, s.remote),
    async verify(impl, h, s, r) {
      const written = r.push.docs_written + r.pull.docs_written;
      expect(r.ok !== false && written === 0, `the no-op sync wrote ${written} docs`);
      expect((await impl.docCount(h)) === s.docs, 'local doc count');
      const info = await (await fetch(s.remote)).json();
      expect(info.doc_count === s.docs, `the server db has ${info.doc_count} docs, expected ${s.docs}`);
    },
    // Not checked: a replicator may re-read changes it already knows (no docs written).
    metrics: (r) => ({ docsRead: r.push.docs_read + r.pull.docs_read }),
  },
};
