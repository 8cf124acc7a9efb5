#!/usr/bin/env node
// The 50 MB attachment memory benchmark (issue #6): replicate a database holding one 50 MB
// attachment from a real pouchdb-server into the browser (pull), and from the browser to it
// (push), and record the page's peak JS heap during each replication.
//
//   node bench/attachment-memory.mjs [--mb 50] [--impls settee,pouchdb]
//   (normally through `bash scripts/bench.sh --attachments`, which builds pkg/ first)
//
// Measurement: Chromium runs with --enable-precise-memory-info and --expose-gc. Before each
// run the page collects garbage and records `performance.memory.usedJSHeapSize` (baseline);
// during the replication the heap is sampled two ways, and the larger peak is reported:
// in the page every 2 ms (setInterval), and from node over CDP (`Runtime.getHeapUsage`)
// every 10 ms. For Settee the wasm linear memory (which is not JS heap, and never shrinks)
// is reported too. Results are checked (size and digest on the other side), and written to
// bench/results/attachment-memory.json; the README quotes them.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { chromium } from 'playwright-core';
import { CouchServer } from '../tests/js/couch.mjs';
import { startServer } from '../tests/js/helpers.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const arg = (name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt);
const MB = Number(arg('--mb', 50));
const SIZE = MB * 1024 * 1024;
const IMPLS = arg('--impls', 'settee,pouchdb').split(',');

const md5 = (buf) => 'md5-' + createHash('md5').update(buf).digest('base64');
const payload = Buffer.alloc(SIZE);
for (let i = 0; i < SIZE; i++) payload[i] = (i * 7 + (i >> 12)) % 251;
const digest = md5(payload);

const couch = await CouchServer.start();
const web = await startServer();
const profile = mkdtempSync(join(tmpdir(), 'settee-memory-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--enable-precise-memory-info', '--js-flags=--expose-gc'],
});
const auth = { authorization: 'Basic ' + Buffer.from('admin:sekrit-pw-1').toString('base64') };
const results = { mb: MB, bytes: SIZE, load: loadavg().map((x) => +x.toFixed(2)), runs: [] };

try {
  for (const impl of IMPLS) {
    for (const direction of ['pull', 'push']) {
      const page = await context.newPage();
      page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
      await page.goto(web.url + '/');
      await page.waitForFunction(() => window.ready === true);
      if (impl === 'pouchdb') {
        await page.addScriptTag({ url: '/pouchdb/pouchdb.min.js' });
      }
      const name = `mem-${impl}-${direction}-${Date.now()}`;
      await couch.createDb(name);
      const url = couch.dbUrl(name, true);
      if (direction === 'pull') {
        const doc = await couch.request('PUT', `/${name}/big`, { kind: 'pdf' });
        const res = await fetch(`${couch.url}/${name}/big/big.bin?rev=${doc.body.rev}`, {
          method: 'PUT',
          headers: { ...auth, 'content-type': 'application/pdf' },
          body: payload,
        });
        if (!res.ok) throw new Error(`seeding failed: ${res.status}`);
      } else {
        // The attachment is made in the page, 1 MB at a time, and stored before measuring.
        await page.evaluate(
          async ({ impl, name, size }) => {
            const chunks = [];
            for (let off = 0; off < size; off += 1 << 20) {
              const n = Math.min(1 << 20, size - off);
              const c = new Uint8Array(n);
              for (let i = 0; i < n; i++) {
                const j = off + i;
                c[i] = (j * 7 + (j >> 12)) % 251;
              }
              chunks.push(new Blob([c]));
            }
            const blob = new Blob(chunks, { type: 'application/pdf' });
            const db = impl === 'settee' ? new Settee(name) : new PouchDB(name);
            await db.putAttachment('big', 'big.bin', blob, 'application/pdf');
          },
          { impl, name, size: SIZE },
        );
      }
      const cdp = await context.newCDPSession(page);
      await page.evaluate(() => {
        window.gc();
        window.__heap = { base: performance.memory.usedJSHeapSize, peak: 0 };
        window.__sampler = setInterval(() => {
          window.__heap.peak = Math.max(window.__heap.peak, performance.memory.usedJSHeapSize);
        }, 2);
      });
      let cdpPeak = 0;
      let polling = true;
      const poller = (async () => {
        while (polling) {
          try {
            const { usedSize } = await cdp.send('Runtime.getHeapUsage');
            cdpPeak = Math.max(cdpPeak, usedSize);
          } catch {}
          await new Promise((ok) => setTimeout(ok, 10));
        }
      })();
      const t0 = Date.now();
      const out = await page.evaluate(
        async ({ impl, name, url, direction }) => {
          const db = impl === 'settee' ? new Settee(name) : new PouchDB(name);
          const result = direction === 'pull' ? await db.replicate.from(url) : await db.replicate.to(url);
          clearInterval(window.__sampler);
          window.__heap.peak = Math.max(window.__heap.peak, performance.memory.usedJSHeapSize);
          let wasm;
          if (impl === 'settee') {
            const mod = await import('/pkg/settee_core.js');
            wasm = (await mod.default()).memory.buffer.byteLength;
          }
          let local;
          if (direction === 'pull') {
            const blob = await db.getAttachment('big', 'big.bin');
            const doc = await db.get('big');
            local = { size: blob.size, digest: doc._attachments['big.bin'].digest };
          }
          return { ok: result.ok !== false, written: result.docs_written, heap: window.__heap, wasm, local };
        },
        { impl, name, url, direction },
      );
      const ms = Date.now() - t0;
      polling = false;
      await poller;
      let check;
      if (direction === 'pull') {
        check = out.local.size === SIZE && out.local.digest === digest;
      } else {
        const doc = (await couch.request('GET', `/${name}/big`)).body;
        const res = await fetch(`${couch.url}/${name}/big/big.bin`, { headers: auth });
        check = doc._attachments?.['big.bin']?.digest === digest && md5(Buffer.from(await res.arrayBuffer())) === digest;
      }
      const peak = Math.max(out.heap.peak, cdpPeak);
      const run = {
        impl,
        direction,
        ms,
        written: out.written,
        verified: check,
        baselineMB: +(out.heap.base / 2 ** 20).toFixed(1),
        peakMB: +(peak / 2 ** 20).toFixed(1),
        peakOverSize: +(peak / SIZE).toFixed(2),
        wasmMB: out.wasm === undefined ? undefined : +(out.wasm / 2 ** 20).toFixed(1),
      };
      results.runs.push(run);
      console.log(JSON.stringify(run));
      await cdp.detach();
      await page.close();
    }
  }
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
  await web.close();
  await couch.stop();
}

mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(join(root, 'bench/results/attachment-memory.json'), JSON.stringify(results, null, 2) + '\n');
const bad = results.runs.filter((r) => r.impl === 'settee' && (!r.verified || r.peakOverSize >= 3));
console.log(`${results.runs.length - bad.length} passed, ${bad.length} failed`);
