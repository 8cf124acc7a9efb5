// Replication on a bad network: a live, retrying sync between Chromium (IndexedDB) and the
// test server, through a proxy that fails a seeded share of the requests (fault-proxy.mjs:
// 5xx, resets before and after the server did the work, cut and hung bodies, dropped CORS
// headers, delays). At fault rates 0.1, 0.4 and 0.7, with 3,000 docs on each side with
// updates, deletions and conflicts, both sides must end identical (every leaf, the winners
// and their `_conflicts`), with nothing lost or duplicated, and each direction's
// `docs_written` must be what a fault-free run writes: one per leaf.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { CouchServer } from './couch.mjs';
import { FAULTS, startFaultProxy } from './fault-proxy.mjs';
import { leafMap, leavesOf, plan } from './mixed-history.mjs';
import { launch, openPage, removeProfile, startServer } from './helpers.mjs';

const DOCS = Number(process.env.FAULT_DOCS ?? 3000);
/** `FAULT_RATES=0.4` runs one rate (for a quicker look); all three by default. */
const RATES = (process.env.FAULT_RATES ?? '0.1,0.4,0.7').split(',').map(Number);
/** How long one rate may take to converge before the test fails. */
const CONVERGE_MS = Number(process.env.FAULT_CONVERGE_MS ?? 240_000);

let web, browser, page, couch;
before(async () => {
  couch = await CouchServer.start();
  web = await startServer();
  browser = await launch();
  // The failed requests are the point here: the page's network errors are not printed.
  page = await openPage(browser.context, web.url, { quiet: true });
});
after(async () => {
  await browser?.context.close();
  removeProfile(browser?.profile);
  await web?.close();
  await couch?.stop();
});

/** Writes the mixed history on the server, as the admin, from node. */
async function seedServer(name, prefix, n) {
  const p = plan(prefix, n, { side: prefix });
  const post = async (body) => {
    const r = await couch.request('POST', `/${name}/_bulk_docs`, body);
    assert.ok(r.status === 201 || r.status === 200, JSON.stringify(r.body).slice(0, 300));
    return r.body;
  };
  const created = await post({ docs: p.creates });
  const revs = new Map(created.map((r) => [r.id, r.rev]));
  const edits = p.updated.map((id) => ({ ...p.creates.find((d) => d._id === id), _rev: revs.get(id), edited: true }));
  for (const r of await post({ docs: edits })) revs.set(r.id, r.rev);
  await post({ docs: p.conflicts, new_edits: false });
  // The deletions go to the revs written above, whichever branch is the winner now.
  const winners = await couch.request('POST', `/${name}/_all_docs`, { keys: p.deleted });
  await post({ docs: winners.body.rows.map((r) => ({ _id: r.id, _rev: r.value.rev, _deleted: true })) });
}

async function serverState(name) {
  const changes = (await couch.request('GET', `/${name}/_changes?style=all_docs`)).body.results;
  const all = (await couch.request('GET', `/${name}/_all_docs?include_docs=true&conflicts=true`)).body.rows;
  const winners = all.map((r) => [r.id, r.doc._rev, (r.doc._conflicts ?? []).slice().sort()]);
  return { leaves: leafMap(changes), winners };
}

async function localState(name) {
  return page.evaluate(async (name) => {
    const db = new Settee(name);
    const changes = (await db.changes({ style: 'all_docs' })).results;
    const all = (await db.allDocs({ include_docs: true, conflicts: true })).rows;
    return {
      changes,
      winners: all.map((r) => [r.id, r.doc._rev, (r.doc._conflicts ?? []).slice().sort()]),
    };
  }, name).then((s) => ({ leaves: leafMap(s.changes), winners: s.winners }));
}

