// The `_replicator` database (`Settee.startReplicator`), in Chromium against pouchdb-server:
// one-shot jobs complete and write their state back, continuous jobs follow the server until
// their doc is deleted, an edited doc restarts, a bad doc fails alone, and a restarted
// replicator neither re-runs a completed doc nor starts a continuous one from scratch.
import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';
import { ADMIN, CouchServer } from './couch.mjs';
import { eventually, launch, openPage, removeProfile, sleep, startServer, uniqueName } from './helpers.mjs';

let web, browser, page, couch;
before(async () => {
  couch = await CouchServer.start();
  web = await startServer();
  browser = await launch();
  page = await openPage(browser.context, web.url);
});
after(async () => {
  await browser?.context.close();
  removeProfile(browser?.profile);
  await web?.close();
  await couch?.stop();
});
// Each test leaves `_replicator` empty and the replicator stopped.
afterEach(async () => {
  await couch.ensureUp();
  await page.evaluate(async () => {
    await Settee.stopReplicator();
    const db = new Settee('_replicator');
    const { rows } = await db.allDocs();
    await db.bulkDocs(rows.map((r) => ({ _id: r.id, _rev: r.value.rev, _deleted: true })));
  });
});

/** Writes `_replicator` docs in the page. */
const putJobs = (docs) =>
  page.evaluate(async (docs) => {
    const db = new Settee('_replicator');
    for (const doc of docs) {
      const old = await db.get(doc._id).catch(() => null);
      await db.put(old ? { ...doc, _rev: old._rev } : doc);
    }
  }, docs);

const jobDoc = (id) => page.evaluate((id) => new Settee('_replicator').get(id).catch((e) => ({ missing: e.status })), id);
const tasks = () => page.evaluate(() => Settee.activeTasks());
const task = async (docId) => (await tasks()).find((t) => t.doc_id === docId);
const localIds = (name) =>
  page.evaluate(async (name) => (await new Settee(name).allDocs()).rows.map((r) => r.id), name);
const start = () => page.evaluate(() => void Settee.startReplicator());

test('a one-shot local-to-local doc completes and gets its state and stats written back', async () => {
  const [src, tgt] = [uniqueName('src'), uniqueName('tgt')];
  await page.evaluate(async (src) => {
    await new Settee(src).bulkDocs([{ _id: 'a' }, { _id: 'b' }, { _id: 'c' }]);
  }, src);
  await putJobs([{ _id: 'local', source: src, target: tgt }]);
  await start();
  const doc = await eventually('completed state', async () => {
    const d = await jobDoc('local');
    return d._replication_state === 'completed' && d;
  });
  assert.equal(doc._replication_stats.docs_written, 3);
  assert.equal(doc._replication_stats.docs_read, 3);
  assert.ok(doc._replication_state_time);
  assert.match(doc._replication_id, /^[0-9a-f]{32}$/);
  assert.deepEqual(await localIds(tgt), ['a', 'b', 'c']);
  const t = await task('local');
  assert.equal(t.state, 'completed');
  assert.equal(t.database, '_replicator');
  assert.equal(t.id, doc._replication_id);
  assert.deepEqual([t.source, t.target], [src, tgt]);
  assert.equal(t.info.docs_written, 3);
  // Its own state write did not restart it: still one completed run, one state rev.
  await sleep(500);
  assert.equal((await jobDoc('local'))._rev, doc._rev);
});

test('a one-shot pull from the server URL completes, and the task shows the URL without credentials', async () => {
  const remote = await couch.freshDb('rdb-pull');
  await couch.request('POST', `/${remote.name}/_bulk_docs`, { docs: [{ _id: 'x' }, { _id: 'y' }] });
  const tgt = uniqueName('pulled');
  await putJobs([{ _id: 'pull', source: remote.url, target: tgt }]);
  await start();
  const doc = await eventually('completed', async () => {
    const d = await jobDoc('pull');
    return d._replication_state === 'completed' && d;
  });
  assert.equal(doc._replication_stats.docs_written, 2);
  assert.deepEqual(await localIds(tgt), ['x', 'y']);
  const t = await task('pull');
  assert.equal(t.source, remote.plainUrl);
  assert.ok(!JSON.stringify(await tasks()).includes(ADMIN.password));
});

