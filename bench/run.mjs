#!/usr/bin/env node
// Runs the benchmarks in Debian's headless Chromium (playwright-core, no downloaded browser).
// Normally started by scripts/bench.sh, which builds pkg/ and installs bench/node_modules.
//
//   node bench/run.mjs            warm-up + 5 timed runs per workload and implementation, the
//                                 median; writes bench/results/latest.json and BENCHMARKS.md
//   node bench/run.mjs --quick    smoke: small sizes, 1 warm-up + 1 run; writes
//                                 bench/results/quick.json only (BENCHMARKS.md keeps real numbers)
//   --runs N --warmup N           override the counts (fewer than 5 runs, or a subset, writes
//                                 bench/results/partial.json and leaves BENCHMARKS.md alone)
//   --workloads a,b --impls x,y   a subset (names as in results; substring match)
//   --pkg DIR                     serve another build of the package at /pkg/
//   --profile                     no table: profile Settee (CPU profile via CDP, IndexedDB
//                                 request counts, JS<->wasm call counts) on the chosen workloads;
//                                 writes bench/results/profiles/
//   --probe                       micro-measurements: JSON text crossings, IndexedDB cost by
//                                 record size, commit latency (bench/lib/probes.js)
//   --impls settee-memory         also Settee on its memory adapter (not in the default set)
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync, brotliCompressSync, constants as zc } from 'node:zlib';
import { createHash } from 'node:crypto';
import { chromium } from 'playwright-core';
import { serve } from '../scripts/serve.mjs';
import { renderMarkdown, writeBenchmarksMd } from './lib/report.mjs';
import { profileWorkloads } from './lib/profile.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');

// --- options --------------------------------------------------------------------------------
const argv = process.argv.slice(2);
const flag = (name) => argv.includes(name);
const value = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const quick = flag('--quick');
const mode = quick ? 'quick' : 'full';
const runs = Number(value('--runs', quick ? 1 : 5));
const warmup = Number(value('--warmup', 1));
// A comma-separated filter: each term picks the name equal to it, else every name containing it.
const pick = (list, filter) => {
  if (!filter) return list;
  const terms = filter.split(',').map((t) => t.trim().toLowerCase());
  return list.filter((n) =>
    terms.some((t) => (list.some((m) => m.toLowerCase() === t) ? n.toLowerCase() === t : n.toLowerCase().includes(t))),
  );
};
const pkgDir = resolve(value('--pkg', join(root, 'pkg')));
if (!existsSync(join(pkgDir, 'index.js'))) throw new Error(`${pkgDir}/index.js missing: build the package first`);

const startLoad = loadavg().map((x) => +x.toFixed(2));
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--disable-dev-shm-usage',
];

// --- browser + server -----------------------------------------------------------------------
const { server, url } = await serve({
  '/': here,
  '/pkg/': pkgDir,
  '/pouchdb/': join(here, 'node_modules/pouchdb/dist'),
});
const profileDir = mkdtempSync(join(tmpdir(), 'settee-bench-'));
const context = await chromium.launchPersistentContext(profileDir, { executablePath: CHROMIUM, headless: true, args: ARGS });
const browserVersion = context.browser()?.version() ?? (await (async () => {
  const p = await context.newPage();
  const v = await p.evaluate(() => navigator.userAgent.match(/Chrome\/([\d.]+)/)?.[1]);
  await p.close();
  return v;
})());

async function cleanup() {
  await context.close().catch(() => {});
  server.close();
  rmSync(profileDir, { recursive: true, force: true });
}
process.on('SIGINT', () => cleanup().then(() => process.exit(130)));

