#!/usr/bin/env node
// Many synced databases (issue 17): N local databases each live-synced with its own database
// on one server, in one Chromium page, for Settee and for PouchDB 9 (idb adapter, N `sync`
// calls) in the same run. Through the counting proxy of the tests (tests/js/fault-proxy.mjs at
// rate 0), so the figures are what the server saw:
//   - peak: the most requests in flight at once, over the whole run;
//   - idle requests per minute, once every sync has caught up (`--idle-s`);
//   - latency: one doc written into every server database at once; the time from that write's
//     answer until the doc is in the page's local database (p50, p99, max), within `--limit-s`.
//
//   node bench/many-dbs.mjs [--dbs 200] [--idle-s 20] [--limit-s 60] [--impls settee,pouchdb]
//                           [--auth basic|cookie]
//   SETTEE_SERVER=couchdb node bench/many-dbs.mjs   (CouchDB 3.5 from ../shared/couchdb, with
//                                                    `_global_changes`, so `_db_updates` works)
//   (normally through `bash scripts/bench.sh --many-dbs`, which builds pkg/ first)
// Results go to bench/results/many-dbs-<server>-<auth>.json; BENCHMARKS.md quotes them.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { ADMIN, CouchServer, SERVER_KIND } from '../tests/js/couch.mjs';
import { startFaultProxy } from '../tests/js/fault-proxy.mjs';
import { startServer } from '../tests/js/helpers.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const arg = (name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt);
const DBS = Number(arg('--dbs', 200));
const IDLE_MS = Number(arg('--idle-s', 20)) * 1000;
const LIMIT_MS = Number(arg('--limit-s', 60)) * 1000;
const IMPLS = arg('--impls', 'settee,pouchdb').split(',');
// `basic`: credentials in each URL (an Authorization header, so every request is preflighted
// by CORS); `cookie`: the page logs in once (`POST /_session`) and the URLs carry none, so
// GETs are simple requests (no preflight), as CouchDB advises for browsers. Both impls alike.
const AUTH = arg('--auth', 'basic');
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

/** Requests by kind: method and path below the database (`_local/x` as `_local`). */
function kindsOf(lines) {
  const kinds = {};
  for (const line of lines) {
    const [method, path] = line.split(' ');
    const below = path.split('?')[0].replace(/^\/[^/]+/, '').replace(/_local\/.*/, '_local') || '/';
    const kind = `${method} ${path.startsWith('/_db_updates') ? '/_db_updates' : below}${path.includes('feed=longpoll') ? ' (longpoll)' : ''}`;
    kinds[kind] = (kinds[kind] ?? 0) + 1;
  }
  return kinds;
}

const couch = await CouchServer.start();
if (SERVER_KIND === 'couchdb') await couch.createDb('_global_changes');
const web = await startServer();
const profile = mkdtempSync(join(tmpdir(), 'settee-many-dbs-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'],
});
const results = { dbs: DBS, server: SERVER_KIND, auth: AUTH, idle_s: IDLE_MS / 1000, load: loadavg().map((x) => +x.toFixed(2)), runs: [] };
try {
  for (const impl of IMPLS) {
    const page = await context.newPage();
    await page.goto(web.url + '/');
    await page.waitForFunction(() => window.ready === true);
    if (impl === 'pouchdb') await page.addScriptTag({ url: '/pouchdb/pouchdb.min.js' });
    const names = [];
    for (let i = 0; i < DBS; i++) names.push((await couch.freshDb(`m${impl[0]}${i}`)).name);
    const proxy = await startFaultProxy({ target: couch.url });
    const base = proxy.via(couch.dbUrl('', AUTH === 'basic')).replace(/\/$/, '');
    if (AUTH === 'cookie') {
      const login = await page.evaluate(
        async ({ server, admin }) =>
          (await fetch(`${server}/_session`, {
            method: 'POST',
            credentials: 'include',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ name: admin.username, password: admin.password }),
          })).status,
        { server: proxy.url, admin: ADMIN },
      );
      if (login !== 200) throw new Error(`POST /_session: ${login}`);
    }
    const started = Date.now();
    await page.evaluate(
      ({ impl, names, base }) => {
        window.__paused = new Set();
        window.__arrived = {};
        window.__syncs = names.map((name) => {
          const db = impl === 'settee' ? new Settee(name) : new PouchDB(name);
          const sync = db.sync(`${base}/${name}`, { live: true, retry: true });
          sync.on('paused', (err) => err || window.__paused.add(name));
          db.changes({ live: true, since: 'now' }).on('change', (c) => {
            if (c.id === 'ping') window.__arrived[name] ??= Date.now();
          });
          return sync;
        });
      },
      { impl, names, base },
    );
    // Caught up: every sync paused once, then a quiet second.
    while ((await page.evaluate(() => window.__paused.size)) < DBS && Date.now() - started < LIMIT_MS * 2) await sleep(250);
    const caughtUpMs = Date.now() - started;
    await sleep(1000);
    const idleFrom = proxy.stats.requests;
    const idleLogFrom = proxy.stats.log.length;
    await sleep(IDLE_MS);
    const idlePerMin = Math.round(((proxy.stats.requests - idleFrom) * 60_000) / IDLE_MS);
    const idleKinds = kindsOf(proxy.stats.log.slice(idleLogFrom));
    // One doc into every server database, as close to at once as the server takes them.
    const logFrom = proxy.stats.log.length;
    const written = {};
    await Promise.all(
      names.map(async (name) => {
        const r = await couch.request('PUT', `/${name}/ping`, { at: Date.now() });
        if (r.status !== 201) throw new Error(`PUT /${name}/ping: ${r.status}`);
        written[name] = Date.now();
      }),
    );
    const writeEnd = Date.now();
    let arrived = {};
    while (Date.now() - writeEnd < LIMIT_MS) {
      arrived = await page.evaluate(() => window.__arrived);
      if (Object.keys(arrived).length === DBS) break;
      await sleep(100);
    }
    const kinds = kindsOf(proxy.stats.log.slice(logFrom));
    const latencies = names.filter((n) => arrived[n]).map((n) => Math.max(0, arrived[n] - written[n])).sort((a, b) => a - b);
    const run = {
      impl,
      caught_up_ms: caughtUpMs,
      arrived: latencies.length,
      p50_ms: pct(latencies, 50) ?? null,
      p99_ms: latencies.length === DBS ? pct(latencies, 99) : null,
      max_ms: latencies.length === DBS ? latencies.at(-1) : null,
      peak_in_flight: proxy.stats.peak,
      idle_requests_per_min: idlePerMin,
      requests: proxy.stats.requests,
      db_updates_requests: proxy.stats.log.filter((l) => l.includes('/_db_updates')).length,
      idle_requests: idleKinds,
      requests_after_write: kinds,
    };
    results.runs.push(run);
    console.log(JSON.stringify(run));
    await page.evaluate(() => window.__syncs.forEach((s) => s.cancel()));
    await page.close();
    await proxy.close();
  }
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
  await web.close();
  await couch.stop();
}
mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(join(root, `bench/results/many-dbs-${SERVER_KIND}-${AUTH}.json`), JSON.stringify(results, null, 2) + '\n');
