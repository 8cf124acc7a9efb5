// One replicator for all tabs: a live replication started in several pages of one browser
// runs in exactly one of them (Web Locks), the others mirror its events (BroadcastChannel),
// and when the running page closes another takes over from the checkpoint. Checked at the
// server, through a counting proxy: never more than one longpoll for the replication.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CouchServer } from './couch.mjs';
import { startFaultProxy } from './fault-proxy.mjs';
import { eventually, launch, openPage, removeProfile, sleep, startServer, uniqueName } from './helpers.mjs';

let web, browser, couch, proxy;
before(async () => {
  couch = await CouchServer.start();
  proxy = await startFaultProxy({ target: couch.url });
  web = await startServer();
  browser = await launch();
});
after(async () => {
  await browser?.context.close();
  removeProfile(browser?.profile);
  await web?.close();
  await proxy?.close();
  await couch?.stop();
});

/** Starts the same live sync in `page` and records its events in `window.events`. */
const startSync = (page, local, remote, options = {}) =>
  page.evaluate(
    ({ local, remote, options }) => {
      window.events = [];
      window.rep = new Settee(local).sync(remote, { live: true, retry: true, ...options });
      for (const name of ['change', 'active', 'paused', 'error', 'complete']) {
        window.rep.on(name, (info) => window.events.push({ name, direction: info?.direction, docs: info?.change?.docs?.length }));
      }
    },
    { local, remote, options },
  );

const running = (page) => page.evaluate(() => window.rep.running);
const localCount = (page, name) => page.evaluate(async (name) => (await new Settee(name).allDocs()).total_rows, name);
const pulledDocs = (page) =>
  page.evaluate(() => window.events.filter((e) => e.name === 'change' && e.direction === 'pull').reduce((n, e) => n + e.docs, 0));

/** How many pull passes started from the beginning (the first `_changes` of a replication). */
const initialPulls = () => proxy.stats.log.filter((l) => /^GET .*\/_changes\?.*since=0&/.test(l)).length;

async function serverPut(db, docs) {
  const r = await couch.request('POST', `/${db}/_bulk_docs`, { docs });
  assert.equal(r.status, 201, JSON.stringify(r.body));
}

test('a live sync started in three tabs runs in one; the others mirror it; closing it hands over', async () => {
  const remote = await couch.freshDb('tabs');
  const local = uniqueName('tabs');
  const pages = [];
  for (let i = 0; i < 3; i++) pages.push(await openPage(browser.context, web.url));
  proxy.resetPeak();
  for (const page of pages) await startSync(page, local, proxy.via(remote.url));
  // Exactly one page runs it.
  const leaders = await eventually('one running tab', async () => {
    const flags = await Promise.all(pages.map(running));
    return flags.filter(Boolean).length === 1 && flags;
  });
  const leader = pages[leaders.indexOf(true)];
  const followers = pages.filter((p) => p !== leader);

  await serverPut(remote.name, [{ _id: 'a' }, { _id: 'b' }, { _id: 'c' }]);
  await eventually('3 docs local', async () => (await localCount(leader, local)) === 3);
  // The followers heard the running tab's pull events: the same 3 docs.
  for (const page of followers) await eventually('mirrored pull', async () => (await pulledDocs(page)) === 3);
  assert.equal(await pulledDocs(leader), 3);
  // A local write in a follower tab is pushed by the running tab.
  await followers[0].evaluate((name) => new Settee(name).put({ _id: 'from-follower' }), local);
  await eventually('pushed', async () => (await couch.request('GET', `/${remote.name}/from-follower`)).status === 200);
  assert.equal(proxy.stats.longpollPeak, 1, 'one longpoll at a time, not one per tab');
  assert.equal(initialPulls(), 1, 'one first pass, not one per tab');
  // A tab that joins an idle replication hears where it stands at once: paused (caught up).
  const late = await openPage(browser.context, web.url);
  await startSync(late, local, proxy.via(remote.url));
  await eventually('the late tab hears paused', () => late.evaluate(() => window.events.some((e) => e.name === 'paused')), 2000, 50);
  assert.equal(await running(late), false);
  await late.evaluate(() => window.rep.cancel());
  await late.close();

  // The running tab closes: another one takes over within ~2 s and goes on from the checkpoint.
  proxy.resetPeak();
  const closed = Date.now();
  await leader.close();
  const next = await eventually(
    'a new running tab',
    async () => {
      const flags = await Promise.all(followers.map(running));
      return flags.filter(Boolean).length === 1 && followers[flags.indexOf(true)];
    },
    5000,
    50,
  );
  const takeover = Date.now() - closed;
  assert.ok(takeover < 2000, `took over in ${takeover} ms`);
  await serverPut(remote.name, [{ _id: 'd' }]);
  await eventually('the 5th doc local', async () => (await localCount(next, local)) === 5);
  // Resumed from the checkpoint: no change from before the hand-over is asked for again.
  const changes = proxy.stats.log.filter((l) => l.includes('/_changes'));
  assert.ok(changes.length > 0);
  assert.ok(!proxy.stats.log.some((l) => /_changes\?.*since=0(&|$)/.test(l)), proxy.stats.log.join('\n'));
  assert.equal(proxy.stats.longpollPeak, 1);
  for (const page of followers) await page.evaluate(() => window.rep.cancel());
  for (const page of followers) await page.close();
});

