// The crash matrix: Chromium killed (SIGKILL) or its page closed at seeded random moments
// during four kinds of work, 13 kill points each (52 in all):
//   bulkDocs     8 bulkDocs of 1,000 docs, one after the other, each tagged with its batch;
//   compaction   compact() of a database written as 40 small batches, with writes going on;
//   view build   the first query of a view over 3,000 docs;
//   replication  a pull of 3,000 docs from pouchdb-server in batches of 200.
// After each, the browser is started again on the same profile and the database must pass
// `db.verify()` (every chunk the manifest lists is there and decodes, runs are sorted, the
// doc and seq indexes agree), every batch must be all there or not at all, a view must
// answer in full, and a replication must resume from its checkpoint, not from 0.
//
// `CRASH_SEED` moves the kill points (default 1); `CRASH_ROUNDS` sets how many per kind.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { CouchServer } from './couch.mjs';
import { prng } from './fault-proxy.mjs';
import { crash, launch, newProfile, openPage, removeProfile, startServer, uniqueName } from './helpers.mjs';

const ROUNDS = Number(process.env.CRASH_ROUNDS ?? 13);
const SEED = Number(process.env.CRASH_SEED ?? 1);
const PULL_DOCS = 3000;

let web, couch, remote;
before(async () => {
  web = await startServer();
  couch = await CouchServer.start();
  remote = await couch.freshDb('crash-pull');
  const docs = Array.from({ length: PULL_DOCS }, (_, i) => ({ _id: `r${String(i).padStart(5, '0')}`, i }));
  await couch.request('POST', `/${remote.name}/_bulk_docs`, { docs });
});
after(async () => {
  await web?.close();
  await couch?.stop();
});

/** Set-up (awaited) and the work to interrupt (started, not awaited), per kind, in the page. */
const WORK = {
  bulkDocs: {
    setup: async () => {},
    start: (name) => {
      window.__done = 0;
      (async () => {
        const db = new Settee(name);
        for (let b = 0; b < 8; b++) {
          await db.bulkDocs(Array.from({ length: 1000 }, (_, i) => ({ _id: `b${b}-${String(i).padStart(4, '0')}`, batch: b })));
          window.__done = b + 1;
        }
      })();
    },
  },
  compaction: {
    setup: async (name) => {
      const db = new Settee(name);
      for (let b = 0; b < 40; b++) {
        await db.bulkDocs(Array.from({ length: 100 }, (_, i) => ({ _id: `c${b}-${String(i).padStart(3, '0')}`, batch: b })));
      }
    },
    start: (name) => {
      window.__done = 40;
      (async () => {
        const db = new Settee(name);
        const compacting = db.compact();
        for (let b = 40; b < 44; b++) {
          await db.bulkDocs(Array.from({ length: 100 }, (_, i) => ({ _id: `c${b}-${String(i).padStart(3, '0')}`, batch: b })));
          window.__done = b + 1;
        }
        await compacting;
      })();
    },
  },
  view: {
    setup: async (name) => {
      const db = new Settee(name);
      await db.put({ _id: '_design/v', views: { by_n: { map: 'function (doc) { if (doc.n !== undefined) emit(doc.n, 1); }', reduce: '_count' } } });
      await db.bulkDocs(Array.from({ length: 3000 }, (_, i) => ({ _id: `v${String(i).padStart(4, '0')}`, n: i % 50 })));
    },
    start: (name) => {
      window.__done = 0;
      new Settee(name).query('v/by_n', { reduce: false, limit: 1 }).then(() => (window.__done = 1));
    },
  },
  replication: {
    setup: async () => {},
    start: (name, url) => {
      window.__done = 0;
      new Settee(name).replicate.from(url, { batch_size: 200 }).on('change', (c) => (window.__done = c.docs_written));
    },
  },
};

