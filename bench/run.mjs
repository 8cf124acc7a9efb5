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
//   --docs N                      every workload at N docs (e.g. 100000); writes partial.json
//   --profile                     no table: profile Settee (CPU profile via CDP, IndexedDB
//                                 request counts, JS<->wasm call counts) on the chosen workloads;
//                                 writes bench/results/profiles/
//   --probe                       micro-measurements: JSON text crossings, IndexedDB cost by
//                                 record size, commit latency (bench/lib/probes.js)
//   --impls settee-memory         also Settee on its memory adapter (not in the default set)
//
// The replication workloads (pull, push, no-op sync) need a CouchDB: this starts one
// pouchdb-server (bench/lib/couch.mjs) on a free 127.0.0.1 port for the run, and stops it at
// the end. Each workload runs in a page of its own, so one workload's leftovers (garbage, the
// size wasm memory grew to) do not show in the next one's heap figures.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync, brotliCompressSync, constants as zc } from 'node:zlib';
import { createHash } from 'node:crypto';
import { chromium } from 'playwright-core';
import { serve } from '../scripts/serve.mjs';
import { ARGS as CHROMIUM_ARGS, CHROMIUM } from '../tests/js/engines/chromium.mjs';
import { renderMarkdown, writeBenchmarksMd } from './lib/report.mjs';
import { profileWorkloads } from './lib/profile.mjs';
import { BenchCouch } from './lib/couch.mjs';

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
// `--docs N`: the full sizes with N docs in every workload that has a doc count.
const mode = quick ? 'quick' : value('--docs') ? `full@${value('--docs')}` : 'full';
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

// The batch size of the server-share measurement: Settee's default batch_size (PouchDB's is
// 100, with up to 10 batches in flight).
const SHARE_BATCH = 500;

const startLoad = loadavg().map((x) => +x.toFixed(2));
const ARGS = [
  ...CHROMIUM_ARGS,
  // performance.memory exact and current (else rounded and cached): the heap peak of the pull.
  '--enable-precise-memory-info',
];

// --- browser + server -----------------------------------------------------------------------
const { server, url } = await serve({
  '/': here,
  '/pkg/': pkgDir,
  '/pouchdb/': join(here, 'node_modules/pouchdb/dist'),
  '/ajv/': join(here, 'node_modules/ajv-dist/dist'),
});
const profileDir = mkdtempSync(join(tmpdir(), 'settee-bench-'));
const context = await chromium.launchPersistentContext(profileDir, { executablePath: CHROMIUM, headless: true, args: ARGS });
const browserVersion = context.browser()?.version() ?? (await (async () => {
  const p = await context.newPage();
  const v = await p.evaluate(() => navigator.userAgent.match(/Chrome\/([\d.]+)/)?.[1]);
  await p.close();
  return v;
})());

let couch; // the pouchdb-server, once a workload needs it
async function cleanup() {
  await context.close().catch(() => {});
  server.close();
  await couch?.stop();
  rmSync(profileDir, { recursive: true, force: true });
}
process.on('SIGINT', () => cleanup().then(() => process.exit(130)));

