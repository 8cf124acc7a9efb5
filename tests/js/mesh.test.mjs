// A full mesh set up only through `_replicator` docs (issue 17): three browsers, each with
// its own local database `mesh`, and two server databases S1 and S2. Each browser's
// `_replicator` syncs its `mesh` with S1 and pulls from S2; the push to S2 comes from a
// `_replicator` doc that is itself replicated into every browser from the server's
// `mesh-config` database (how a new node is configured); S1 ⇄ S2 run in the first browser.
// Concurrent edits of one doc on all five nodes, plus new docs on each, converge to the same
// leaves and the same winner everywhere, and then nothing moves any more: applied revisions
// are not sent around the mesh again.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CouchServer } from './couch.mjs';
import { ENGINE, eventually, launch, openPage, removeProfile, sleep, startServer } from './helpers.mjs';
import { leafMap } from './mixed-history.mjs';

const skip = ENGINE !== 'chromium' && 'three browsers at once: run in Chromium only, for time';
let web, couch;
const browsers = [];
const pages = [];
before(async () => {
  if (skip) return;
  couch = await CouchServer.start();
  web = await startServer();
  for (let i = 0; i < 3; i++) {
    const b = await launch();
    browsers.push(b);
    pages.push(await openPage(b.context, web.url));
  }
});
after(async () => {
  for (const b of browsers) {
    await b.context.close();
    removeProfile(b.profile);
  }
  await web?.close();
  await couch?.stop();
});

/** A node's leaves and winners: `{id: 'leaves… [deleted] → winner'}`. */
async function serverState(db) {
  const [changes, all] = await Promise.all([
    couch.request('GET', `/${db}/_changes?style=all_docs`),
    couch.request('GET', `/${db}/_all_docs`),
  ]);
  return withWinners(leafMap(changes.body.results), all.body.rows);
}
const pageState = (page) =>
  page.evaluate(async () => {
    const db = new Settee('mesh');
    return { changes: (await db.changes({ style: 'all_docs' })).results, rows: (await db.allDocs()).rows };
  }).then(({ changes, rows }) => withWinners(leafMap(changes), rows));
function withWinners(leaves, rows) {
  const winners = Object.fromEntries(rows.map((r) => [r.id, r.value.rev]));
  // Sorted by id: each node lists its changes in its own order.
  const entries = Object.entries(leaves).map(([id, l]) => [id, `${l} → ${winners[id] ?? 'deleted'}`]);
  return Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
const seqOf = async (db) => JSON.stringify((await couch.request('GET', `/${db}`)).body.update_seq);
const pageSeq = (page) => page.evaluate(async () => JSON.stringify((await new Settee('mesh').info()).update_seq));

test('a five-node mesh from _replicator docs converges to one state and then stays still', { skip }, async () => {
  const [s1, s2, config] = [await couch.freshDb('mesh-s1'), await couch.freshDb('mesh-s2'), await couch.freshDb('mesh-config')];
  // The config every node pulls into its `_replicator`: push `mesh` to S2.
  await couch.request('PUT', `/${config.name}/to-s2`, { source: 'mesh', target: s2.url, continuous: true });
  // Concurrent edits before any replication: one doc `shared` written on all five nodes.
  for (const [i, page] of pages.entries()) {
    await page.evaluate(async (i) => {
      const db = new Settee('mesh');
      await db.put({ _id: 'shared', by: `page${i}` });
      await db.bulkDocs(Array.from({ length: 10 }, (_, k) => ({ _id: `p${i}-${k}`, k })));
    }, i);
  }
  for (const s of [s1, s2]) {
    await couch.request('PUT', `/${s.name}/shared`, { by: s.name });
    await couch.request('POST', `/${s.name}/_bulk_docs`, { docs: Array.from({ length: 10 }, (_, k) => ({ _id: `${s.name}-${k}` })) });
  }
  for (const [i, page] of pages.entries()) {
    await page.evaluate(
      async ({ i, s1, s2, config }) => {
        const jobs = [
          { _id: 'to-s1', source: 'mesh', target: s1, continuous: true },
          { _id: 'from-s1', source: s1, target: 'mesh', continuous: true },
          { _id: 'from-s2', source: s2, target: 'mesh', continuous: true },
          { _id: 'config', source: config, target: '_replicator', continuous: true },
        ];
        if (i === 0) {
          jobs.push({ _id: 's1-s2', source: s1, target: s2, continuous: true });
          jobs.push({ _id: 's2-s1', source: s2, target: s1, continuous: true });
        }
        await new Settee('_replicator').bulkDocs(jobs);
        Settee.startReplicator();
      },
      { i, s1: s1.url, s2: s2.url, config: config.url },
    );
  }
  // More writes while the mesh runs: a second edit of `shared` on one page, new docs on another.
  await pages[1].evaluate(async () => {
    const db = new Settee('mesh');
    await db.put({ ...(await db.get('shared')), second: true });
    await db.put({ _id: 'late', at: Date.now() });
  });

  // The config doc arrived in every browser's `_replicator` and runs there.
  for (const page of pages) {
    await eventually('to-s2 running', async () =>
      (await page.evaluate(() => Settee.activeTasks())).some((t) => t.doc_id === 'to-s2' && t.state === 'running'),
    );
  }
  let states;
  await eventually(
    'all five nodes alike',
    async () => {
      states = await Promise.all([serverState(s1.name), serverState(s2.name), ...pages.map(pageState)]);
      const first = JSON.stringify(states[0]);
      return Object.keys(states[0]).length === 3 * 10 + 2 * 10 + 2 && states.every((s) => JSON.stringify(s) === first);
    },
    60000,
    500,
  ).catch((e) => {
    console.log(JSON.stringify(states.map((s) => [Object.keys(s).length, s.shared, s.late])));
    throw e;
  });
  const shared = states[0].shared.split(' → ');
  assert.equal(shared[0].split(' ').length, 5, `five conflicting leaves of shared: ${shared[0]}`);
  // Still: nothing moves on any node once converged.
  const seqs = async () => [await seqOf(s1.name), await seqOf(s2.name), ...(await Promise.all(pages.map(pageSeq)))];
  const settled = await seqs();
  await sleep(4000);
  assert.deepEqual(await seqs(), settled, 'no revision goes around the mesh again');
  // Every job is still running (none failed), and no `_replicator` doc got a state written.
  for (const page of pages) {
    const tasks = await page.evaluate(() => Settee.activeTasks());
    assert.ok(tasks.length >= 5, JSON.stringify(tasks));
    assert.ok(tasks.every((t) => t.state === 'running'), JSON.stringify(tasks.map((t) => [t.doc_id, t.state, t.info.error])));
  }
  for (const page of pages) await page.evaluate(() => Settee.stopReplicator());
});