try {
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error(`[page error] ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') console.error(`[page ${msg.type()}] ${msg.text()}`);
  });
  // What the page fetches from /pkg/ to load Settee is what a user downloads (bundle size).
  const pkgFiles = new Set();
  page.on('request', (r) => {
    const path = new URL(r.url()).pathname;
    if (path.startsWith('/pkg/')) pkgFiles.add(decodeURIComponent(path.slice('/pkg/'.length)));
  });
  await page.goto(url + '/');
  await page.waitForFunction(() => window.ready === true, null, { timeout: 60_000 });
  const list = await page.evaluate((m) => window.bench.list(m), mode);
  // Sizes and a fingerprint of the package as loaded: another build may replace pkg/ mid-run.
  const bundleAtStart = bundleSizes([...pkgFiles].sort((a, b) => b.endsWith('.wasm') - a.endsWith('.wasm') || a.localeCompare(b)));
  const wasmHashAtStart = wasmHash();
  const workloads = pick(Object.keys(list.workloads), value('--workloads'));
  // Extra implementations (diagnostics) run only when asked for by name.
  const impls = value('--impls')
    ? pick(Object.keys(list.impls), value('--impls'))
    : Object.keys(list.impls).filter((i) => !list.extra.includes(i));

  if (flag('--probe')) {
    const probes = await page.evaluate(() => window.bench.probes());
    for (const [k, v] of Object.entries(probes)) console.log(`${JSON.stringify(v).padStart(22)}  ${k}`);
    mkdirSync(join(here, 'results/profiles'), { recursive: true });
    writeFileSync(join(here, 'results/profiles/probes.json'), JSON.stringify(probes, null, 2) + '\n');
  } else if (flag('--profile')) {
    const which = value('--impls') ? impls : ['settee'];
    await profileWorkloads({ page, context, workloads, mode, impls: which, outDir: join(here, 'results/profiles') });
  } else {
    const results = await timeAll(page, workloads, impls, list);
    const report = {
      date: new Date().toISOString(),
      mode,
      runs,
      warmup,
      machine: {
        note: "absolute times are this machine's, measured while it was shared with other work",
        cpu: cpus()[0]?.model,
        cores: cpus().length,
        loadavgAtStart: startLoad,
        loadavgAtEnd: loadavg().map((x) => +x.toFixed(2)),
        chromium: browserVersion,
        node: process.version,
      },
      impls: Object.fromEntries(impls.map((i) => [i, list.impls[i]])),
      workloads: results,
      bundle: bundleAtStart,
      pkg: { dir: pkgDir, wasmSha256: wasmHashAtStart },
    };
    if (wasmHash() !== wasmHashAtStart) {
      report.pkg.changedDuringRun = true;
      console.error(`warning: ${pkgDir}/settee_core_bg.wasm changed during the run (another build?): the numbers are for the one loaded at the start`);
    }
    // Only a complete default run replaces latest.json and the table in BENCHMARKS.md.
    const complete = !quick && !value('--workloads') && !value('--impls') && runs >= 5;
    const out = join(here, 'results', quick ? 'quick.json' : complete ? 'latest.json' : 'partial.json');
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
    const md = renderMarkdown(report);
    console.log('\n' + md);
    if (complete) {
      writeBenchmarksMd(join(root, 'BENCHMARKS.md'), md);
      console.log(`wrote ${out} and BENCHMARKS.md`);
    } else console.log(`wrote ${out}`);
  }
} finally {
  await cleanup();
}

// --- timing ---------------------------------------------------------------------------------

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function timeAll(page, workloads, impls, list) {
  const results = {};
  for (const w of workloads) {
    const info = list.workloads[w];
    const times = Object.fromEntries(impls.map((i) => [i, []]));
    const t0 = Date.now();
    // Warm-ups, then timed runs. The implementations take turns inside each round (rotating who
    // goes first), so a burst of load from elsewhere on the machine hits all of them alike.
    for (let r = 0; r < warmup + runs; r++) {
      for (let k = 0; k < impls.length; k++) {
        const impl = impls[(k + r) % impls.length];
        const { ms } = await page.evaluate(([w, i, m]) => window.bench.runOnce(w, i, m), [w, impl, mode]);
        if (r >= warmup) times[impl].push(ms);
      }
    }
    results[w] = {
      describe: info.describe,
      size: info.size,
      target: info.target,
      floorTarget: info.floorTarget,
      ms: Object.fromEntries(
        impls.map((i) => [
          i,
          {
            median: +median(times[i]).toFixed(2),
            min: +Math.min(...times[i]).toFixed(2),
            max: +Math.max(...times[i]).toFixed(2),
            runs: times[i].map((x) => +x.toFixed(2)),
          },
        ]),
      ),
    };
    const line = impls.map((i) => `${i} ${results[w].ms[i].median.toFixed(1)}`).join(', ');
    console.log(`${w} (${((Date.now() - t0) / 1000).toFixed(0)} s): ${line}`);
  }
  return results;
}

function wasmHash() {
  return createHash('sha256').update(readFileSync(join(pkgDir, 'settee_core_bg.wasm'))).digest('hex');
}

// --- bundle size ----------------------------------------------------------------------------
function sizeOf(dir, files) {
  let raw = 0;
  let gzip = 0;
  let brotli = 0;
  for (const f of files) {
    const buf = readFileSync(join(dir, f));
    raw += buf.length;
    gzip += gzipSync(buf, { level: 9 }).length;
    brotli += brotliCompressSync(buf, { params: { [zc.BROTLI_PARAM_QUALITY]: 11 } }).length;
  }
  return { files, raw, gzip, brotli };
}

function bundleSizes(files) {
  // What the bench page fetched from /pkg/ to load Settee: the wasm module, wasm-bindgen's glue
  // (and its snippets), and the typed wrapper with the modules it imports.
  const settee = sizeOf(pkgDir, files);
  const dist = join(here, 'node_modules/pouchdb/dist');
  return {
    targetGzip: 250_000,
    settee,
    pouchdb: sizeOf(dist, ['pouchdb.min.js']),
    'pouchdb+find': sizeOf(dist, ['pouchdb.min.js', 'pouchdb.find.min.js']),
    'pouchdb+indexeddb+find': sizeOf(dist, ['pouchdb.min.js', 'pouchdb.indexeddb.min.js', 'pouchdb.find.min.js']),
  };
}
