// One device, two tabs: a write in one shows in the other at once (a live changes feed sees
// other tabs' writes). And bad input: empty messages, bad server URLs and an unreachable
// server each get a clear message, and the page goes on working.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, device, openApp, getJson, eventually, waitSynced } from './harness.mjs';

let stack;
let dev;
let one;
let two;

before(async () => {
  stack = await startStack();
  dev = await device();
  one = await openApp(dev.context, stack.url);
  await waitSynced(one);
  two = await openApp(dev.context, stack.url, await dev.context.newPage());
});
after(async () => {
  await dev?.close();
  await stack?.close();
});

// Headless Chromium runs a background tab's animation frames about once a second, and
// playwright waits for a few before each click: bring the tab in use to the front first.
async function openConversation(page, customer, subject) {
  await page.bringToFront();
  await page.getByRole('button', { name: customer }).click();
  await page.getByRole('button', { name: subject }).click();
  await page.locator('#reply-form').waitFor();
}

const alert = (page) => page.locator('#message[role=alert]');

test('the sync server comes from the demo server (/config.json), not port 5984', async () => {
  assert.equal(await one.getByLabel('Sync server').inputValue(), stack.couch);
  assert.notEqual(new URL(stack.couch).port, '5984');
  // The page's sync created the customers' databases on that server.
  const { body } = await getJson(`${stack.couch}/_all_dbs`);
  assert.ok(body.includes('inbox-customers') && body.includes('inbox-acme'), JSON.stringify(body));
});

test('a reply sent in one tab appears in the other tab at once', async () => {
  await openConversation(one, 'Globex', 'Two seats to add');
  await openConversation(two, 'Globex', 'Two seats to add');
  await one.bringToFront();
  const text = `From tab one, ${Date.now()}`;
  await one.getByLabel('Text', { exact: true }).fill(text);
  await one.getByLabel('Text', { exact: true }).press('Control+Enter'); // the keyboard shortcut
  const t0 = Date.now();
  await two.locator('#messages').getByText(text).waitFor({ timeout: 5000 });
  console.log(`  the other tab showed the reply after ${Date.now() - t0} ms`);
  // And a new conversation shows in the other tab's list.
  await one.locator('.new-conv summary').click();
  await one.getByLabel('Subject').fill('Opened in tab one');
  await one.getByLabel('First message from the customer').fill('Hello from the first tab');
  await one.getByRole('button', { name: 'Create' }).click();
  await two.getByRole('button', { name: /Opened in tab one/ }).waitFor({ timeout: 5000 });
});

test('search finds messages by words, prefixes included', async () => {
  await two.bringToFront();
  await two.getByLabel('Search messages').fill('seats hiring');
  await eventually(async () => /results for/.test(await two.locator('#list-summary').textContent()), 5000, 'the search');
  assert.match(await two.locator('#list-summary').textContent(), /^1 results for "seats hiring"/);
  assert.match(await two.locator('#conversation-list').textContent(), /hiring two people/);
  await two.getByLabel('Search messages').fill('refu');
  await eventually(async () => /results for "refu"/.test(await two.locator('#list-summary').textContent()), 5000, 'the search');
  await two.getByLabel('Search messages').fill('');
});

test('empty input gets a clear message and writes nothing', async () => {
  const before = (await getJson(`${stack.couch}/inbox-globex`)).body.doc_count;
  await one.bringToFront();
  await one.getByLabel('Text', { exact: true }).fill('   ');
  await one.getByRole('button', { name: 'Send' }).click();
  await alert(one).getByText('The message is empty.').waitFor();
  await one.getByLabel('Internal note').check();
  await one.getByRole('button', { name: 'Send' }).click();
  await alert(one).getByText('The note is empty.').waitFor();
  await one.locator('.new-conv summary').click();
  await one.getByRole('button', { name: 'Create' }).click();
  await alert(one).getByText('A conversation needs a subject.').waitFor();
  await one.getByRole('button', { name: 'Add', exact: true }).click();
  await alert(one).getByText('Give the customer a name.').waitFor();
  await waitSynced(one);
  assert.equal((await getJson(`${stack.couch}/inbox-globex`)).body.doc_count, before);
  // The page still works: a real note goes through.
  await one.getByLabel('Text', { exact: true }).fill('A real note');
  await one.getByRole('button', { name: 'Send' }).click();
  await one.locator('#messages .note').getByText('A real note').waitFor();
  assert.equal(await alert(one).isHidden(), true);
});