test('without coordination each tab runs its own copy (the check above can fail)', async () => {
  const remote = await couch.freshDb('tabs-each');
  const local = uniqueName('tabs-each');
  const pages = [await openPage(browser.context, web.url), await openPage(browser.context, web.url)];
  proxy.resetPeak();
  for (const page of pages) await startSync(page, local, proxy.via(remote.url), { coordinate: false });
  assert.deepEqual(await Promise.all(pages.map(running)), [true, true]);
  await serverPut(remote.name, [{ _id: 'a' }]);
  for (const page of pages) await eventually('pulled in each', async () => (await pulledDocs(page)) === 1);
  assert.equal(initialPulls(), 2, 'each tab ran its own first pass');
  for (const page of pages) await page.evaluate(() => window.rep.cancel());
  for (const page of pages) await page.close();
});

test("a follower's cancel ends only its mirror; the running tab's cancel hands over", async () => {
  const remote = await couch.freshDb('tabs-cancel');
  const local = uniqueName('tabs-cancel');
  const pages = [await openPage(browser.context, web.url), await openPage(browser.context, web.url), await openPage(browser.context, web.url)];
  for (const page of pages) await startSync(page, local, proxy.via(remote.url));
  const flags = await eventually('one running tab', async () => {
    const f = await Promise.all(pages.map(running));
    return f.filter(Boolean).length === 1 && f;
  });
  const leader = pages[flags.indexOf(true)];
  const [quitter, heir] = pages.filter((p) => p !== leader);
  const result = await quitter.evaluate(async () => {
    window.rep.cancel();
    return window.rep.then((r) => r.status);
  });
  assert.equal(result, 'cancelled');
  assert.equal(await running(leader), true);
  const status = await leader.evaluate(async () => {
    window.rep.cancel();
    return window.rep.then((r) => r.status);
  });
  assert.equal(status, 'cancelled');
  await eventually('the last tab runs it', () => running(heir), 3000, 50);
  assert.equal(await running(quitter), false, 'a cancelled tab never takes over');
  await serverPut(remote.name, [{ _id: 'z' }]);
  await eventually('pulled by the heir', async () => (await localCount(heir, local)) === 1);
  await heir.evaluate(() => window.rep.cancel());
  for (const page of pages) await page.close();
});

test('startReplicator in two tabs runs the jobs in one; the other shows its tasks and takes over', async () => {
  const remote = await couch.freshDb('tabs-rdb');
  const local = uniqueName('tabs-rdb');
  const pages = [await openPage(browser.context, web.url), await openPage(browser.context, web.url)];
  await pages[0].evaluate(
    async ({ id, source, target }) => {
      await new Settee('_replicator').put({ _id: id, source, target, continuous: true });
    },
    { id: local, source: proxy.via(remote.url), target: local },
  );
  for (const page of pages) await page.evaluate(() => void (window.replicator = Settee.startReplicator()));
  const runners = await eventually('one tab runs the replicator', async () => {
    const r = await Promise.all(pages.map((p) => p.evaluate(() => window.replicator.running)));
    return r.filter(Boolean).length === 1 && r;
  });
  const [leader, other] = runners[0] ? pages : [pages[1], pages[0]];
  await serverPut(remote.name, [{ _id: 'one' }]);
  await eventually('pulled', async () => (await localCount(leader, local)) === 1);
  // The other tab shows the running tab's job.
  const mirrored = await eventually('mirrored task', async () => {
    const tasks = await other.evaluate(() => Settee.activeTasks());
    return tasks.find((t) => t.doc_id === local && t.info.docs_written === 1);
  });
  assert.equal(mirrored.state, 'running');
  await leader.close();
  await eventually('the other tab runs it', () => other.evaluate(() => window.replicator.running), 3000, 50);
  await serverPut(remote.name, [{ _id: 'two' }]);
  await eventually('pulled after the hand-over', async () => (await localCount(other, local)) === 2);
  await other.evaluate(async (id) => {
    await Settee.stopReplicator();
    const db = new Settee('_replicator');
    await db.remove(await db.get(id));
  }, local);
  await other.close();
});

test('tabs opened and closed at random while the server writes: nothing is lost, one tab runs it', async () => {
  const remote = await couch.freshDb('tabs-churn');
  const local = uniqueName('tabs-churn');
  // A seeded generator: the same sequence of opens and closes every run.
  let state = 20261207;
  const random = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const open = [];
  const start = async () => {
    const page = await openPage(browser.context, web.url);
    await startSync(page, local, proxy.via(remote.url));
    open.push(page);
  };
  await start();
  proxy.resetPeak();
  let written = 0;
  for (let step = 0; step < 14; step++) {
    if (open.length < 2 || (open.length < 4 && random() < 0.5)) {
      await start();
    } else {
      const [page] = open.splice(Math.floor(random() * open.length), 1);
      await page.close();
    }
    await serverPut(remote.name, [{ _id: `doc-${step}` }]);
    written++;
    await sleep(150 + Math.floor(random() * 300));
  }
  const survivor = open[0];
  await eventually('every server doc local', async () => (await localCount(survivor, local)) === written, 15000);
  const flags = await eventually('one running tab', async () => {
    const f = await Promise.all(open.map(running));
    return f.filter(Boolean).length === 1 && f;
  });
  assert.equal(flags.filter(Boolean).length, 1);
  assert.ok(proxy.stats.longpollPeak <= 1, `${proxy.stats.longpollPeak} longpolls at once`);
  for (const page of open) await page.evaluate(() => window.rep.cancel());
  for (const page of open) await page.close();
});
