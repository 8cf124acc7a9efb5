// The replication scheduler (`Settee.configureScheduler`): many live replications with one
// server share `max_connections` requests, checked at the server through a counting proxy;
// past that they poll in turn and still bring every change within seconds; where the server
// allows `_db_updates` (CouchDB, as an admin) one feed wakes them and idle polling stops;
// a few replications keep their longpolls. Runs on pouchdb-server (no `_db_updates`: it
// answers 400) and, in the CouchDB stage, on CouchDB 3.5.
import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';
import { CouchServer, SERVER_KIND } from './couch.mjs';
import { startFaultProxy } from './fault-proxy.mjs';
import { eventually, launch, openPage, removeProfile, sleep, startServer, uniqueName } from './helpers.mjs';

let web, browser, couch, proxy, page;
before(async () => {
  couch = await CouchServer.start();
  // CouchDB's `_db_updates` reads the `_global_changes` database, which a server's setup
  // creates only when asked (the test server makes `_users` and `_replicator`); without it
  // the feed is a 404 and replications poll.
  if (SERVER_KIND === 'couchdb') await couch.createDb('_global_changes');
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
// A fresh page per test: the scheduler's state is the page's.
afterEach(async () => {
  await page?.evaluate(async () => {
    for (const rep of window.reps ?? []) rep.cancel();
    await Promise.all((window.reps ?? []).map((r) => r.then(() => {}, () => {})));
  });
  await page?.close();
});

/** Starts a live pull from each remote into a local db of the same name; resolves their names. */
async function livePulls(remotes, options) {
  await page.evaluate(
    async ({ remotes, options }) => {
      if (options) await Settee.configureScheduler(options);
      window.reps = remotes.map((r) => Settee.replicate(r.url, new Settee(r.name), { live: true, retry: true }));
    },
    { remotes, options },
  );
}

const docCounts = (names) =>
  page.evaluate(async (names) => Promise.all(names.map(async (n) => (await new Settee(n).allDocs()).total_rows)), names);
const stats = () => page.evaluate(async () => (await Settee.schedulerStats()).find((s) => s.server.includes('127.0.0.1')));

async function freshRemotes(n, prefix) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const db = await couch.freshDb(prefix);
    out.push({ name: db.name, url: proxy.via(db.url) });
  }
  return out;
}

/** One doc into each remote, at once; resolves ms until every local db has it. */
async function writeAndTime(remotes, names, id) {
  const start = Date.now();
  await Promise.all(remotes.map((r) => couch.request('PUT', `/${r.name}/${id}`, { at: start })));
  await eventually(`${id} in all ${names.length}`, async () => (await docCounts(names)).every((c, i) => c >= 1), 20000, 50);
  return Date.now() - start;
}

test('twelve live pulls never have more than max_connections requests in flight, and each change arrives', async () => {
  page = await openPage(browser.context, web.url);
  const remotes = await freshRemotes(12, 'sched');
  const names = remotes.map((r) => r.name);
  proxy.resetPeak();
  await livePulls(remotes, { max_connections: 3, poll_interval: 300, db_updates: false });
  await eventually('all twelve waiting', async () => (await stats())?.waiting === 12, 15000);
  const s = await stats();
  assert.equal(s.polling, 12, 'past max_connections - 1 waiters, every one polls');
  const ms = await writeAndTime(remotes, names, 'one');
  assert.ok(ms < 5000, `all twelve in ${ms} ms`);
  assert.ok(proxy.stats.peak <= 3, `server saw ${proxy.stats.peak} requests at once`);
  assert.equal(proxy.stats.longpollPeak, 0, 'no longpoll holds a connection');
  assert.ok((await stats()).peak <= 3);
});

test('a few live pulls keep their longpolls', async () => {
  page = await openPage(browser.context, web.url);
  const remotes = await freshRemotes(2, 'sched-few');
  await livePulls(remotes, { max_connections: 4, poll_interval: 300, db_updates: false });
  await eventually('both longpolling', async () => proxy.stats.longpolls === 2, 15000);
  assert.equal((await stats()).polling, 0);
  const ms = await writeAndTime(remotes, remotes.map((r) => r.name), 'one');
  assert.ok(ms < 2000, `${ms} ms`);
});

test('_db_updates wakes only the changed databases where the server allows it, else they poll', async () => {
  page = await openPage(browser.context, web.url);
  const remotes = await freshRemotes(8, 'sched-upd');
  const names = remotes.map((r) => r.name);
  await livePulls(remotes, { max_connections: 3, poll_interval: 300, db_updates: true });
  await eventually('all waiting', async () => (await stats())?.waiting === 8, 15000);
  await sleep(1000);
  proxy.resetPeak();
  await sleep(2000);
  const polls = proxy.stats.log.filter((l) => /^GET .*\/_changes\?/.test(l)).length;
  const feed = proxy.stats.log.filter((l) => l.includes('/_db_updates')).length;
  if (SERVER_KIND === 'couchdb') {
    // Idle: the feed's longpoll waits; nobody polls.
    assert.equal(polls, 0, proxy.stats.log.join('\n'));
    assert.ok(proxy.stats.longpolls >= 1, 'the _db_updates longpoll is open');
  } else {
    // pouchdb-server refuses `_db_updates` (400): asked once, then polling at poll_interval.
    assert.equal(feed, 0, 'a refused feed is not asked again at once');
    assert.ok(polls >= 8, `${polls} polls in 2 s`);
  }
  const ms = await writeAndTime(remotes.slice(0, 3), names.slice(0, 3), 'woken');
  assert.ok(ms < 5000, `${ms} ms`);
  assert.deepEqual((await docCounts(names)).slice(3), [0, 0, 0, 0, 0]);
  assert.ok(proxy.stats.peak <= 3, `server saw ${proxy.stats.peak} at once`);
});

test('bad scheduler options are a 400 and change nothing', async () => {
  page = await openPage(browser.context, web.url);
  const out = await page.evaluate(async () => {
    const before = await Settee.configureScheduler();
    const errors = [];
    for (const bad of [{ max_connections: 0 }, { poll_interval: 'fast' }, { db_updates: 1 }, { max_connection: 2 }, 7]) {
      errors.push(await Settee.configureScheduler(bad).then(() => null, (e) => [e.status, e.name, e.message]));
    }
    return { before, errors, afterwards: await Settee.configureScheduler() };
  });
  assert.deepEqual(out.before, { max_connections: 4, poll_interval: 2000, db_updates: true });
  for (const e of out.errors) {
    assert.equal(e[0], 400);
    assert.equal(e[1], 'bad_request');
  }
  assert.deepEqual(out.afterwards, out.before);
});
