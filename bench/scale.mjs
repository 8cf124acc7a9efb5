#!/usr/bin/env node
// The scale bench (issue 22): Settee alone in Debian's headless Chromium, at 10,000 docs and
// at 1,000,000, one fresh IndexedDB database per size (bench/lib/scale.js has the workloads).
// No PouchDB: filling it with a million docs would take the better part of an hour here.
//
//   node bench/scale.mjs [--sizes 10000,1000000] [--gets 1000] [--pages 100] [--timeout-min 45]
//                        [--warmup-docs 10000] [--scattered]
//   --scattered: hashed ids (like uuids) instead of ids in key order, so merges rewrite
//   (normally through `bash scripts/bench.sh --scale`, which builds pkg/ first)
//
// Prints a table and writes bench/results/scale.json, with the machine's load average at the
// start and the end (the machine is shared: figures taken under load say so there). Each size
// runs in a page of its own, so the wasm memory figures of one size are not the other's.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serve } from '../scripts/serve.mjs';
import { ARGS, CHROMIUM } from '../tests/js/engines/chromium.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const argv = process.argv.slice(2);
const value = (name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt);
const sizes = value('--sizes', '10000,1000000').split(',').map(Number);
const gets = Number(value('--gets', 1000));
const pages = Number(value('--pages', 100));
const timeoutMs = Number(value('--timeout-min', 45)) * 60_000;
// An untimed fill first in each page (bench/lib/scale.js): a new page's wasm starts in V8's
// baseline tier, and the first 10,000 docs of a page cost ~2-3x the per-doc time of later ones,
// which would flatter every larger size compared with 10,000.
const warmupDocs = Number(value('--warmup-docs', 10000));
const scattered = argv.includes('--scattered');
const load = () => loadavg().map((x) => +x.toFixed(2));
const started = Date.now();
const loadAtStart = load();

// The bench page also loads PouchDB's builds (unused here; served so that they load quietly).
const { server, url } = await serve({ '/': here, '/pkg/': join(root, 'pkg'), '/pouchdb/': join(here, 'node_modules/pouchdb/dist') });
const profileDir = mkdtempSync(join(tmpdir(), 'settee-scale-'));
const context = await chromium.launchPersistentContext(profileDir, { executablePath: CHROMIUM, headless: true, args: ARGS });
const results = [];
let failed = false;
try {
  for (const docs of sizes) {
    const page = await context.newPage();
    page.on('pageerror', (err) => console.error(`[page error] ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error' || msg.type() === 'warning') console.error(`[page ${msg.type()}] ${msg.text()}`);
    });
    await page.exposeFunction('scaleLog', (line) => console.log(`  ${docs}: ${line}`));
    await page.goto(url + '/');
    await page.waitForFunction(() => window.ready === true, null, { timeout: 60_000 });
    const left = timeoutMs - (Date.now() - started);
    if (left <= 0) throw new Error(`--timeout-min reached before the ${docs}-doc run`);
    const t0 = Date.now();
    const run = page.evaluate(
      async (o) => (await import('/lib/scale.js')).scaleRun({ ...o, log: window.scaleLog }),
      { docs, gets, pages, warmupDocs, scattered },
    );
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the ${docs}-doc run passed --timeout-min`)), left);
    });
    const r = await Promise.race([run, timeout]).finally(() => clearTimeout(timer));
    r.seconds = Math.round((Date.now() - t0) / 1000);
    r.loadAfter = load();
    await page.close();
    results.push(r);
    console.log(`${docs} docs (${r.seconds} s, load ${r.loadAfter.join(' ')}): ${JSON.stringify(r)}`);
  }
} catch (e) {
  failed = true;
  console.error(`scale bench: ${e.message}`);
} finally {
  await context.close().catch(() => {});
  server.close();
  rmSync(profileDir, { recursive: true, force: true });
}

const report = {
  date: new Date().toISOString(),
  machine: { cpu: cpus()[0]?.model, cores: cpus().length, loadavgAtStart: loadAtStart, loadavgAtEnd: load() },
  gets,
  pages,
  results,
};
mkdirSync(join(here, 'results'), { recursive: true });
const file = scattered ? 'results/scale-scattered.json' : 'results/scale.json';
writeFileSync(join(here, file), JSON.stringify(report, null, 2) + '\n');

const f = (x) => (x == null ? '–' : String(x));
const rows = [
  ['bulk insert, µs/doc (whole fill)', (r) => r.fill?.usPerDoc],
  ['bulk insert, µs/doc (median batch)', (r) => r.fill?.medianBatchUsPerDoc],
  ['bulk insert, µs/doc (last tenth)', (r) => r.fill?.lastTenthUsPerDoc],
  ['batch of 1,000, p99 ms', (r) => r.fill?.batch.p99],
  ['get (warm), p50 / p99 ms', (r) => r.gets && `${r.gets.p50} / ${r.gets.p99}`],
  ['get (reopened), p50 / p99 ms', (r) => r.reopenedGets && `${r.reopenedGets.p50} / ${r.reopenedGets.p99}`],
  ['allDocs page of 100, p50 / p99 ms', (r) => r.page && `${r.page.p50} / ${r.page.p99}`],
  ['changes since seq − 100, p50 / p99 ms', (r) => r.changes && `${r.changes.p50} / ${r.changes.p99}`],
  ['awaited put of a new doc, p50 / p99 ms', (r) => r.puts && `${r.puts.p50} / ${r.puts.p99}`],
  ['wasm memory, highest after a step, MB', (r) => Math.max(...Object.values(r.wasmMB))],
];
console.log(`\n| Settee${scattered ? ', scattered ids' : ''} (load ${loadAtStart.join(' ')} → ${load().join(' ')}) | ${results.map((r) => `${r.docs.toLocaleString('en')} docs`).join(' | ')} |`);
console.log(`|---|${results.map(() => '--:').join('|')}|`);
for (const [label, get] of rows) console.log(`| ${label} | ${results.map((r) => f(get(r))).join(' | ')} |`);
console.log(`\nwrote bench/${file}`);
process.exit(failed ? 1 : 0);
