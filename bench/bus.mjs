#!/usr/bin/env node
// The message bus (js/bus.ts) in Chromium: post-to-handler latency (p50, p99) in the same
// tab, across two tabs of one browser (one database, the cross-tab notice), and across two
// browsers through pouchdb-server (each with its own database, live sync both ways); and the
// sustained throughput, messages posted and handled per second in one tab.
// Every latency is from just before `post` to the handler's call, on one machine clock
// (`performance.timeOrigin + performance.now()` in each page), with `bufferDelay: 0`.
//
//   node bench/bus.mjs [--messages 300] [--throughput 3000]
//
// Writes bench/results/bus.json and prints the table for BENCHMARKS.md. Build pkg/ first.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PouchDbServer } from '../tests/js/couch.mjs';
import { launch, openPage, removeProfile, startServer, uniqueName } from '../tests/js/helpers.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const value = (name, dflt) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : dflt);
const MESSAGES = value('--messages', 300);
const THROUGHPUT = value('--throughput', 3000);
const GAP_MS = 20; // between posts of a latency run: each message travels alone

// In a page: a bus on `name`, listening on `topic`, recording each arrival's latency.
const listenIn = (page, { name, node, remote }) =>
  page.evaluate(
    async ({ name, node, remote }) => {
      const { Settee, Bus } = window.settee;
      const now = () => performance.timeOrigin + performance.now();
      const db = new Settee(name);
      if (remote) window.benchSync = db.sync(remote, { live: true, retry: true });
      window.bench = { bus: new Bus(db, { node, bufferDelay: 0 }), lat: [] };
      await window.bench.bus.listen({ topic: 'lat' }, (m) => void window.bench.lat.push(now() - m.data.t)).ready;
    },
    { name, node, remote },
  );

const postIn = (page, { name, node, count, remote }) =>
  page.evaluate(
    async ({ name, node, count, remote, gap }) => {
      const { Settee, Bus } = window.settee;
      const now = () => performance.timeOrigin + performance.now();
      const db = new Settee(name);
      if (remote) window.benchSync = db.sync(remote, { live: true, retry: true });
      const bus = window.bench?.bus ?? new Bus(db, { node, bufferDelay: 0 });
      await bus.post({ topic: 'warm', data: {} });
      for (let i = 0; i < count; i++) {
        await bus.post({ topic: 'lat', data: { t: now(), i } });
        await new Promise((ok) => setTimeout(ok, gap));
      }
    },
    { name, node, count, remote, gap: GAP_MS },
  );

async function collect(page, count) {
  const end = Date.now() + 60_000;
  for (;;) {
    const lat = await page.evaluate(() => window.bench.lat);
    if (lat.length >= count) return lat;
    if (Date.now() > end) throw new Error(`only ${lat.length} of ${count} arrived`);
    await new Promise((ok) => setTimeout(ok, 200));
  }
}

function stats(lat) {
  const s = [...lat].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { n: s.length, p50: +q(0.5).toFixed(1), p99: +q(0.99).toFixed(1), max: +s[s.length - 1].toFixed(1) };
}

const web = await startServer();
const couch = await PouchDbServer.start();
const a = await launch();
const b = await launch();
const results = {};
try {
  // Same tab.
  const p1 = await openPage(a.context, web.url, { quiet: true });
  const one = uniqueName('bench-bus');
  await listenIn(p1, { name: one, node: 'same' });
  await postIn(p1, { name: one, node: 'same', count: MESSAGES });
  results['same tab'] = stats(await collect(p1, MESSAGES));

  // Across tabs of one browser: one database, two pages.
  const p2 = await openPage(a.context, web.url, { quiet: true });
  const p3 = await openPage(a.context, web.url, { quiet: true });
  const shared = uniqueName('bench-bus-tabs');
  await listenIn(p3, { name: shared, node: 'tab-b' });
  await postIn(p2, { name: shared, node: 'tab-a', count: MESSAGES });
  results['across tabs'] = stats(await collect(p3, MESSAGES));

  // Across two browsers through pouchdb-server.
  await couch.createDb('bench-bus');
  const remote = couch.dbUrl('bench-bus', true);
  const q1 = await openPage(a.context, web.url, { quiet: true });
  const q2 = await openPage(b.context, web.url, { quiet: true });
  await listenIn(q2, { name: uniqueName('bench-bus-b'), node: 'browser-b', remote });
  await postIn(q1, { name: uniqueName('bench-bus-a'), node: 'browser-a', count: MESSAGES, remote });
  results['across browsers (pouchdb-server)'] = stats(await collect(q2, MESSAGES));

  // Throughput in one tab: posts as fast as they commit (64 in flight: writes started
  // together commit together), one listener handling; from the first post to the last handled.
  const t = await openPage(a.context, web.url, { quiet: true });
  results.throughput = await t.evaluate(
    async ({ name, total }) => {
      const { Settee, Bus } = window.settee;
      const bus = new Bus(new Settee(name), { node: 'tp', bufferDelay: 0 });
      let handled = 0;
      let done;
      const all = new Promise((ok) => (done = ok));
      await bus.listen({ topic: 'tp' }, () => void (++handled === total && done())).ready;
      const t0 = performance.now();
      let next = 0;
      const worker = async () => {
        while (next < total) {
          next++;
          await bus.post({ topic: 'tp', data: { n: next } });
        }
      };
      await Promise.all(Array.from({ length: 64 }, worker));
      const posted = performance.now() - t0;
      await all;
      const ms = performance.now() - t0;
      // One at a time, awaited: what a simple sender gets.
      const t1 = performance.now();
      for (let i = 0; i < 200; i++) await bus.post({ topic: 'seq', data: { i } });
      const seqMs = performance.now() - t1;
      return {
        messages: total,
        postedPerSecond: Math.round(total / (posted / 1000)),
        handledPerSecond: Math.round(total / (ms / 1000)),
        sequentialPostsPerSecond: Math.round(200 / (seqMs / 1000)),
      };
    },
    { name: uniqueName('bench-bus-tp'), total: THROUGHPUT },
  );
} finally {
  for (const x of [a, b]) {
    await x.context.close();
    removeProfile(x.profile);
  }
  await couch.stop();
  await web.close();
}

const env = `Chromium ${a.version ?? ''}, ${cpus().length} cores, load ${loadavg().map((l) => l.toFixed(2)).join(' ')} at the end; ${MESSAGES} messages per latency run, ${GAP_MS} ms apart`;
const out = { env, date: new Date().toISOString(), results };
mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(join(root, 'bench/results/bus.json'), JSON.stringify(out, null, 2) + '\n');
console.log(env);
console.log('\n| post → handler | p50 | p99 | max |\n|---|--:|--:|--:|');
for (const [k, v] of Object.entries(results)) if (v.p50 !== undefined) console.log(`| ${k} | ${v.p50} ms | ${v.p99} ms | ${v.max} ms |`);
const tp = results.throughput;
console.log(`\nthroughput, one tab: ${tp.handledPerSecond} messages/s posted and handled (${tp.messages}, 64 posts in flight; posting alone ${tp.postedPerSecond}/s); ${tp.sequentialPostsPerSecond} awaited posts/s one at a time`);