test('a continuous doc keeps syncing and runs in activeTasks; deleting the doc stops it', async () => {
  const remote = await couch.freshDb('rdb-live');
  await couch.request('PUT', `/${remote.name}/first`, { n: 1 });
  const tgt = uniqueName('live');
  const source = { url: remote.plainUrl, auth: { basic: { username: ADMIN.username, password: ADMIN.password } } };
  await putJobs([{ _id: 'live', source, target: tgt, continuous: true }]);
  await start();
  await eventually('first doc', async () => (await localIds(tgt)).includes('first'));
  await couch.request('PUT', `/${remote.name}/second`, { n: 2 });
  await eventually('a later server write', async () => (await localIds(tgt)).includes('second'), 10000);
  const t = await eventually('running task with counts', async () => {
    const t = await task('live');
    return t?.state === 'running' && t.info.docs_written >= 2 && t;
  });
  assert.equal(t.source, remote.plainUrl);
  // Nothing is written back while it runs.
  assert.equal((await jobDoc('live'))._replication_state, undefined);

  await page.evaluate(async () => {
    const db = new Settee('_replicator');
    await db.remove(await db.get('live'));
  });
  await eventually('task gone', async () => (await task('live')) === undefined);
  await couch.request('PUT', `/${remote.name}/third`, { n: 3 });
  await sleep(2500);
  assert.deepEqual(await localIds(tgt), ['first', 'second']);
});

test('an edited doc restarts its replication into the new target', async () => {
  const src = uniqueName('esrc');
  const [t1, t2] = [uniqueName('t1'), uniqueName('t2')];
  await page.evaluate(async (src) => new Settee(src).put({ _id: 'doc' }), src);
  await putJobs([{ _id: 'edit', source: src, target: t1, continuous: true }]);
  await start();
  await eventually('first target', async () => (await localIds(t1)).includes('doc'));
  const firstId = (await task('edit')).id;
  await putJobs([{ _id: 'edit', source: src, target: t2, continuous: true }]);
  await eventually('new target', async () => (await localIds(t2)).includes('doc'));
  const t = await task('edit');
  assert.notEqual(t.id, firstId);
  assert.equal(t.target, t2);
  // The old job is cancelled: a new source write reaches only the new target.
  await page.evaluate(async (src) => new Settee(src).put({ _id: 'later' }), src);
  await eventually('later in new target', async () => (await localIds(t2)).includes('later'));
  await sleep(500);
  assert.deepEqual(await localIds(t1), ['doc']);
});

test('a bad doc fails with a reason while the other docs still run', async () => {
  const [src, tgt] = [uniqueName('bsrc'), uniqueName('btgt')];
  await page.evaluate(async (src) => new Settee(src).put({ _id: 'ok' }), src);
  await putJobs([
    { _id: 'nosource', target: tgt },
    { _id: 'badurl', source: 'http://', target: tgt },
    { _id: 'badfilter', source: src, target: tgt, filter: 'nofilter' },
    { _id: 'good', source: src, target: tgt },
    { _id: '_design/ignored', source: 42 },
  ]);
  await start();
  const bad = await eventually('failed state', async () => {
    const d = await jobDoc('nosource');
    return d._replication_state === 'failed' && d;
  });
  assert.match(bad._replication_state_reason, /Missing `source`/);
  await eventually('bad url failed', async () => (await jobDoc('badurl'))._replication_state === 'failed');
  const f = await eventually('bad filter failed', async () => {
    const d = await jobDoc('badfilter');
    return d._replication_state === 'failed' && d;
  });
  assert.match(f._replication_state_reason, /Unknown filter/);
  await eventually('good completed', async () => (await jobDoc('good'))._replication_state === 'completed');
  assert.deepEqual(await localIds(tgt), ['ok']);
  const t = await task('nosource');
  assert.equal(t.state, 'failed');
  assert.match(t.info.error, /Missing `source`/);
  assert.equal(await task('_design/ignored'), undefined);
});

test('a missing remote source fails the doc (404) instead of retrying forever', async () => {
  const url = couch.dbUrl(uniqueName('nosuchdb').toLowerCase(), true);
  await putJobs([{ _id: 'missing', source: url, target: uniqueName('m') }]);
  await start();
  const d = await eventually('failed', async () => {
    const d = await jobDoc('missing');
    return d._replication_state === 'failed' && d;
  });
  assert.match(d._replication_state_reason, /not_found|missing|Database does not exist/i);
});

