#!/usr/bin/env node
// Convergence on a bad network (issue #15): a live, retrying sync between the browser
// (IndexedDB) and pouchdb-server, through the fault proxy of the tests
// (tests/js/fault-proxy.mjs) failing a seeded share of the requests, for Settee and for
// PouchDB 9 (idb adapter) in the same run. Each side starts with N docs with updates,
// deletions and conflicts; the time is from starting the sync until both sides hold the same
// leaves (checked every 250 ms from node).
//
//   node bench/faults-converge.mjs [--docs 3000] [--rate 0.4] [--seed 7] [--limit-s 300] [--no-hang]
//   (normally through `bash scripts/bench.sh --faults`, which builds pkg/ first)
//
// Both get the same proxy seed, so the same sequence of faults, though which request meets
// which fault depends on each one's requests. Settee runs with its defaults but for
// `request_timeout: 3000` (a hung answer is given up after 3 s; PouchDB has no such option,
// so it waits until the proxy closes a hung connection, after 10 s; `--no-hang` leaves hung
// answers out of the mix). Results go to bench/results/faults[-no-hang].json; BENCHMARKS.md
// quotes them.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { chromium } from 'playwright-core';
import { CouchServer } from '../tests/js/couch.mjs';
import { FAULTS, startFaultProxy } from '../tests/js/fault-proxy.mjs';
import { startServer } from '../tests/js/helpers.mjs';
import { leafMap, plan } from '../tests/js/mixed-history.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const arg = (name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt);
const DOCS = Number(arg('--docs', 3000));
const RATE = Number(arg('--rate', 0.4));
const SEED = Number(arg('--seed', 7));
const LIMIT_MS = Number(arg('--limit-s', 300)) * 1000;
const NO_HANG = argv.includes('--no-hang');

/** Runs the plan with `bulk(docs, newEdits)` and `winners(ids)`, in node or in a page. */
const seedSource = `async (p, bulk, revsOf) => {
  const created = await bulk(p.creates, true);
  const revs = new Map(created.map((r) => [r.id, r.rev]));
  await bulk(p.updated.map((id) => ({ ...p.creates.find((d) => d._id === id), _rev: revs.get(id), edited: true })), true);
  await bulk(p.conflicts, false);
  const winners = await revsOf(p.deleted);
  await bulk(winners.map(([id, rev]) => ({ _id: id, _rev: rev, _deleted: true })), true);
}`;
const seed = eval(seedSource);

const couch = await CouchServer.start();
const web = await startServer();
const profile = mkdtempSync(join(tmpdir(), 'settee-faults-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'],
});
const results = { docs: DOCS, rate: RATE, seed: SEED, hangs: !NO_HANG, load: loadavg().map((x) => +x.toFixed(2)), runs: [] };
try {
  for (const impl of ['settee', 'pouchdb']) {
    const page = await context.newPage();
    await page.goto(web.url + '/');
    await page.waitForFunction(() => window.ready === true);
    if (impl === 'pouchdb') await page.addScriptTag({ url: '/pouchdb/pouchdb.min.js' });
    const remote = await couch.freshDb(`faults-${impl}`);
    await seed(
      plan('s', DOCS),
      async (docs, newEdits) => (await couch.request('POST', `/${remote.name}/_bulk_docs`, { docs, new_edits: newEdits })).body,
      async (ids) => (await couch.request('POST', `/${remote.name}/_all_docs`, { keys: ids })).body.rows.map((r) => [r.id, r.value.rev]),
    );
    const local = `faults-${impl}-${Date.now()}`;
    await page.evaluate(
      async ({ impl, local, p, seedSource }) => {
        const db = impl === 'settee' ? new Settee(local) : new PouchDB(local);
        window.__db = db;
        const run = eval(seedSource);
        await run(
          p,
          (docs, newEdits) => db.bulkDocs(docs, { new_edits: newEdits }),
          async (ids) => (await db.allDocs({ keys: ids })).rows.map((r) => [r.id, r.value.rev]),
        );
      },
      { impl, local, p: plan('l', DOCS), seedSource },
    );
    const faults = NO_HANG ? FAULTS.filter((f) => f !== 'hang') : FAULTS;
    const proxy = await startFaultProxy({ target: couch.url, rate: RATE, seed: SEED, faults });
    const started = Date.now();
    await page.evaluate(
      ({ impl, url }) => {
        const opts = { live: true, retry: true };
        window.__sync =
          impl === 'settee' ? window.__db.sync(url, { ...opts, request_timeout: 3000 }) : window.__db.sync(url, opts);
        window.__sync.on('error', (e) => (window.__error = `${e.name}: ${e.message}`));
      },
      { impl, url: proxy.via(remote.url) },
    );
    let converged = false;
    while (Date.now() - started < LIMIT_MS) {
      const error = await page.evaluate(() => window.__error);
      if (error) throw new Error(`${impl} stopped: ${error}`);
      const [server, mine] = await Promise.all([
        couch.request('GET', `/${remote.name}/_changes?style=all_docs`).then((r) => leafMap(r.body.results)),
        page.evaluate(async () => (await window.__db.changes({ style: 'all_docs' })).results).then(leafMap),
      ]);
      if (Object.keys(server).length === 2 * DOCS && isDeepStrictEqual(server, mine)) {
        converged = true;
        break;
      }
      await new Promise((ok) => setTimeout(ok, 250));
    }
    const ms = Date.now() - started;
    await page.evaluate(() => window.__sync.cancel());
    await proxy.close();
    results.runs.push({ impl, converged, ms, requests: proxy.stats.requests, proxy: proxy.stats });
    console.log(`${impl}: ${converged ? `converged in ${ms} ms` : `NOT converged after ${ms} ms`}; proxy ${JSON.stringify(proxy.stats)}`);
    await page.close();
  }
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
  await web.close();
  await couch.stop();
}
const [s, p] = results.runs;
if (s && p && s.converged) {
  results.ratio = p.converged ? +(p.ms / s.ms).toFixed(2) : `> ${(LIMIT_MS / s.ms).toFixed(1)}`;
  console.log(`PouchDB / Settee: ${results.ratio}`);
}
mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(join(root, `bench/results/faults${NO_HANG ? '-no-hang' : ''}.json`), JSON.stringify(results, null, 2) + '\n');
if (!s?.converged) process.exit(1);
