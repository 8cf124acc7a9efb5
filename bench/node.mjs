#!/usr/bin/env node
// Settee in Node.js (its disk store, `fs`) against PouchDB 9 on leveldb, in one process and
// one run, plus the floor a durable put cannot beat: write a file, fdatasync it, rename it.
//
//   node bench/node.mjs [--docs 10000] [--runs 3]     (after bash scripts/build.sh)
//
// Each workload runs `--runs` times on each database; the median is reported, with the ratio
// PouchDB / Settee (above 1: Settee is faster). Disk bytes are counted after the load, before
// any compaction is asked for. Pull and push go to a pouchdb-server on 127.0.0.1 started for
// the run (bench/lib/couch.mjs). Prints a Markdown table; bench/results/node.json keeps the rows.
import { mkdtempSync, rmSync, readdirSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { loadavg, tmpdir, cpus } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import { BenchCouch } from './lib/couch.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const N = arg('--docs', 10_000);
const RUNS = arg('--runs', 3);
const SEQ = 200;
const GETS = 1000;

const { Settee } = await import(pathToFileURL(join(root, 'pkg/node.js')).href);
const require = createRequire(join(root, 'package.json'));
const PouchDB = require('pouchdb');
PouchDB.plugin(require('pouchdb-find'));

const work = mkdtempSync(join(tmpdir(), 'settee-node-bench-'));
const doc = (i) => ({ _id: `doc${String(i).padStart(7, '0')}`, n: i, name: `name ${i}`, tags: ['a', 'b', String(i % 10)], nested: { x: i % 100, y: 'y'.repeat(40) } });
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const now = () => performance.now();
const du = (dir) => readdirSync(dir, { withFileTypes: true }).reduce((n, e) => n + (e.isDirectory() ? du(join(dir, e.name)) : statSync(join(dir, e.name)).size), 0);

const impls = {
  settee: (name) => new Settee(name, { prefix: work + '/settee-' }),
  pouchdb: (name) => new PouchDB(join(work, 'pouch-' + name)),
};

async function fill(db) {
  for (let b = 0; b < N; b += 1000) await db.bulkDocs(Array.from({ length: Math.min(1000, N - b) }, (_, i) => doc(b + i)));
}

// pouchdb-server for pull and push (the server the browser bench uses).
const couch = await BenchCouch.start(root);
const PULL = Math.min(N, 10_000);

const rows = {};
const record = (workload, impl, ms) => ((rows[workload] ??= {})[impl] ??= []).push(ms);

for (let run = 0; run < RUNS; run++) {
  for (const [impl, make] of Object.entries(impls)) {
    const name = `r${run}`;
    const db = make(name);
    let t = now();
    await fill(db);
    record(`bulk insert ${N} (batches of 1,000)`, impl, now() - t);
    t = now();
    const all = await db.allDocs({ include_docs: true });
    if (all.rows.length !== N) throw new Error(`${impl}: allDocs gave ${all.rows.length}`);
    record(`allDocs include_docs (${N})`, impl, now() - t);
    t = now();
    const ch = await db.changes({ since: 0, limit: N + 10 });
    if (ch.results.length !== N) throw new Error(`${impl}: changes gave ${ch.results.length}`);
    record(`changes since 0 (${N})`, impl, now() - t);
    t = now();
    for (let i = 0; i < GETS; i++) await db.get(doc((i * 7919) % N)._id);
    record(`${GETS} random gets`, impl, now() - t);
    t = now();
    for (let i = 0; i < SEQ; i++) await db.put({ _id: `seq${i}`, i });
    record(`${SEQ} sequential awaited puts`, impl, now() - t);
    t = now();
    const q = await db.query((d, emit) => emit(d.n), { limit: 10 });
    if (q.rows.length !== 10) throw new Error(`${impl}: view gave ${q.rows.length}`);
    record(`view build (${N}, temporary map)`, impl, now() - t);
    t = now();
    await db.createIndex({ index: { fields: ['n'] } });
    const f = await db.find({ selector: { n: { $gte: N - 100 } }, limit: 100 });
    if (f.docs.length !== 100) throw new Error(`${impl}: find gave ${f.docs.length}`);
    record(`find with index (build + query)`, impl, now() - t);
    const source = await couch.createDb(`src-${impl}-${run}`);
    for (let b = 0; b < PULL; b += 1000) {
      await couch.request('POST', `/src-${impl}-${run}/_bulk_docs`, { docs: Array.from({ length: Math.min(1000, PULL - b) }, (_, i) => doc(b + i + N)) });
    }
    t = now();
    const pulled = await db.replicate.from(source);
    if (pulled.docs_written !== PULL) throw new Error(`${impl}: pull wrote ${pulled.docs_written}`);
    record(`pull ${PULL} from pouchdb-server`, impl, now() - t);
    const target = await couch.createDb(`push-${impl}-${run}`);
    t = now();
    const pushed = await db.replicate.to(target);
    if (pushed.docs_written < N + PULL + SEQ) throw new Error(`${impl}: push wrote ${pushed.docs_written}`);
    record(`push all (${N + PULL + SEQ} docs + the index) to pouchdb-server`, impl, now() - t);
    await db.close();
    if (run === 0) record('disk bytes after the run', impl, du(impl === 'settee' ? join(work, 'settee-' + name) : join(work, 'pouch-' + name)));
  }
  // The floor of a durable put: write, fdatasync, rename over, fsync the directory.
  const floorDir = join(work, `floor${run}`);
  mkdirSync(floorDir);
  const t = now();
  for (let i = 0; i < SEQ; i++) {
    const f = await open(join(floorDir, 'x.tmp'), 'w');
    await f.writeFile(JSON.stringify({ _id: `seq${i}`, i }));
    await f.datasync();
    await f.close();
    await rename(join(floorDir, 'x.tmp'), join(floorDir, 'x'));
    const d = await open(floorDir, 'r');
    await d.sync();
    await d.close();
  }
  record(`${SEQ} sequential awaited puts`, 'floor', now() - t);
}

const fmt = (v, bytes) => (bytes ? `${(v / 1024 / 1024).toFixed(1)} MB` : `${v.toFixed(1)} ms`);
const lines = [
  `Node ${process.version}, ${cpus().length} cores, load ${loadavg().map((l) => l.toFixed(2)).join(' ')} at the end; ${N} docs; median of ${RUNS} runs`,
  '',
  '| workload | Settee (fs) | PouchDB 9 (leveldb) | PouchDB / Settee | floor |',
  '|---|--:|--:|--:|--:|',
];
for (const [w, r] of Object.entries(rows)) {
  const bytes = w.startsWith('disk');
  const s = median(r.settee);
  const p = median(r.pouchdb);
  const floor = r.floor ? `${fmt(median(r.floor))} (Settee ${(s / median(r.floor)).toFixed(2)}×)` : '';
  lines.push(`| ${w} | ${fmt(s, bytes)} | ${fmt(p, bytes)} | ${(p / s).toFixed(1)}× | ${floor} |`);
}
console.log(lines.join('\n'));
mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(join(root, `bench/results/node-${N}.json`), JSON.stringify({ docs: N, runs: RUNS, load: loadavg(), rows }, null, 2));
rmSync(work, { recursive: true, force: true });
await couch.stop();