/** After a relaunch: verify, then what each kind must hold. */
async function check(page, kind, name, url) {
  return page.evaluate(
    async ({ kind, name, url }) => {
      const db = new Settee(name);
      const verify = await db.verify().then((r) => r, (e) => ({ failed: `${e.name}: ${e.message}` }));
      const rows = (await db.allDocs({ include_docs: true })).rows.filter((r) => !r.id.startsWith('_design/'));
      const batches = {};
      for (const r of rows) batches[r.doc.batch ?? 'none'] = (batches[r.doc.batch ?? 'none'] ?? 0) + 1;
      const out = { verify, docs: rows.length, batches, info: await db.info() };
      if (kind === 'view') {
        const all = await db.query('v/by_n', { reduce: false });
        const counted = await db.query('v/by_n', { reduce: true });
        out.view = { rows: all.rows.length, total: all.total_rows, count: counted.rows[0]?.value };
      }
      if (kind === 'replication') {
        const before = rows.length;
        const feeds = [];
        const original = window.fetch;
        window.fetch = (input, init) => {
          const u = String(input.url ?? input);
          if (u.includes('/_changes')) feeds.push(new URL(u).searchParams.get('since'));
          return original(input, init);
        };
        const again = await db.replicate.from(url, { batch_size: 200 });
        window.fetch = original;
        const since = Number(feeds[0]);
        out.resume = { before, since, read: again.docs_read, after: (await db.info()).doc_count };
      }
      return out;
    },
    { kind, name, url },
  );
}

test(`${4 * ROUNDS} seeded kill points during bulkDocs, compaction, view builds and replication leave a database that verifies`, async () => {
  const random = prng(SEED);
  const profile = newProfile();
  const outcomes = [];
  try {
    // How long each kind of work takes here, to spread the kill points over it.
    let browser = await launch(profile);
    let page = await openPage(browser.context, web.url);
    const took = {};
    for (const [kind, w] of Object.entries(WORK)) {
      const name = uniqueName(`warm-${kind}`);
      await page.evaluate(`(${w.setup.toString()})(${JSON.stringify(name)})`);
      const t = Date.now();
      await page.evaluate(`(${w.start.toString()})(${JSON.stringify(name)}, ${JSON.stringify(remote.url)})`);
      const want = { bulkDocs: 8, compaction: 44, view: 1, replication: PULL_DOCS }[kind];
      await page.waitForFunction((want) => window.__done >= want, want, { timeout: 120_000 });
      took[kind] = Date.now() - t;
    }
    await browser.context.close();
    console.log(`  work times (ms): ${JSON.stringify(took)}`);

    for (let round = 0; round < ROUNDS; round++) {
      for (const [kind, w] of Object.entries(WORK)) {
        const name = uniqueName(`crash-${kind}`);
        const how = random() < 0.5 ? 'kill browser' : 'close page';
        const at = Math.round(random() * took[kind] * 1.1);
        browser = await launch(profile);
        page = await openPage(browser.context, web.url);
        await page.evaluate(`(${w.setup.toString()})(${JSON.stringify(name)})`);
        await page.evaluate(`(${w.start.toString()})(${JSON.stringify(name)}, ${JSON.stringify(remote.url)})`);
        await sleep(at);
        const doneAtKill = await page.evaluate(() => window.__done);
        await crash(browser, page, how);
        browser = await launch(profile);
        page = await openPage(browser.context, web.url);
        const r = await check(page, kind, name, remote.url);
        await browser.context.close();
        const what = `${kind}, ${how} at ${at} ms (done: ${doneAtKill})`;
        outcomes.push(`${what}: ${r.docs} docs`);
        assert.equal(r.verify.ok, true, `${what}: verify ${JSON.stringify(r.verify)}`);
        assert.equal(r.info.doc_count, r.docs + (kind === 'view' ? 1 : 0), `${what}: doc_count agrees with allDocs`);
        if (kind === 'bulkDocs' || kind === 'compaction') {
          const size = kind === 'bulkDocs' ? 1000 : 100;
          for (const [batch, n] of Object.entries(r.batches)) {
            assert.equal(n, size, `${what}: batch ${batch} has ${n} of ${size} docs`);
          }
          assert.ok(Object.keys(r.batches).length >= doneAtKill, `${what}: a batch that resolved was lost`);
        }
        if (kind === 'view') {
          assert.deepEqual(r.view, { rows: 3000, total: 3000, count: 3000 }, what);
        }
        if (kind === 'replication') {
          assert.equal(r.resume.after, PULL_DOCS, `${what}: everything after the resume`);
          assert.equal(r.resume.read, PULL_DOCS - r.resume.before, `${what}: read what was missing`);
          // The server's seqs here are 1..3000 in doc order. Up to two written batches may
          // still await their checkpoint when the browser dies (one is checkpointed while the
          // next is written).
          assert.ok(r.resume.since >= r.resume.before - 400, `${what}: resumed from since=${r.resume.since}, not near ${r.resume.before}`);
        }
      }
    }
    console.log(`  outcomes: ${outcomes.join('; ')}`);
  } finally {
    removeProfile(profile);
  }
});
