// The demo in Debian's Firefox ESR (puppeteer-core over WebDriver BiDi, as tests/js does):
// it syncs, a service worker takes control, and after both servers are stopped (a real
// offline, since this driver has no offline switch) a reload still shows the app and its data.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack, getJson, SHOTS } from './harness.mjs';

const FIREFOX = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr';
const skip = existsSync(FIREFOX) ? false : `no Firefox at ${FIREFOX} (apt-get install firefox-esr)`;
const cleanup = [];
after(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

test('Firefox: the app syncs, a service worker controls it, and it reloads with the servers gone', { skip }, async () => {
  const { launchFirefox } = await import('../js/engines/firefox.mjs');
  const stack = await startStack();
  let stopped = false;
  cleanup.push(() => stopped || stack.close());
  const profile = mkdtempSync(join(tmpdir(), 'settee-www-ff-'));
  const { context } = await launchFirefox(profile);
  cleanup.push(async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  });
  const page = (await context.newPage()).page; // puppeteer's own page
  await page.setViewport({ width: 1200, height: 760 });
  await page.goto(stack.url + '/');
  await page.waitForSelector('body[data-ready=true]', { timeout: 30_000 });
  const synced = () => document.querySelector('#sync').dataset.state === 'paused' && document.querySelectorAll('#conversation-list li').length === 2;
  await page.waitForFunction(synced, { timeout: 30_000, polling: 100 });
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, { timeout: 30_000, polling: 100 });
  // The page's sync and seeding reached the server.
  assert.equal((await getJson(`${stack.couch}/inbox-acme`)).body.doc_count, 7);
  await page.screenshot({ path: join(SHOTS, 'firefox.png') });

  await stack.close();
  stopped = true;
  await page.reload();
  await page.waitForSelector('body[data-ready=true]', { timeout: 30_000 });
  const seen = await page.evaluate(() => ({
    customers: [...document.querySelectorAll('#customer-list li')].map((li) => li.textContent),
    conversations: [...document.querySelectorAll('#conversation-list li strong')].map((s) => s.textContent).sort(),
  }));
  assert.deepEqual(seen.customers, ['Acme Rockets', 'Globex', 'Initech']);
  assert.deepEqual(seen.conversations, ['Invoice address change', 'Refund for a late delivery']);
});
