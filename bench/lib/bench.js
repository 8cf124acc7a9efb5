// The page side of the bench: run.mjs calls `bench.runOnce(workload, impl, mode)` once per
// timed run. Every run gets a fresh database, destroyed afterwards.
import { IMPLS } from './impls.js';
import { WORKLOADS } from './workloads.js';
import { probes } from './probes.js';

let counter = 0;

/**
 * Counts IndexedDB requests and transactions while enabled (for --profile; off when timing):
 * calls per method, bytes handed to put, and the wall time from each transaction's creation to
 * its `complete` event (by mode), which is the time the caller waits on IndexedDB.
 */
const idbStats = { on: false, counts: {} };
function countIdb() {
  const bump = (k, n = 1) => (idbStats.counts[k] = +((idbStats.counts[k] ?? 0) + n).toFixed(3));
  const wrap = (proto, names, prefix, after) => {
    for (const name of names) {
      const orig = proto[name];
      if (typeof orig !== 'function') continue;
      proto[name] = function (...args) {
        const result = orig.apply(this, args);
        if (idbStats.on) {
          bump(prefix + name);
          after?.(name, args, result);
        }
        return result;
      };
    }
  };
  wrap(IDBObjectStore.prototype, ['put', 'add', 'get', 'getAll', 'getAllKeys', 'delete', 'openCursor', 'openKeyCursor', 'count'], 'store.', (name, args) => {
    if (name !== 'put' && name !== 'add') return;
    const v = args[0];
    bump('bytes put', typeof v === 'string' ? v.length * 2 : (v?.byteLength ?? 0));
  });
  wrap(IDBIndex.prototype, ['get', 'getAll', 'getAllKeys', 'openCursor', 'openKeyCursor', 'count'], 'index.');
  wrap(IDBCursor.prototype, ['continue', 'advance'], 'cursor.');
  wrap(IDBDatabase.prototype, ['transaction'], 'db.', (name, args, tx) => {
    const t0 = performance.now();
    const mode = tx.mode;
    bump(`tx ${mode}`);
    tx.addEventListener('complete', () => bump(`tx ${mode} ms (creation to complete)`, performance.now() - t0));
    tx.addEventListener('abort', () => bump(`tx ${mode} aborted`));
  });
}
countIdb();

/**
 * Peak JS heap while a workload runs: performance.memory.usedJSHeapSize (exact only with
 * Chromium's --enable-precise-memory-info, which run.mjs passes), read when sampling starts,
 * from a 2 ms interval timer (Chromium stretches repeating timers to 4 ms) and when it stops.
 * A timer runs only between tasks, so a peak inside one long task is missed: the figure is a
 * lower bound. The driver collects garbage right before (benchHook 'start'), so `baseline` is
 * the live heap. Wasm linear memory is not JS heap (an ArrayBuffer's backing store lives
 * outside it): its size is read apart, before and after.
 */
function heapSampler() {
  const used = () => performance.memory.usedJSHeapSize;
  const wasmBytes = () => window.setteeWasm?.memory.buffer.byteLength ?? null;
  const baseline = used();
  const wasmBefore = wasmBytes();
  let peak = baseline;
  let samples = 1;
  const timer = setInterval(() => {
    peak = Math.max(peak, used());
    samples++;
  }, 2);
  return {
    stop() {
      clearInterval(timer);
      peak = Math.max(peak, used());
      return { baseline, peak, samples: samples + 1, wasmBefore, wasmAfter: wasmBytes() };
    },
  };
}

/** A workload's size in `mode`: `full`, `quick`, or `full@N` (the full size with N docs). */
function sizeOf(w, mode) {
  const [base, docs] = mode.split('@');
  return docs && w[base].docs !== undefined ? { ...w[base], docs: Number(docs) } : w[base];
}

export const bench = {
  probes,

  /** Workloads and implementations with their sizes, for the driver. */
  list(mode) {
    return {
      impls: Object.fromEntries(Object.entries(IMPLS).map(([k, v]) => [k, v.label])),
      extra: Object.keys(IMPLS).filter((k) => IMPLS[k].extra),
      workloads: Object.fromEntries(
        Object.entries(WORKLOADS).map(([k, w]) => [
          k,
          {
            size: sizeOf(w, mode),
            describe: w.describe(sizeOf(w, mode)),
            target: w.target ?? null,
            floorTarget: w.floorTarget ?? null,
            remote: w.remote ?? null,
            sampleHeap: !!w.sampleHeap,
            serverShare: w.serverShare ?? null,
            impls: Object.keys(IMPLS).filter((i) => (w.needs ?? []).every((m) => typeof IMPLS[i][m] === 'function')),
          },
        ]),
      ),
    };
  },

  /**
   * One timed run on a fresh database. Returns {ms} (plus {idb} request counts when
   * `countRequests`, {metrics} when the workload has some, {heap} when it samples the heap).
   * With `hooks`, window.benchHook('start' | 'stop') is awaited right before and after the timed
   * part (the driver uses it for a CPU profile, to count HTTP requests, and to collect garbage
   * before a heap baseline). `remote` is the server database URL of a workload with `remote`.
   */
  async runOnce(workload, impl, mode, { countRequests = false, hooks = false, remote } = {}) {
    const w = WORKLOADS[workload];
    const im = IMPLS[impl];
    const size = remote ? { ...sizeOf(w, mode), remote } : sizeOf(w, mode);
    const name = `bench-${workload.replace(/\W+/g, '_')}-${impl}-${Date.now().toString(36)}-${++counter}`;
    let h = await im.open(name);
    try {
      const ctx = w.setup ? await w.setup(im, h, size) : undefined;
      if (ctx?.handle) h = ctx.handle;
      if (hooks) await window.benchHook('start');
      const heap = w.sampleHeap ? heapSampler() : null;
      idbStats.counts = {};
      idbStats.on = countRequests;
      const t0 = performance.now();
      const out = await w.run(im, h, size, ctx);
      const ms = performance.now() - t0;
      idbStats.on = false;
      const heapStats = heap?.stop();
      if (hooks) await window.benchHook('stop');
      if (w.verify) await w.verify(im, h, size, out);
      const result = { ms };
      if (countRequests) result.idb = idbStats.counts;
      if (w.metrics) result.metrics = w.metrics(out);
      if (heapStats) result.heap = heapStats;
      // Wasm memory after the run (it never shrinks: the high-water mark so far in this page).
      result.wasmBytes = window.setteeWasm?.memory.buffer.byteLength ?? null;
      return result;
    } finally {
      await im.destroy(h);
    }
  },
};
