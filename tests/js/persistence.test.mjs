// What survives a reload, a relaunch and a crash, and what must not.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { crash, launch, newProfile, openPage, removeProfile, startServer, uniqueName, unless } from './helpers.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.close();
});

/** Writes a doc and a `_local` doc to `name`; answers the doc's put result. */
const write = (page, name) =>
  page.evaluate(async (name) => {
    const db = new Settee(name);
    await db.put({ _id: '_local/l', v: 'local' });
    return db.put({ _id: 'a', text: 'kept' });
  }, name);

/** The doc, the `_local` doc and info of `name`. */
const read = (page, name) =>
  page.evaluate(async (name) => {
    const db = new Settee(name);
    return { doc: await db.get('a'), local: await db.get('_local/l'), info: await db.info() };
  }, name);

function assertKept(seen, put) {
  assert.deepEqual(seen.doc, { _id: 'a', _rev: put.rev, text: 'kept' });
  assert.equal(seen.local.v, 'local');
  assert.equal(seen.info.doc_count, 1);
}

test('data survives a page reload', async () => {
  const name = uniqueName('persist');
  const browser = await launch();
  try {
    const page = await openPage(browser.context, server.url);
    const put = await write(page, name);
    await page.reload();
    await page.waitForFunction(() => window.ready === true);
    assertKept(await read(page, name), put);
  } finally {
    await browser.context.close();
    removeProfile(browser.profile);
  }
});

test('data survives a browser relaunch with the same profile', { skip: unless('profile') }, async () => {
  const name = uniqueName('persist');
  let browser = await launch();
  try {
    let page = await openPage(browser.context, server.url);
    const put = await write(page, name);
    await browser.context.close();
    browser = await launch(browser.profile);
    page = await openPage(browser.context, server.url);
    assertKept(await read(page, name), put);
  } finally {
    await browser.context.close();
    removeProfile(browser.profile);
  }
});

test('{adapter: "memory"} works and does not persist across a reload', async () => {
  const name = uniqueName('mem');
  const browser = await launch();
  try {
    const page = await openPage(browser.context, server.url);
    const before = await page.evaluate(async (name) => {
      const db = new Settee(name, { adapter: 'memory' });
      await db.bulkDocs([{ _id: 'a' }, { _id: 'b' }]);
      const idb = await new Settee(name).info(); // an IndexedDB database of the same name is another database
      return { info: await db.info(), doc: await db.get('a'), idb };
    }, name);
    assert.equal(before.info.adapter, 'memory');
    assert.equal(before.info.doc_count, 2);
    assert.equal(before.doc._id, 'a');
    assert.equal(before.idb.doc_count, 0);

    await page.reload();
    await page.waitForFunction(() => window.ready === true);
    const afterReload = await page.evaluate(async (name) => {
      const db = new Settee(name, { adapter: 'memory' });
      return { info: await db.info(), get: await db.get('a').catch((e) => e.status) };
    }, name);
    assert.equal(afterReload.info.doc_count, 0);
    assert.equal(afterReload.get, 404);
  } finally {
    await browser.context.close();
    removeProfile(browser.profile);
  }
});

const N = 20000;

/** Starts a N-doc bulkDocs in the page without waiting for it. */
function startBigBulk(page, name) {
  return page.evaluate(
    ({ name, N }) => {
      const docs = Array.from({ length: N }, (_, i) => ({ _id: `d${String(i).padStart(6, '0')}`, i, pad: 'x'.repeat(50) }));
      window.bulkDone = false;
      window.bulkStarted = performance.now();
      new Settee(name).bulkDocs(docs).then(() => (window.bulkDone = performance.now() - window.bulkStarted));
    },
    { name, N },
  );
}

/** doc_count and allDocs of `name` after a relaunch of `profile`. */
async function countAfterRelaunch(profile, name) {
  const browser = await launch(profile);
  try {
    const page = await openPage(browser.context, server.url);
    return await page.evaluate(async (name) => {
      const db = new Settee(name);
      const info = await db.info();
      const all = await db.allDocs();
      return { doc_count: info.doc_count, total_rows: all.total_rows, rows: all.rows.length };
    }, name);
  } finally {
    await browser.context.close();
  }
}

test('a page closed or a browser killed during a 20,000-doc bulkDocs leaves all of it or none', { skip: unless('profile', 'kill') }, async () => {
  const profile = newProfile();
  try {
    // How long does the whole bulkDocs take here? Interrupt it at fractions of that.
    let browser = await launch(profile);
    let page = await openPage(browser.context, server.url);
    await startBigBulk(page, uniqueName('warmup'));
    await page.waitForFunction(() => window.bulkDone !== false, null, { timeout: 60_000 });
    const full = await page.evaluate(() => window.bulkDone);
    console.log(`  20,000-doc bulkDocs took ${Math.round(full)} ms`);
    await browser.context.close();

    // Fractions around the commit point (it moves from run to run), plus one well after it:
    // a bulkDocs that resolved before the kill must be all there.
    const outcomes = [];
    for (const [how, fraction] of [
      ['close page', 0.5],
      ['close page', 0.85],
      ['kill browser', 0.6],
      ['kill browser', 0.75],
      ['kill browser', 0.85],
      ['kill browser', 0.95],
      ['kill browser', 1.5],
    ]) {
      const name = uniqueName('crash');
      browser = await launch(profile);
      page = await openPage(browser.context, server.url);
      await startBigBulk(page, name);
      await sleep(full * fraction);
      const resolved = await page.evaluate(() => window.bulkDone !== false);
      await crash(browser, page, how);
      const counts = await countAfterRelaunch(profile, name);
      const what = `${how} at ${fraction}${resolved ? ' (after it resolved)' : ''}`;
      outcomes.push(`${what}: ${counts.doc_count}`);
      assert.ok(counts.doc_count === 0 || counts.doc_count === N, `${what}: doc_count ${counts.doc_count}`);
      assert.deepEqual(counts, { doc_count: counts.doc_count, total_rows: counts.doc_count, rows: counts.doc_count });
      if (resolved) assert.equal(counts.doc_count, N, `${what}: a resolved bulkDocs was lost`);
    }
    console.log(`  outcomes: ${outcomes.join('; ')}`);
  } finally {
    removeProfile(profile);
  }
});
