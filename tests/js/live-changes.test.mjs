// Live changes: the emitter and the async iterator, across two tabs of the same origin.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, openPage, removeProfile, startServer, uniqueName } from './helpers.mjs';

let server, browser, tabA, tabB;
before(async () => {
  server = await startServer();
  browser = await launch();
  tabA = await openPage(browser.context, server.url);
  tabB = await openPage(browser.context, server.url);
});
after(async () => {
  await browser?.context.close();
  removeProfile(browser?.profile);
  await server?.close();
});

const seen = (page, key, n) =>
  page.waitForFunction(({ key, n }) => (window[key] ?? []).length >= n, { key, n }, { timeout: 15_000 });

test("two tabs see each other's writes through on('change')", async () => {
  const name = uniqueName('live-on');
  const listen = (page) =>
    page.evaluate((name) => {
      window.rows = [];
      window.completed = null;
      window.feed = new Settee(name)
        .changes({ live: true, since: 'now', include_docs: true })
        .on('change', (row) => window.rows.push({ id: row.id, seq: row.seq, text: row.doc?.text }))
        .on('complete', (info) => (window.completed = info))
        .on('error', (err) => (window.feedError = err.message));
    }, name);
  await listen(tabA);
  await listen(tabB);
  // Let both feeds reach "waiting" before writing.
  await Promise.all([tabA, tabB].map((p) => p.evaluate((name) => new Settee(name).info(), name)));

  await tabA.evaluate((name) => new Settee(name).put({ _id: 'from-a', text: 'A' }), name);
  await tabB.evaluate((name) => new Settee(name).put({ _id: 'from-b', text: 'B' }), name);

  await seen(tabA, 'rows', 2);
  await seen(tabB, 'rows', 2);
  for (const tab of [tabA, tabB]) {
    const rows = await tab.evaluate(() => window.rows);
    assert.deepEqual(
      rows.map((r) => [r.id, r.text]),
      [
        ['from-a', 'A'],
        ['from-b', 'B'],
      ],
    );
    assert.ok(rows[0].seq < rows[1].seq);
  }
  const completed = await tabB.evaluate(async () => {
    window.feed.cancel();
    for (let i = 0; i < 100 && !window.completed; i++) await new Promise((r) => setTimeout(r, 20));
    return window.completed;
  });
  assert.equal(completed?.status, 'cancelled');
  assert.equal(await tabA.evaluate(() => window.feedError ?? null), null);
  await tabA.evaluate(() => window.feed.cancel());
});

test("two tabs see each other's writes through for await", async () => {
  const name = uniqueName('live-iter');
  // Tab B iterates until it has seen three changes, then leaves the loop.
  await tabB.evaluate((name) => {
    window.iterRows = [];
    window.iterDone = (async () => {
      for await (const row of new Settee(name).changes({ live: true, since: 0 })) {
        window.iterRows.push(row.id);
        if (window.iterRows.length === 3) break;
      }
      return 'done';
    })();
  }, name);
  await tabB.evaluate((name) => new Settee(name).put({ _id: 'b1' }), name);
  await tabA.evaluate(async (name) => {
    await new Settee(name).put({ _id: 'a1' });
    await new Settee(name).put({ _id: 'a2' });
  }, name);
  await seen(tabB, 'iterRows', 3);
  assert.equal(await tabB.evaluate(() => window.iterDone), 'done', 'break ends the loop');
  assert.deepEqual(await tabB.evaluate(() => window.iterRows), ['b1', 'a1', 'a2']);
});

test('a live feed with limit completes after that many changes', async () => {
  const name = uniqueName('live-limit');
  const r = await tabA.evaluate(async (name) => {
    const db = new Settee(name);
    await db.bulkDocs([{ _id: 'x' }, { _id: 'y' }, { _id: 'z' }]);
    const ids = [];
    for await (const row of db.changes({ live: true, since: 0, limit: 2 })) ids.push(row.id);
    return ids;
  }, name);
  assert.deepEqual(r, ['x', 'y']);
});

test('close() ends a live feed with complete, and cancel() before any change does too', async () => {
  const r = await tabA.evaluate(async (name) => {
    const wait = (feed) => new Promise((ok) => feed.on('complete', ok).on('error', (e) => ok({ error: e.message })));
    const db = new Settee(name);
    await db.put({ _id: 'a' });
    const feed = db.changes({ live: true, since: 0 });
    const rows = [];
    feed.on('change', (row) => rows.push(row.id));
    const done = wait(feed);
    while (rows.length < 1) await new Promise((r) => setTimeout(r, 10));
    await db.close();
    const closed = await Promise.race([done, new Promise((r) => setTimeout(() => r('timeout'), 5000))]);
    const early = new Settee(name).changes({ live: true });
    const earlyDone = wait(early);
    early.cancel();
    return { rows, closed, cancelled: await earlyDone };
  }, uniqueName('live-close'));
  assert.deepEqual(r.rows, ['a']);
  assert.notEqual(r.closed, 'timeout', 'close() must end the feed');
  assert.equal(r.closed.error, undefined, `the feed errored: ${r.closed.error}`);
  assert.equal(r.cancelled.status, 'cancelled');
});
