// Database handles that the page drops without closing: once garbage-collected, nothing of
// theirs may still be called by the browser (a BroadcastChannel message or a timer into a
// freed wasm closure throws "closure invoked … after being dropped" as a page error).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, openPage, removeProfile, startServer, uniqueName, unless } from './helpers.mjs';

let web, browser, page;
const errors = [];
before(async () => {
  web = await startServer();
  browser = await launch(undefined, ['--js-flags=--expose-gc']);
  page = await openPage(browser.context, web.url);
  page.on('pageerror', (e) => errors.push(e.message));
});
after(async () => {
  await browser?.context.close();
  removeProfile(browser?.profile);
  await web?.close();
});

test('a handle dropped without close and collected does not hear later commits of another handle', { skip: unless('chromium') }, async () => {
  const name = uniqueName('dropped');
  await page.evaluate(async (name) => {
    const first = new Settee(name);
    await first.put({ _id: 'a' });
  }, name);
  const written = await page.evaluate(async (name) => {
    for (let i = 0; i < 5; i++) {
      window.gc();
      await new Promise((ok) => setTimeout(ok, 20));
    }
    const second = new Settee(name);
    for (let i = 0; i < 20; i++) await second.put({ _id: `b${i}` });
    await new Promise((ok) => setTimeout(ok, 200));
    return (await second.info()).doc_count;
  }, name);
  assert.equal(written, 21);
  assert.deepEqual(errors, []);
});
