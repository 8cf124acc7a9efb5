// The demo as a PWA, in Debian's Chromium against a real pouchdb-server: the manifest and the
// service worker, a reload with the network off (served from the service worker's cache, data
// from IndexedDB), and an edit made offline reaching the server once the network is back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, device, openApp, getJson, eventually, waitSynced, shot } from './harness.mjs';

let stack;
let dev;
let page;
const NOTE = 'msg:sample-1:00001'; // Acme Rockets, "Invoice address change": Sam's internal note

before(async () => {
  stack = await startStack();
  dev = await device();
  page = await openApp(dev.context, stack.url);
});
after(async () => {
  await dev?.close();
  await stack?.close();
});

/** The width and height a PNG's IHDR chunk declares. */
function pngSize(buf) {
  assert.equal(buf.subarray(1, 4).toString(), 'PNG', 'not a PNG');
  return [buf.readUInt32BE(16), buf.readUInt32BE(20)];
}

test('the manifest is valid and installable, and a service worker controls the page after the first load', async () => {
  // The page registers /sw.js; it claims the page once its precache (shell + package) is done.
  await page.waitForFunction(() => navigator.serviceWorker.controller?.scriptURL.endsWith('/sw.js'), null, { timeout: 30_000 });
  assert.equal(await page.evaluate(async () => (await navigator.serviceWorker.ready).scope), stack.url + '/');

  // Chromium's own manifest parser and installability check (what decides "Install app").
  const cdp = await dev.context.newCDPSession(page);
  const manifest = await cdp.send('Page.getAppManifest');
  assert.equal(manifest.url, stack.url + '/manifest.webmanifest');
  assert.deepEqual(manifest.errors, [], 'manifest parse errors');
  const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
  assert.deepEqual(installabilityErrors, [], 'installability errors');
  // Detach: while a second CDP session stays attached, Chromium drops playwright's offline
  // emulation at the next reload (navigator.onLine comes back true).
  await cdp.detach();

  // And over HTTP: the fields an installable manifest needs, and icons that are what they say.
  const res = await fetch(stack.url + '/manifest.webmanifest');
  assert.match(res.headers.get('content-type'), /^application\/manifest\+json/);
  const m = await res.json();
  assert.equal(m.name, 'Settee Inbox');
  assert.equal(m.start_url, '/');
  assert.equal(m.display, 'standalone');
  const pngs = m.icons.filter((i) => i.type === 'image/png');
  for (const icon of pngs) {
    const buf = Buffer.from(await (await fetch(stack.url + icon.src)).arrayBuffer());
    const [w, h] = pngSize(buf);
    assert.equal(`${w}x${h}`, icon.sizes, `${icon.src} is ${w}x${h}`);
  }
  assert.ok(pngs.some((i) => i.sizes === '512x512') && pngs.some((i) => i.sizes === '192x192'));
  const svg = await fetch(stack.url + '/icons/icon.svg');
  assert.equal(svg.headers.get('content-type'), 'image/svg+xml');
});

test('a reload with the network off shows the app and its data, from the service worker and IndexedDB', async () => {
  await waitSynced(page);
  await page.getByRole('button', { name: 'Invoice address change' }).click();
  await page.locator(`#messages li[data-id="${NOTE}"]`).waitFor();
  await shot(page, 'inbox');

  await dev.context.setOffline(true);
  const fromWorker = new Map();
  page.on('response', (r) => fromWorker.set(new URL(r.url()).pathname, r.fromServiceWorker()));
  await page.reload();
  await page.waitForSelector('body[data-ready=true]', { state: 'attached' });
  // Served by the service worker: the page itself and the package's wasm.
  assert.equal(fromWorker.get('/'), true, 'the page came from the service worker');
  assert.equal(fromWorker.get('/pkg/settee_core_bg.wasm'), true, 'the wasm came from the service worker');
  // The data: customers, conversations and the note, all from IndexedDB.
  await page.getByRole('button', { name: 'Globex' }).waitFor();
  await page.getByRole('button', { name: 'Invoice address change' }).click();
  await page.getByText('Updated in billing.').waitFor();
  await page.waitForSelector('#sync[data-state=offline]', { state: 'attached' });
  assert.match(await page.locator('#sync-text').textContent(), /^offline/);
});

test('an edit made offline is kept, and reaches the server when the network returns', async () => {
  // Still offline from the previous test.
  assert.equal(await page.evaluate(() => navigator.onLine), false);
  const edited = "Billing confirmed the new address by phone (edited offline).";
  await page.locator(`#messages li[data-id="${NOTE}"]`).getByRole('button', { name: 'Edit note' }).click();
  await page.getByLabel('Edit the note').fill(edited);
  await page.getByRole('button', { name: 'Save note' }).click();
  await page.getByText(edited).waitFor();
  // And a reply typed offline.
  await page.getByLabel('Text', { exact: true }).fill('Reply written offline');
  await page.getByRole('button', { name: 'Send' }).click();
  await page.getByText('Reply written offline').waitFor();
  // The status line counts both as waiting to be sent.
  await eventually(async () => /pending: 2 to send/.test(await page.locator('#sync-pending').textContent()), 5000, '"pending: 2 to send"');
  await shot(page, 'offline-edit');

  // The server has neither yet.
  const before = await getJson(`${stack.couch}/inbox-acme/${encodeURIComponent(NOTE)}`);
  assert.notEqual(before.body.text, edited);

  await dev.context.setOffline(false);
  await eventually(async () => (await getJson(`${stack.couch}/inbox-acme/${encodeURIComponent(NOTE)}`)).body.text === edited, 20_000, 'the offline edit on the server');
  const replies = await getJson(`${stack.couch}/inbox-acme/_all_docs?include_docs=true&startkey="msg:sample-1:"&endkey="msg:sample-1:\ufff0"`);
  assert.ok(replies.body.rows.some((r) => r.doc.text === 'Reply written offline'), 'the offline reply on the server');
  await waitSynced(page);
  assert.match(await page.locator('#sync-pending').textContent(), /pending: 0 to send, 0 to receive/);
});

test('the page threw no uncaught error through all of the above', () => {
  assert.deepEqual(dev.errors, []);
});
