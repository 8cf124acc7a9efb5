// `run.mjs --probe`: micro-measurements that put numbers on the parts of Settee's costs that a
// CPU profile blurs: the JSON text crossings, and how IndexedDB's cost depends on record size.
// Each figure is the median of 5 repetitions, in ms.
import { makeDoc } from './workloads.js';

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
async function time(fn, reps = 5) {
  const out = [];
  for (let i = 0; i < reps + 1; i++) {
    const t0 = performance.now();
    await fn();
    if (i) out.push(performance.now() - t0);
  }
  return +median(out).toFixed(2);
}

const req = (r) => new Promise((ok, fail) => ((r.onsuccess = () => ok(r.result)), (r.onerror = () => fail(r.error))));
const done = (tx) => new Promise((ok, fail) => ((tx.oncomplete = ok), (tx.onerror = tx.onabort = () => fail(tx.error))));

export async function probes() {
  const out = {};
  const docs = Array.from({ length: 10000 }, (_, i) => makeDoc(i));
  const batches = Array.from({ length: 10 }, (_, b) => docs.slice(b * 1000, b * 1000 + 1000));
  const enc = new TextEncoder();
  const dec = new TextDecoder();

  // The way in (bulkDocs): JSON.stringify in JS, then wasm-bindgen copies the string into wasm
  // memory as UTF-8 (TextEncoder.encodeInto).
  out['JSON.stringify 10 x 1,000 docs'] = await time(() => batches.forEach((b) => JSON.stringify(b)));
  const texts = batches.map((b) => JSON.stringify(b));
  out['bytes of JSON, 10,000 docs'] = texts.reduce((a, t) => a + t.length, 0);
  out['TextEncoder 10 x 1,000 docs of JSON'] = await time(() => texts.forEach((t) => enc.encode(t)));

  // The way out (allDocs include_docs): wasm hands over UTF-8, decoded into a JS string, then
  // JSON.parse. Measured on the same shape Settee returns.
  const allDocs = {
    total_rows: 10000,
    offset: 0,
    rows: docs.map((d) => ({ id: d._id, key: d._id, value: { rev: '1-0123456789abcdef0123456789abcdef' }, doc: { ...d, _rev: '1-0123456789abcdef0123456789abcdef' } })),
  };
  const allText = JSON.stringify(allDocs);
  const allBytes = enc.encode(allText);
  out['bytes of allDocs include_docs JSON, 10,000 docs'] = allBytes.length;
  out['TextDecoder allDocs response'] = await time(() => dec.decode(allBytes));
  out['JSON.parse allDocs response'] = await time(() => JSON.parse(allText));
  out['structuredClone of the parsed allDocs response (what a JS engine would copy)'] = await time(() => structuredClone(allDocs));

  // IndexedDB: 2.56 MB written in one transaction as records of various sizes (Uint8Array, as
  // Settee's LSM chunks), then read back with one getAll. Chromium stores values above a size
  // threshold out of line (as blobs), so record size matters.
  const total = 2_560_000;
  const name = `probe-${Date.now()}`;
  const open = indexedDB.open(name, 1);
  open.onupgradeneeded = () => open.result.createObjectStore('r');
  const db = await req(open);
  for (const size of [16_000, 32_000, 60_000, 64_000, 70_000, 128_000, 256_000, 1_024_000]) {
    const bytes = new Uint8Array(size).map((_, i) => (i * 31) & 255);
    const n = Math.ceil(total / size);
    const write = await time(async () => {
      const tx = db.transaction('r', 'readwrite');
      const st = tx.objectStore('r');
      st.clear();
      for (let i = 0; i < n; i++) st.put(bytes, i);
      await done(tx);
    });
    const read = await time(async () => {
      const tx = db.transaction('r');
      await req(tx.objectStore('r').getAll());
    });
    const readEach = await time(async () => {
      const tx = db.transaction('r');
      const st = tx.objectStore('r');
      await Promise.all(Array.from({ length: n }, (_, i) => req(st.get(i))));
    });
    out[`IndexedDB 2.56 MB as ${n} records of ${size / 1000} kB: write+commit / getAll / ${n} gets`] = [write, read, readEach];
  }
  // One small transaction: the commit latency floor that bounds sequential puts.
  const small = new Uint8Array(300);
  out['IndexedDB one 300-byte put + commit, per transaction (of 200)'] = +(
    (await time(async () => {
      for (let i = 0; i < 200; i++) {
        const tx = db.transaction('r', 'readwrite');
        tx.objectStore('r').put(small, `s${i}`);
        await done(tx);
      }
    }, 3)) / 200
  ).toFixed(3);
  out['IndexedDB get + 2 puts + commit (Settee commit shape), per transaction (of 200)'] = +(
    (await time(async () => {
      for (let i = 0; i < 200; i++) {
        const tx = db.transaction('r', 'readwrite');
        const st = tx.objectStore('r');
        st.get('manifest');
        st.put(small, `c${i}`);
        st.put(small, 'manifest');
        await done(tx);
      }
    }, 3)) / 200
  ).toFixed(3);
  const bc = new BroadcastChannel(`probe-${name}`);
  out['BroadcastChannel.postMessage, per call (of 1,000)'] = +((await time(() => {
    for (let i = 0; i < 1000; i++) bc.postMessage({ v: i });
  })) / 1000).toFixed(4);
  bc.close();
  db.close();
  await req(indexedDB.deleteDatabase(name));
  return out;
}