test('a reply arriving from the other tab does not disturb a note being typed', async () => {
  // Tab one's current conversation is the one it created above, where its note went.
  await two.bringToFront();
  await two.getByRole('button', { name: /Opened in tab one/ }).click();
  const note = two.locator('#messages .note', { hasText: 'A real note' });
  await note.getByRole('button', { name: 'Edit note' }).click();
  const editor = two.getByLabel('Edit the note');
  await editor.fill('A real note, half-typed dra');
  await one.getByLabel('Internal note').check();
  await one.getByLabel('Text', { exact: true }).fill('Sent from tab one while tab two types');
  await one.getByRole('button', { name: 'Send' }).click();
  await two.locator('#messages').getByText('Sent from tab one while tab two types').waitFor({ timeout: 5000 });
  // The page re-rendered the thread; the editor kept the text, the focus and the caret.
  assert.equal(await editor.inputValue(), 'A real note, half-typed dra');
  assert.equal(await editor.evaluate((n) => n === document.activeElement && n.selectionStart), 'A real note, half-typed dra'.length);
  await editor.press('End');
  await editor.pressSequentially('ft');
  await editor.press('Control+Enter');
  await two.locator('#messages .note').getByText('A real note, half-typed draft').waitFor();
});

test('a bad server URL is refused with a message; an unreachable one shows an error status, and the page keeps working', async () => {
  await one.bringToFront();
  await one.locator('.settings summary').click();
  for (const [url, message] of [
    ['not a url', '"not a url" is not a URL'],
    ['ftp://127.0.0.1/', 'must start with http:// or https://'],
  ]) {
    await one.getByLabel('Sync server').fill(url);
    await one.getByRole('button', { name: 'Save', exact: true }).click();
    await alert(one).getByText(message).waitFor();
  }
  // Refused URLs change nothing: the sync still runs against the demo's server.
  await waitSynced(one);

  // A valid URL where nothing listens: the status line says so; local work goes on.
  await one.getByLabel('Sync server').fill('http://127.0.0.1:9');
  await one.getByRole('button', { name: 'Save', exact: true }).click();
  await one.waitForSelector('#sync[data-state=retrying]', { state: 'attached', timeout: 20_000 }).catch(async (err) => {
    throw new Error(`no "retrying": ${await one.locator('#sync-text').textContent()}\n${(await one.evaluate(() => inboxSyncLog)).join('\n')}`, { cause: err });
  });
  assert.match(await one.locator('#sync-text').textContent(), /error, retrying/);
  await one.getByLabel('Text', { exact: true }).fill('Written while the server is unreachable');
  await one.getByRole('button', { name: 'Send' }).click();
  await one.getByText('Written while the server is unreachable').waitFor();

  // Back to the demo's server: the note written meanwhile reaches it.
  await one.locator('.settings summary').click();
  await one.getByRole('button', { name: "Use the demo's server" }).click();
  await eventually(async () => {
    const { body } = await getJson(`${stack.couch}/inbox-globex/_all_docs?include_docs=true`);
    return body.rows.some((r) => r.doc.text === 'Written while the server is unreachable');
  }, 20_000, 'the note on the server');
  await waitSynced(one);
});

test('neither tab threw an uncaught error through all of the above', () => {
  assert.deepEqual(dev.errors, []);
});