test('after a restart a completed doc is not re-run and a continuous one resumes from its checkpoint', async () => {
  const [src, done] = [uniqueName('rsrc'), uniqueName('rdone')];
  const remote = await couch.freshDb('rdb-resume');
  await couch.request('POST', `/${remote.name}/_bulk_docs`, { docs: [{ _id: 'r1' }, { _id: 'r2' }, { _id: 'r3' }] });
  const liveTgt = uniqueName('rlive');
  await page.evaluate(async (src) => new Settee(src).bulkDocs([{ _id: 'a' }, { _id: 'b' }]), src);
  await putJobs([
    { _id: 'once', source: src, target: done },
    { _id: 'follow', source: remote.url, target: liveTgt, continuous: true },
  ]);
  await start();
  const once = await eventually('once completed', async () => {
    const d = await jobDoc('once');
    return d._replication_state === 'completed' && d;
  });
  await eventually('live caught up', async () => (await localIds(liveTgt)).length === 3);

  await page.evaluate(() => Settee.stopReplicator());
  assert.deepEqual(await tasks(), []);
  // A change made while stopped on both sources.
  await page.evaluate(async (src) => new Settee(src).put({ _id: 'c' }), src);
  await couch.request('PUT', `/${remote.name}/r4`, {});
  await start();
  await eventually('live resumed', async () => (await localIds(liveTgt)).length === 4);
  const t = await eventually('live task counts', async () => {
    const t = await task('follow');
    return t?.info.docs_read > 0 && t;
  });
  // From the checkpoint: only the new doc was read, not the 3 from before.
  assert.equal(t.info.docs_read, 1);
  const again = await task('once');
  assert.equal(again.state, 'completed');
  assert.equal(again.info.docs_written, 2);
  await sleep(500);
  assert.equal((await jobDoc('once'))._rev, once._rev);
  assert.deepEqual(await localIds(done), ['a', 'b']);
  // startReplicator is idempotent.
  assert.equal(await page.evaluate(() => Settee.startReplicator() === Settee.startReplicator()), true);
});

test('a wrong password fails the doc with a 401 reason that hides the password', async () => {
  const remote = await couch.freshDb('rdb-auth');
  const source = { url: remote.plainUrl, auth: { basic: { username: ADMIN.username, password: 'not-it-xyz' } } };
  await putJobs([{ _id: 'auth', source, target: uniqueName('a'), continuous: true }]);
  await start();
  const d = await eventually('failed', async () => {
    const d = await jobDoc('auth');
    return d._replication_state === 'failed' && d;
  });
  assert.match(d._replication_state_reason, /unauthorized/);
  assert.ok(!d._replication_state_reason.includes('not-it-xyz'));
  assert.equal((await task('auth')).state, 'failed');
});

test('a continuous job is crashing while the server is down, and running again after', async (t) => {
  if (!couch.canRestart) return t.skip('needs a server the tests can kill and restart, not one at COUCH_URL');
  const remote = await couch.freshDb('rdb-down');
  await couch.request('PUT', `/${remote.name}/before`, {});
  const tgt = uniqueName('down');
  await putJobs([{ _id: 'down', source: remote.url, target: tgt, continuous: true }]);
  await start();
  await eventually('first doc', async () => (await localIds(tgt)).includes('before'));
  await couch.kill();
  const crashing = await eventually('crashing', async () => {
    const t = await task('down');
    return t?.state === 'crashing' && t;
  }, 60000);
  assert.ok(crashing.info.error);
  // Transient errors are not written into the doc.
  assert.equal((await jobDoc('down'))._replication_state, undefined);
  await couch.restart();
  await couch.request('PUT', `/${remote.name}/after`, {});
  await eventually('after the restart', async () => (await localIds(tgt)).includes('after'), 60000);
  await eventually('running again', async () => (await task('down'))?.state === 'running');
});

test('create_target creates a missing remote target; without it the push fails', async () => {
  const src = uniqueName('csrc');
  await page.evaluate(async (src) => new Settee(src).bulkDocs([{ _id: 'p1' }, { _id: 'p2' }]), src);
  const made = uniqueName('made').toLowerCase();
  const absent = uniqueName('absent').toLowerCase();
  await putJobs([
    { _id: 'create', source: src, target: couch.dbUrl(made, true), create_target: true },
    { _id: 'nocreate', source: src, target: couch.dbUrl(absent, true) },
  ]);
  await start();
  await eventually('create completed', async () => (await jobDoc('create'))._replication_state === 'completed');
  const all = (await couch.request('GET', `/${made}/_all_docs`)).body;
  assert.deepEqual(all.rows.map((r) => r.id), ['p1', 'p2']);
  await eventually('nocreate failed', async () => (await jobDoc('nocreate'))._replication_state === 'failed');
  assert.equal((await couch.request('GET', `/${absent}`)).status, 404);
});

test('doc_ids and selector in a doc filter what is replicated', async () => {
  const src = uniqueName('fsrc');
  const [byIds, bySelector] = [uniqueName('ids'), uniqueName('sel')];
  await page.evaluate(
    async (src) => new Settee(src).bulkDocs([{ _id: 'a', k: 1 }, { _id: 'b', k: 2 }, { _id: 'c', k: 1 }]),
    src,
  );
  await putJobs([
    { _id: 'ids', source: src, target: byIds, doc_ids: ['b'] },
    { _id: 'sel', source: src, target: bySelector, selector: { k: 1 } },
  ]);
  await start();
  await eventually('both completed', async () =>
    (await jobDoc('ids'))._replication_state === 'completed' && (await jobDoc('sel'))._replication_state === 'completed',
  );
  assert.deepEqual(await localIds(byIds), ['b']);
  assert.deepEqual(await localIds(bySelector), ['a', 'c']);
});
