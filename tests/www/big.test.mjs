// "Load 10,000 sample messages": the page writes a large customer straight to the server,
// then opening it shows the first sync's progress bar while the live sync pulls it, and the
// conversations list (a grouped view over 10,000 messages) once it is in.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, device, openApp, getJson, waitSynced, shot } from './harness.mjs';

let stack;
let dev;

before(async () => {
  stack = await startStack();
  dev = await device();
});
after(async () => {
  await dev?.close();
  await stack?.close();
});

test('a first sync of a 10,000-message customer shows its progress, then the whole customer', async () => {
  const page = await openApp(dev.context, stack.url);
  await waitSynced(page);
  let t = Date.now();
  await page.getByRole('button', { name: 'Load 10,000 sample messages' }).click();
  await page.locator('#message').getByText('Big Co is on the server').waitFor({ timeout: 60_000 });
  const written = Date.now() - t;
  // Over HTTP: the server has 10,000 messages and 200 conversations in the new database.
  assert.equal((await getJson(`${stack.couch}/inbox-bigco`)).body.doc_count, 10_200);

  // The directory's live sync brings the new customer; opening it starts its first pull.
  t = Date.now();
  await page.getByRole('button', { name: /^Big Co/ }).click();
  const bar = page.locator('#sync-progress');
  await bar.waitFor({ state: 'visible', timeout: 20_000 });
  const progress = await page.evaluate(() => {
    const b = document.querySelector('#sync-progress');
    return { value: b.value, max: b.max, text: document.querySelector('#sync-progress-text').textContent };
  });
  assert.ok(progress.max >= 10_200 && progress.value < progress.max, JSON.stringify(progress));
  assert.match(progress.text, /^[\d,]+ \/ [\d,]+ docs$/);
  await shot(page, 'first-sync');

  await waitSynced(page, 60_000);
  await bar.waitFor({ state: 'hidden' });
  await page.locator('#list-summary').getByText('200 conversations, most recent first').waitFor({ timeout: 30_000 });
  const pulled = Date.now() - t;
  // The newest conversation first: message 10,000 went to conversation 200 (index 199). The
  // list re-renders after the last pulled batch, so it may still show an earlier count for a
  // moment after the status says synced: wait (15 s) for the whole conversation, not a render.
  const first = page.locator('#conversation-list li').first();
  await page
    .waitForFunction(() => /^Ticket 200:.*50 messages/.test(document.querySelector('#conversation-list li')?.textContent ?? ''), null, { timeout: 15_000 })
    .catch(() => {});
  assert.match(await first.textContent(), /^Ticket 200:.*50 messages/);
  console.log(`  written on the server in ${written} ms; pulled and listed in ${pulled} ms`);
});
