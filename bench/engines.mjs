#!/usr/bin/env node
// The local workloads in each browser engine: Settee against PouchDB 9 (idb and indexeddb
// adapters) in the same engine and run. Engines are driven as the tests drive them
// (tests/js/engines/: Chromium by playwright-core, Firefox ESR by puppeteer-core over BiDi,
// WebKitGTK by WebDriver), each on its own page per workload; the figures are the median of
// the timed runs, implementations taking turns inside each round.
//
//   node bench/engines.mjs [--engines chromium,firefox,webkit] [--runs 3] [--quick]
//   node bench/engines.mjs --render bench/results/engines.json   (the table again, no run)
//
// Writes bench/results/engines.json (engines-quick.json with --quick) and, for a full run,
// the table between the `engines:` markers in BENCHMARKS.md. Started by
// `scripts/bench.sh --engines`, which builds pkg/ and installs bench/node_modules first.
//
// WebKit's WebDriver session has ephemeral storage, where PouchDB's idb adapter never settles
// a call (it cannot store Blobs there): each run has a time limit, and a run over it is
// reported as "did not settle" for that implementation, not as a time.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '../scripts/serve.mjs';
import { WORKLOADS as ALL_WORKLOADS } from './lib/workloads.js';
import { launchChromium } from '../tests/js/engines/chromium.mjs';
import { launchFirefox } from '../tests/js/engines/firefox.mjs';
import { launchWebKit } from '../tests/js/engines/webkit.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const argv = process.argv.slice(2);
const value = (name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt);
const quick = argv.includes('--quick');
const mode = quick ? 'quick' : 'full';
const runs = Number(value('--runs', quick ? 1 : 3));
const warmup = 1;
const ENGINES = ['chromium', 'firefox', 'webkit'];
// `--engines a,b`, or the list alone (as `scripts/bench.sh --engines a,b` passes it).
const bare = argv.find((a) => a.split(',').every((e) => ENGINES.includes(e)));
const engines = value('--engines', bare ?? ENGINES.join(',')).split(',');
const WORKLOADS = ['bulk insert', 'random gets', 'allDocs', 'changes', 'view build', 'find'];
const IMPLS = ['settee', 'pouchdb-idb', 'pouchdb-indexeddb'];
/** Longer than any workload here takes at full size (PouchDB's view build: ~10 s). */
const RUN_LIMIT_MS = quick ? 30_000 : 120_000;

const LAUNCH = {
  chromium: (profile) => launchChromium(profile),
  firefox: (profile) => launchFirefox(profile),
  webkit: () => launchWebKit(),
};

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** One timed run in the page, or `null` if it did not settle within RUN_LIMIT_MS. */
async function runOnce(page, workload, impl) {
  return page.evaluate(
    ([w, i, m, limit]) =>
      Promise.race([
        window.bench.runOnce(w, i, m).then((r) => r.ms),
        new Promise((ok) => setTimeout(() => ok(null), limit)),
      ]),
    [workload, impl, mode, RUN_LIMIT_MS],
  );
}

async function benchEngine(engine, url) {
  const profile = mkdtempSync(join(tmpdir(), `settee-bench-${engine}-`));
  const { context, version } = await LAUNCH[engine](profile);
  const out = { version, workloads: {} };
  // An implementation that did not settle once is not tried again in this engine (PouchDB's
  // idb adapter in WebKit's ephemeral storage would cost the time limit per workload).
  const unsettled = new Set();
  try {
    for (const w of WORKLOADS) {
      const page = await context.newPage();
      await page.goto(url + '/');
      await page.waitForFunction(() => window.ready === true, null, { timeout: 60_000 });
      const times = Object.fromEntries(IMPLS.map((i) => [i, []]));
      for (let r = 0; r < warmup + runs; r++) {
        for (let k = 0; k < IMPLS.length; k++) {
          const impl = IMPLS[(k + r) % IMPLS.length];
          if (unsettled.has(impl)) continue;
          const ms = await runOnce(page, w, impl);
          if (ms === null) unsettled.add(impl);
          else if (r >= warmup) times[impl].push(ms);
        }
      }
      await page.close();
      out.workloads[w] = Object.fromEntries(
        IMPLS.map((i) => [i, unsettled.has(i) ? { unsettled: true } : { median: +median(times[i]).toFixed(1), runs: times[i].map((x) => +x.toFixed(1)) }]),
      );
      const line = IMPLS.map((i) => `${i} ${unsettled.has(i) ? 'did not settle' : out.workloads[w][i].median.toFixed(1)}`);
      console.log(`${engine} · ${w}: ${line.join(', ')}`);
    }
  } finally {
    await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  }
  return out;
}

