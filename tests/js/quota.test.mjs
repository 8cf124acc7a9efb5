// A full storage quota: Chromium is given a small quota for the test page's origin through
// the DevTools protocol (`Storage.overrideQuotaForOrigin`), which it then enforces. A write
// that does not fit rejects with `507 quota_exceeded`, writes nothing, and the database goes
// on serving reads and smaller writes.
//
// Chromium reports a full quota only as the aborted transaction's error, which Settee cannot
// read through indexed_db_futures, so it checks an unexpected abort against
// `navigator.storage.estimate()`. That estimate does not reflect the DevTools override (it
// still says 10 GB here), so the page's `estimate` is made to report the overridden quota, as
// a browser whose real quota is that small does.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, openPage, removeProfile, settle, startServer, uniqueName, unless } from './helpers.mjs';

let web, browser, page;
before(async () => {
  web = await startServer();
  browser = await launch();
  page = await openPage(browser.context, web.url);
});
after(async () => {
  await browser?.context.close();
  removeProfile(browser?.profile);
  await web?.close();
});

test('a write past the quota rejects with quota_exceeded, writes nothing, and the database goes on working', { skip: unless('chromium') }, async () => {
  const cdp = await browser.context.newCDPSession(page);
  const origin = new URL(web.url).origin;
  const quota = 6 * 1024 * 1024;
  await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: quota });
  await page.evaluate((quota) => {
    const real = navigator.storage.estimate.bind(navigator.storage);
    navigator.storage.estimate = async () => ({ ...(await real()), quota });
  }, quota);
  try {
    const name = uniqueName('quota');
    const before = await page.evaluate(async (name) => {
      const db = new Settee(name);
      await db.bulkDocs(Array.from({ length: 50 }, (_, i) => ({ _id: `small${i}`, i })));
      return db.info();
    }, name);
    assert.equal(before.doc_count, 50);

    // ~16 MB of docs in one bulkDocs, well past the quota. Random text: Chromium compresses
    // what it stores, so repeated bytes would fit.
    const big = await settle(page, async (name) => {
      const db = new Settee(name);
      const noise = (n) => {
        const bytes = new Uint8Array(n);
        for (let o = 0; o < n; o += 65536) crypto.getRandomValues(bytes.subarray(o, Math.min(n, o + 65536)));
        return Array.from(bytes, (b) => b.toString(36)).join('');
      };
      return db.bulkDocs(Array.from({ length: 160 }, (_, i) => ({ _id: `big${i}`, pad: noise(60_000) })));
    }, name);
    assert.ok(big.error, `the big write was refused: ${JSON.stringify(big.ok)?.slice(0, 200)}`);
    assert.deepEqual([big.error.status, big.error.name], [507, 'quota_exceeded'], big.error.message);

    // An attachment past the quota, too.
    const att = await settle(page, async (name) => {
      const db = new Settee(name);
      const bytes = new Uint8Array(16 * 1024 * 1024);
      for (let o = 0; o < bytes.length; o += 65536) crypto.getRandomValues(bytes.subarray(o, o + 65536));
      return db.putAttachment('file', 'big.bin', new Blob([bytes]), 'application/octet-stream');
    }, name);
    assert.ok(att.error, 'the attachment was refused');
    assert.deepEqual([att.error.status, att.error.name], [507, 'quota_exceeded'], att.error.message);

    const afterwards = await page.evaluate(async (name) => {
      const db = new Settee(name);
      const info = await db.info();
      const bigs = (await db.allDocs({ startkey: 'big', endkey: 'big\uffff' })).rows.length;
      const file = await db.get('file').then(() => true, () => false);
      const read = (await db.get('small7')).i;
      const put = await db.put({ _id: 'after', ok: true });
      return { doc_count: info.doc_count, bigs, file, read, put: put.ok, count: (await db.info()).doc_count };
    }, name);
    assert.deepEqual(afterwards, { doc_count: 50, bigs: 0, file: false, read: 7, put: true, count: 51 });
  } finally {
    await cdp.send('Storage.overrideQuotaForOrigin', { origin }).catch(() => {});
  }
});