/** A new tab with the bench page loaded and the wasm initialised. */
async function openPage() {
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error(`[page error] ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() !== 'error' && msg.type() !== 'warning') return;
    // Replicators read missing checkpoints and databases: the browser logs each 404.
    if (couch && msg.text().startsWith('Failed to load resource') && msg.location().url?.startsWith(couch.url)) return;
    console.error(`[page ${msg.type()}] ${msg.text()}`);
  });
  await page.goto(url + '/');
  await page.waitForFunction(() => window.ready === true, null, { timeout: 60_000 });
  return page;
}

try {
  // What the page fetches from /pkg/ to load Settee is what a user downloads (bundle size).
  const pkgFiles = new Set();
  context.on('request', (r) => {
    const { origin, pathname } = new URL(r.url());
    if (origin === url && pathname.startsWith('/pkg/')) pkgFiles.add(decodeURIComponent(pathname.slice('/pkg/'.length)));
  });
  const page = await openPage();
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
    const local = workloads.filter((w) => !list.workloads[w].remote);
    if (local.length < workloads.length) console.error('--profile: skipping the workloads that need a server (not wired up for profiling)');
    await profileWorkloads({ page, context, workloads: local, mode, impls: which, outDir: join(here, 'results/profiles') });
  } else {
    if (workloads.some((w) => list.workloads[w].remote)) {
      couch = await BenchCouch.start(root);
      console.log(`pouchdb-server at ${couch.url}`);
    }
    await page.close();
    const results = await timeAll(workloads, impls, list);
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
      server: couch ? { what: `pouchdb-server ${couch.version} (npm), leveldown, no admin, on 127.0.0.1`, url: couch.url } : undefined,
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
    const complete = !quick && !value('--workloads') && !value('--impls') && !value('--docs') && runs >= 5;
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

// Function declarations, not consts: the top-level code above calls them before this line runs.
function summarize(xs) {
  return {
    median: +median(xs).toFixed(2),
    min: +Math.min(...xs).toFixed(2),
    max: +Math.max(...xs).toFixed(2),
    runs: xs.map((x) => +x.toFixed(2)),
  };
}

function MB(bytes) {
  return +(bytes / 1e6).toFixed(3);
}

/** "POST _bulk_get"-style key of a request to the server: method and endpoint, ids elided. */
function endpointOf(method, u) {
  const parts = new URL(u).pathname.split('/').filter(Boolean).slice(1); // drop the db name
  const what = parts.length === 0 ? '(db)' : parts[0].startsWith('_') ? parts.slice(0, parts[0] === '_local' ? 1 : 2).join('/') : '(doc)';
  return `${method} ${what}`;
}

/** The server answering the workload's replication requests from node, nothing else (ms). */
async function timeServerShare(info, seededUrl, n) {
  let r;
  if (info.serverShare === 'pull') r = await couch.replayPull(new URL(seededUrl).pathname.slice(1), SHARE_BATCH);
  else {
    const name = `bench-share-${n}`;
    await couch.createDb(name);
    try {
      r = await couch.replayPush(name, info.size.docs, SHARE_BATCH);
    } finally {
      await couch.deleteDb(name).catch(() => {});
    }
  }
  if (r.docs !== info.size.docs) throw new Error(`server share of ${info.serverShare}: ${r.docs} docs, expected ${info.size.docs}`);
  return r.ms;
}

async function timeAll(workloads, allImpls, list) {
  const results = {};
  const seeded = new Map(); // docs -> URL of a server db holding makeDoc(0..docs-1)
  let dbCounter = 0;
  for (const w of workloads) {
    const info = list.workloads[w];
    const impls = allImpls.filter((i) => info.impls.includes(i));
    const times = Object.fromEntries(impls.map((i) => [i, []]));
    const extra = Object.fromEntries(impls.map((i) => [i, { requests: [], preflights: [], byEndpoint: null, serverByMethod: null, heap: [], metrics: [], wasmAfter: [] }]));
    const t0 = Date.now();
    const serverShare = [];
    const page = await openPage();
    const cdp = await context.newCDPSession(page);
    const wasmAtLoad = await page.evaluate(() => window.setteeWasm.memory.buffer.byteLength);
    // HTTP requests from the page to the server while a run is timed (between the hooks), as
    // playwright sees them, and as the server counted them (which includes CORS preflights).
    let counting = null;
    let counted = null;
    let serverCounts = null;
    page.on('request', (r) => {
      if (counting && couch && r.url().startsWith(couch.url + '/')) counting.push(endpointOf(r.method(), r.url()));
    });
    await page.exposeFunction('benchHook', async (what) => {
      if (what === 'start') {
        // A full GC, so the heap sampler's baseline is the live heap, not last run's garbage.
        if (info.sampleHeap) await cdp.send('HeapProfiler.collectGarbage');
        if (info.remote) await couch.takeCounts();
        counting = [];
      } else {
        counted = counting;
        counting = null;
        if (info.remote) serverCounts = await couch.takeCounts();
      }
    });
    if (info.remote === 'seeded' && !seeded.has(info.size.docs)) {
      const name = `bench-src-${info.size.docs}`;
      await couch.createDb(name);
      await couch.seed(name, info.size.docs);
      seeded.set(info.size.docs, `${couch.url}/${name}`);
    }
    // Warm-ups, then timed runs. The implementations take turns inside each round (rotating who
    // goes first), so a burst of load from elsewhere on the machine hits all of them alike.
    for (let r = 0; r < warmup + runs; r++) {
      for (let k = 0; k < impls.length; k++) {
        const impl = impls[(k + r) % impls.length];
        let remote;
        let fresh;
        if (info.remote === 'seeded') remote = seeded.get(info.size.docs);
        else if (info.remote === 'empty') {
          fresh = `bench-${w.replace(/\W+/g, '_')}-${impl}-${++dbCounter}`.toLowerCase();
          remote = await couch.createDb(fresh);
        }
        const hooks = !!(info.remote || info.sampleHeap);
        let out;
        try {
          out = await page.evaluate(([w, i, m, o]) => window.bench.runOnce(w, i, m, o), [w, impl, mode, { hooks, remote }]);
        } finally {
          if (fresh) await couch.deleteDb(fresh).catch(() => {});
        }
        const requests = counted;
        const server = serverCounts;
        counted = serverCounts = null;
        // Wasm memory after every Settee run, warm-ups included: it never shrinks, so the first
        // run's figure is what one pull needed.
        if (out.heap?.wasmAfter != null && impl.startsWith('settee')) extra[impl].wasmAfter.push(out.heap.wasmAfter);
        if (out.wasmBytes != null && impl.startsWith('settee')) (extra[impl].wasmEvery ??= []).push(out.wasmBytes);
        if (r < warmup) continue;
        times[impl].push(out.ms);
        const x = extra[impl];
        if (info.remote) {
          x.requests.push(requests.length);
          x.preflights.push(server.OPTIONS ?? 0);
          const by = {};
          for (const e of requests) by[e] = (by[e] ?? 0) + 1;
          x.byEndpoint = Object.fromEntries(Object.entries(by).sort((a, b) => b[1] - a[1]));
          x.serverByMethod = server;
          const serverTotal = Object.values(server).reduce((a, b) => a + b, 0) - (server.OPTIONS ?? 0);
          if (serverTotal !== requests.length)
            console.error(`warning: ${w}/${impl}: playwright saw ${requests.length} requests, the server ${serverTotal} (besides OPTIONS)`);
        }
        if (out.heap) x.heap.push(out.heap);
        if (out.metrics) x.metrics.push(out.metrics);
      }
      if (info.serverShare && r >= warmup) serverShare.push(await timeServerShare(info, seeded.get(info.size.docs), ++dbCounter));
    }
    await page.close();
    const res = (results[w] = {
      describe: info.describe,
      size: info.size,
      target: info.target,
      floorTarget: info.floorTarget,
      ms: Object.fromEntries(impls.map((i) => [i, summarize(times[i])])),
    });
    // Wasm linear memory after each Settee run (warm-ups included), every workload.
    const wasmRuns = impls.filter((i) => extra[i].wasmEvery?.length);
    if (wasmRuns.length) res.wasmAfterRunsMB = Object.fromEntries(wasmRuns.map((i) => [i, extra[i].wasmEvery.map(MB)]));
    if (info.remote) {
      // The page's requests (CORS preflights apart); byEndpoint and serverByMethod: the last
      // timed run's, by endpoint as the page sent them and by method as the server got them.
      res.requests = Object.fromEntries(
        impls.map((i) => {
          const x = extra[i];
          return [i, { ...summarize(x.requests), preflights: summarize(x.preflights), byEndpoint: x.byEndpoint, serverByMethod: x.serverByMethod }];
        }),
      );
    }
    if (info.sampleHeap) {
      res.heap = Object.fromEntries(
        impls.map((i) => {
          const hs = extra[i].heap;
          const h = {
            baselineMB: summarize(hs.map((x) => MB(x.baseline))),
            peakMB: summarize(hs.map((x) => MB(x.peak))),
            growthMB: summarize(hs.map((x) => MB(x.peak - x.baseline))),
            samples: summarize(hs.map((x) => x.samples)),
          };
          if (extra[i].wasmAfter.length) {
            // This page ran nothing before this workload, and wasm memory never shrinks.
            h.wasmMB = { atPageLoad: MB(wasmAtLoad), afterEachRun: extra[i].wasmAfter.map(MB), runsIncludeWarmup: warmup };
          }
          return [i, h];
        }),
      );
    }
    if (serverShare.length) res.serverShare = { batch: SHARE_BATCH, ms: summarize(serverShare) };
    if (impls.some((i) => extra[i].metrics.length)) {
      res.metrics = Object.fromEntries(
        impls.map((i) => {
          const ms = extra[i].metrics;
          return [i, Object.fromEntries(Object.keys(ms[0] ?? {}).map((k) => [k, summarize(ms.map((m) => m[k]))]))];
        }),
      );
    }
    const share = res.serverShare ? `; the server's share ${res.serverShare.ms.median.toFixed(0)}` : '';
    const line = impls
      .map((i) => {
        let t = `${i} ${res.ms[i].median.toFixed(1)}`;
        if (res.requests) t += ` (${res.requests[i].median} requests)`;
        if (res.heap) t += ` [heap peak ${res.heap[i].peakMB.median.toFixed(1)} MB]`;
        const wasm = res.wasmAfterRunsMB?.[i];
        if (wasm) t += ` [wasm ${Math.max(...wasm).toFixed(1)} MB]`;
        return t;
      })
      .join(', ');
    console.log(`${w} (${((Date.now() - t0) / 1000).toFixed(0)} s): ${line}${share}`);
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
