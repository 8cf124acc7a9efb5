// The page side of the scale bench (bench/scale.mjs): Settee alone on one database of `docs`
// docs, the workloads of issue 22's size goals, each call timed on its own so that the
// figures are percentiles, not just totals.
//
//   fill        bulkDocs of makeDoc(0..docs-1) in batches of 1,000: µs per doc over the whole
//               fill, in the median batch, and over its last tenth (the marginal cost at size)
//   gets        `gets` awaited gets of seeded random ids, warm (right after the fill)
//   page        `pages` allDocs({startkey: random id, limit: 100, include_docs: true})
//   changes     `pages` changes({since: update_seq - 100}) (a client catching up)
//   puts        100 puts of new docs, each awaited (each commit rewrites the manifest, which
//               lists every chunk: its size grows with the database)
//   reopened    close, open again, then `gets` gets (nothing cached)
//
// With `warmupDocs`, a throwaway database of that many docs is filled first, untimed. With
// `scattered`, doc i gets a hashed id (`doc-` and 8 hex digits, like a uuid's spread) instead of
// `doc-00000i`, so every batch overlaps every earlier one and merges rewrite instead of keeping.
//
// Wasm memory (`memory.buffer.byteLength`, which never shrinks) is read after each step.
// `performance.now()` has 0.1 ms resolution in a page that is not cross-origin isolated, so a
// p50 of 0 means under 0.1 ms.
import { makeDoc, rng } from './workloads.js';

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

/** p50/p99/max/mean of per-call times (ms). */
function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  const r = (x) => +x.toFixed(3);
  return { n: s.length, p50: r(at(0.5)), p99: r(at(0.99)), max: r(s[s.length - 1]), mean: r(s.reduce((a, b) => a + b, 0) / s.length) };
}

async function timeEach(n, call) {
  const ms = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await call(i);
    ms.push(performance.now() - t0);
  }
  return stats(ms);
}

const wasmMB = () => +(window.setteeWasm.memory.buffer.byteLength / 1e6).toFixed(1);

/** Fills a throwaway database untimed, so that the measured run finds the code warm. */
async function warmUp(docs) {
  const db = new window.settee.Settee(`scale-warmup-${Date.now().toString(36)}`, { adapter: 'idb' });
  try {
    for (let i = 0; i < docs; i += 1000) {
      const batch = [];
      for (let j = i; j < Math.min(docs, i + 1000); j++) batch.push(makeDoc(j));
      await db.bulkDocs(batch);
    }
    for (let i = 0; i < 1000; i++) await db.get(makeDoc(i % docs)._id);
    await db.allDocs({ limit: 100, include_docs: true });
  } finally {
    await db.destroy();
  }
}

/** The bench's doc i, with a scattered id when asked (a bijection: ids stay distinct). */
function docAt(i, scattered) {
  const doc = makeDoc(i);
  if (scattered) doc._id = `doc-${(Math.imul(i, 0x9e3779b1) >>> 0).toString(16).padStart(8, '0')}`;
  return doc;
}

export async function scaleRun({ docs, gets = 1000, pages = 100, warmupDocs = 0, scattered = false, log = () => {} }) {
  if (warmupDocs) await warmUp(warmupDocs);
  const makeDoc = (i) => docAt(i, scattered);
  const { Settee } = window.settee;
  const name = `scale-${docs}-${Date.now().toString(36)}`;
  const open = async () => {
    const db = new Settee(name, { adapter: 'idb' });
    await db.info();
    return db;
  };
  let db = await open();
  const out = { docs, scattered, wasmMB: { atStart: wasmMB() } };
  try {
    const batchMs = [];
    const t0 = performance.now();
    for (let i = 0; i < docs; i += 1000) {
      const batch = [];
      for (let j = i; j < Math.min(docs, i + 1000); j++) batch.push(makeDoc(j));
      const b0 = performance.now();
      const res = await db.bulkDocs(batch);
      batchMs.push(performance.now() - b0);
      check(res.every((r) => r.ok), `batch at ${i}`);
      if (batchMs.length % 100 === 0) await log(`fill: ${i + batch.length} docs, ${((performance.now() - t0) / 1000).toFixed(1)} s, wasm ${wasmMB()} MB`);
    }
    const fillMs = batchMs.reduce((a, b) => a + b, 0);
    const tail = batchMs.slice(Math.floor(batchMs.length * 0.9));
    const tailDocs = Math.min(docs, tail.length * 1000);
    out.fill = {
      ms: +fillMs.toFixed(1),
      usPerDoc: +((fillMs * 1000) / docs).toFixed(2),
      // The median batch: robust to the first batches' warm-up and to bursts of load.
      medianBatchUsPerDoc: +((stats(batchMs).p50 * 1000) / Math.min(docs, 1000)).toFixed(2),
      lastTenthUsPerDoc: +((tail.reduce((a, b) => a + b, 0) * 1000) / tailDocs).toFixed(2),
      batch: stats(batchMs),
    };
    out.wasmMB.afterFill = wasmMB();
    await log(`fill done: ${out.fill.usPerDoc} µs/doc`);

    const r = rng(42);
    const ids = Array.from({ length: gets }, () => makeDoc(Math.floor(r() * docs))._id);
    out.gets = await timeEach(gets, async (i) => check((await db.get(ids[i]))._id === ids[i], `get ${ids[i]}`));
    out.wasmMB.afterGets = wasmMB();

    const p = rng(7);
    const starts = Array.from({ length: pages }, () => makeDoc(Math.floor(p() * (docs - 100)))._id);
    out.page = await timeEach(pages, async (i) => {
      const res = await db.allDocs({ startkey: starts[i], limit: 100, include_docs: true });
      // Scattered ids: a start near the end of key order has fewer than 100 docs after it.
      const full = scattered ? res.rows.length > 0 : res.rows.length === 100;
      check(full && res.rows[0].id === starts[i] && res.rows.at(-1).doc, `page from ${starts[i]}`);
    });
    out.wasmMB.afterPages = wasmMB();

    const seq = (await db.info()).update_seq;
    check(typeof seq === 'number', `update_seq ${seq}`);
    out.changes = await timeEach(pages, async () => {
      const res = await db.changes({ since: seq - 100 });
      check(res.results.length === 100, `${res.results.length} changes since ${seq - 100}`);
    });
    out.wasmMB.afterChanges = wasmMB();

    out.puts = await timeEach(100, async (i) => {
      const res = await db.put({ ...makeDoc(docs + i), _id: `put-${String(i).padStart(4, '0')}` });
      check(res.ok, `put ${i}`);
    });
    out.wasmMB.afterPuts = wasmMB();

    await db.close();
    db = await open();
    out.reopenedGets = await timeEach(gets, async (i) => check((await db.get(ids[i]))._id === ids[i], `get ${ids[i]}`));
    out.wasmMB.afterReopenedGets = wasmMB();
    return out;
  } finally {
    await db.destroy();
  }
}