for (const rate of RATES) {
  const seed = 11 + Math.round(rate * 10);
  test(`a live, retrying sync through a proxy failing ${rate * 100}% of requests converges and counts like a fault-free one`, async () => {
    const remote = await couch.freshDb(`faults-${rate * 10}`);
    await seedServer(remote.name, 's', DOCS);
    const local = `faults-${rate * 10}-${Date.now()}`;
    const p = plan('l', DOCS, { side: 'l' });
    await page.evaluate(async ({ local, p }) => {
      const db = new Settee(local);
      await db.bulkDocs(p.creates);
      const docs = await db.allDocs({ keys: p.updated, include_docs: true });
      await db.bulkDocs(docs.rows.map((r) => ({ ...r.doc, edited: true })));
      await db.bulkDocs(p.conflicts, { new_edits: false });
      const gone = await db.allDocs({ keys: p.deleted });
      await db.bulkDocs(gone.rows.map((r) => ({ _id: r.id, _rev: r.value.rev, _deleted: true })));
    }, { local, p });
    const proxy = await startFaultProxy({ target: couch.url, rate, seed });
    const started = Date.now();
    try {
      await page.evaluate(({ local, url }) => {
        // In-flight requests, for the report of a stall.
        window.__inflight = new Map();
        window.__timeline = [];
        window.__t0 = Date.now();
        if (!window.__fetch) {
          window.__fetch = window.fetch.bind(window);
          let n = 0;
          window.fetch = (input, init) => {
            const key = ++n;
            const what = `${init?.method ?? input.method ?? 'GET'} ${input.url ?? input}`;
            window.__inflight.set(key, { what, at: Date.now() });
            const done = (r) => {
              const started = window.__inflight.get(key).at;
              window.__timeline.push(`${started - window.__t0} +${Date.now() - started} ${r?.status ?? 'ERR'} ${what.replace(/^(\w+) http:\/\/[^/]+/, '$1 ')}`);
              window.__inflight.delete(key);
            };
            const p = window.__fetch(input, init);
            p.then(done, done);
            return p;
          };
        }
        const db = new Settee(local);
        const state = { written: { push: 0, pull: 0 }, errors: [], paused: 0 };
        window.__faults = state;
        state.sync = db
          .sync(url, { live: true, retry: true, batch_size: 500, back_off_base: 500, request_timeout: 3000 })
          .on('change', (info) => (state.written[info.direction] = info.change.docs_written))
          .on('paused', (e) => e && state.paused++)
          .on('error', (e) => state.errors.push(`${e.name}: ${e.message}`));
      }, { local, url: proxy.via(remote.url) });
      const want = leavesOf(DOCS);
      let server, mine;
      for (;;) {
        const progress = await page.evaluate(() => ({ ...window.__faults.written, errors: window.__faults.errors }));
        assert.deepEqual(progress.errors, [], 'the sync never gives up');
        if (progress.push >= want && progress.pull >= want) {
          [server, mine] = await Promise.all([serverState(remote.name), localState(local)]);
          if (isDeepStrictEqual(server.leaves, mine.leaves)) break;
        }
        if (Date.now() - started > CONVERGE_MS) {
          const differ = server
            ? Object.keys({ ...server.leaves, ...mine.leaves }).filter((id) => server.leaves[id] !== mine.leaves[id])
            : [];
          const sample = differ.slice(0, 3).map((id) => `${id}: server ${server.leaves[id]} / local ${mine.leaves[id]}`);
          if (process.env.FAULT_TIMELINE) {
            const { writeFileSync } = await import('node:fs');
            writeFileSync(process.env.FAULT_TIMELINE, (await page.evaluate(() => window.__timeline)).join('\n'));
          }
          const stuck = await page.evaluate(() =>
            [...window.__inflight.values()].map((r) => `${Math.round((Date.now() - r.at) / 1000)}s ${r.what}`),
          );
          const t = Date.now();
          const direct = await couch.request('GET', `/${remote.name}`).then((r) => r.status, (e) => e.message);
          const health = `server alive ${couch.alive}, answers ${direct} in ${Date.now() - t} ms, proxy ${JSON.stringify(await proxy.connections())}`;
          assert.fail(
            `${health}; in flight: ${stuck.join(' | ')}; not converged after ${CONVERGE_MS} ms: ${JSON.stringify(progress)}, ${differ.length} docs differ (${sample.join('; ')}), proxy ${JSON.stringify(proxy.stats)}`,
          );
        }
        await new Promise((ok) => setTimeout(ok, 250));
      }
      const took = Date.now() - started;
      const r = await page.evaluate(async () => {
        const s = window.__faults;
        s.sync.cancel();
        const result = await s.sync;
        return { result, written: s.written, paused: s.paused };
      });
      console.log(`rate ${rate}: converged in ${took} ms; ${r.paused} paused passes; proxy ${JSON.stringify(proxy.stats)}`);
      assert.equal(Object.keys(server.leaves).length, 2 * DOCS, 'every doc, none duplicated');
      assert.deepEqual(mine.leaves, server.leaves);
      assert.deepEqual(mine.winners, server.winners, 'the same winners and _conflicts');
      assert.deepEqual(r.written, { push: want, pull: want }, 'one write per leaf, as without faults');
      assert.equal(r.result.push.doc_write_failures + r.result.pull.doc_write_failures, 0);
      const failed = FAULTS.filter((f) => f !== 'delay').reduce((n, f) => n + proxy.stats[f], 0);
      assert.ok(failed >= proxy.stats.requests * rate * 0.5, `faults struck: ${failed} of ${proxy.stats.requests} requests failed`);
    } finally {
      await page.evaluate(() => window.__faults?.sync.cancel());
      await proxy.close();
    }
  });
}
