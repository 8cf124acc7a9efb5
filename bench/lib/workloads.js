// The workloads. Adding one is one entry here: a description, its sizes (full and --quick), an
// untimed `setup` on the fresh database, the timed `run`, and an untimed `verify` of what run returned
// (so a broken implementation fails loudly instead of looking fast).
//
//   setup(impl, h, size) -> ctx      not timed; a ctx.handle replaces h (after a reopen)
//   run(impl, h, size, ctx) -> out   timed
//   verify(impl, h, size, out)       not timed; throws if run's result or the data is wrong
//
// `target` is the goal as a PouchDB/Settee ratio; `floorTarget` as Settee/chunked-floor.

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
function rng(seed) {
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
};