const ratio = (pouch, settee) => (pouch?.median && settee?.median ? `${(pouch.median / settee.median).toFixed(1)}×` : '—');
const cell = (x) => (x?.unsettled ? 'did not settle' : x ? x.median.toFixed(1) : '—');

function renderMarkdown(report) {
  const lines = [
    `Median of ${report.runs} runs after ${report.warmup} warm-up, ms (lower is better); ratio = PouchDB's time / Settee's. ` +
      `${report.date.slice(0, 10)}, ${report.machine.cores} cores (${report.machine.cpu}), load average ${report.machine.loadavgAtStart.join(' ')} at the start and ${report.machine.loadavgAtEnd?.join(' ') ?? '?'} at the end (the bench itself keeps about one core busy).`,
    '',
    '| engine | workload | Settee | PouchDB idb | ratio | PouchDB indexeddb | ratio | target | met |',
    '|---|---|--:|--:|--:|--:|--:|--:|---|',
  ];
  for (const [engine, e] of Object.entries(report.engines)) {
    for (const [w, r] of Object.entries(e.workloads)) {
      // As in the main table: met only if Settee beats the faster PouchDB adapter by the target.
      const known = ['pouchdb-idb', 'pouchdb-indexeddb'].map((i) => r[i]?.median / r.settee?.median).filter((x) => x > 0);
      const target = ALL_WORKLOADS[w]?.target;
      const met = target && known.length ? (Math.min(...known) >= target ? 'yes' : '**no**') : '';
      lines.push(
        `| ${engine} (${e.version}) | ${w} | ${cell(r.settee)} | ${cell(r['pouchdb-idb'])} | ${ratio(r['pouchdb-idb'], r.settee)} | ${cell(r['pouchdb-indexeddb'])} | ${ratio(r['pouchdb-indexeddb'], r.settee)} | ${target ? `≥ ${target}×` : '–'} | ${met} |`,
      );
    }
  }
  return lines.join('\n');
}

/** Puts `md` between the engines markers of BENCHMARKS.md. */
function writeBenchmarksMd(md) {
  const file = join(root, 'BENCHMARKS.md');
  const text = readFileSync(file, 'utf8');
  const begin = '<!-- engines:begin (generated by scripts/bench.sh --engines; edit outside the markers) -->';
  const end = '<!-- engines:end -->';
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  if (i < 0 || j < 0) throw new Error('BENCHMARKS.md: the engines markers are missing');
  writeFileSync(file, text.slice(0, i + begin.length) + '\n' + md + '\n' + text.slice(j));
}

// `--render FILE`: the table of a saved report again (after the table's code changed).
if (value('--render')) {
  writeBenchmarksMd(renderMarkdown(JSON.parse(readFileSync(value('--render'), 'utf8'))));
  process.exit(0);
}

const { server, url } = await serve({ '/': here, '/pkg/': join(root, 'pkg'), '/pouchdb/': join(here, 'node_modules/pouchdb/dist') });
const report = {
  date: new Date().toISOString(),
  mode,
  runs,
  warmup,
  machine: { cpu: cpus()[0]?.model, cores: cpus().length, loadavgAtStart: loadavg().map((x) => +x.toFixed(2)) },
  engines: {},
};
try {
  for (const engine of engines) report.engines[engine] = await benchEngine(engine, url);
} finally {
  server.close();
}
report.machine.loadavgAtEnd = loadavg().map((x) => +x.toFixed(2));
const md = renderMarkdown(report);
console.log('\n' + md);
const out = join(here, 'results', quick ? 'engines-quick.json' : 'engines.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
if (!quick && engines.length === ENGINES.length) {
  writeBenchmarksMd(md);
  console.log(`wrote ${out} and BENCHMARKS.md`);
} else console.log(`wrote ${out}`);
// The WebKit driver's Xvfb is stopped at exit.
process.exit(0);
