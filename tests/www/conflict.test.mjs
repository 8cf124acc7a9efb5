// Two devices (two Chromium profiles) edit the same internal note while offline. Back online,
// both sync and both show the two versions side by side; one device merges them in the UI,
// and the server ends with the merge as its one winner and no open conflict.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, device, openApp, getJson, eventually, waitSynced, shot } from './harness.mjs';

let stack;
let alice;
let bob;
const NOTE = 'msg:sample-1:00001'; // Acme Rockets, "Invoice address change": Sam's internal note

before(async () => {
  stack = await startStack();
  [alice, bob] = await Promise.all([device(), device()]);
});
after(async () => {
  await Promise.all([alice?.close(), bob?.close()]);
  await stack?.close();
});

/** Opens the app on a device, the Acme conversation with the note, and waits for sync. */
async function openNote(dev, name) {
  const page = await openApp(dev.context, stack.url);
  await page.locator('#settings-form summary, .settings summary').first().click();
  await page.getByLabel('Your name').fill(name);
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByRole('button', { name: 'Invoice address change' }).click();
  await page.locator(`#messages li[data-id="${NOTE}"]`).waitFor();
  await waitSynced(page);
  return page;
}

async function editNote(page, text) {
  const note = page.locator(`#messages li[data-id="${NOTE}"]`);
  await note.getByRole('button', { name: 'Edit note' }).click();
  await page.getByLabel('Edit the note').fill(text);
  await page.getByRole('button', { name: 'Save note' }).click();
  await note.getByText(text).waitFor();
}

test('two devices editing one note offline get a conflict that the page shows and resolves', async () => {
  // Alice opens first: her page seeds the server; Bob's then only syncs.
  const a = await openNote(alice, 'Alice');
  const b = await openNote(bob, 'Bob');

  await Promise.all([alice.context.setOffline(true), bob.context.setOffline(true)]);
  await editNote(a, 'Billing address updated; invoices go to billing@acme.example from May.');
  await editNote(b, 'Also CC finance@acme.example on every invoice.');
  await Promise.all([alice.context.setOffline(false), bob.context.setOffline(false)]);

  // Both edits reach the server, which keeps both as a conflict...
  await eventually(async () => (await getJson(`${stack.couch}/inbox-acme/${encodeURIComponent(NOTE)}?conflicts=true`)).body._conflicts?.length === 1, 20_000, 'the conflict on the server');
  // ...and both pages pull the other's edit and show the two versions side by side.
  for (const page of [a, b]) {
    const note = page.locator(`#messages li.conflicted[data-id="${NOTE}"]`);
    await note.waitFor({ timeout: 20_000 });
    await note.getByText('Edited on two devices').waitFor();
    assert.equal(await note.locator('.side').count(), 2);
    const sides = await note.locator('.side .text').allTextContents();
    assert.deepEqual(sides.sort(), ['Also CC finance@acme.example on every invoice.', 'Billing address updated; invoices go to billing@acme.example from May.']);
    await page.locator('#conversation-list .badge', { hasText: 'conflict' }).waitFor();
  }
  await shot(a, 'conflict');

  // Alice merges by hand (the merge box starts with both texts).
  const merged = 'Invoices go to billing@acme.example from May, CC finance@acme.example.';
  await a.getByLabel('Merged text').fill(merged);
  await a.getByRole('button', { name: 'Save merged text' }).click();
  await a.locator(`#messages li[data-id="${NOTE}"]:not(.conflicted)`).getByText(merged).waitFor();

  // The server: the merge is the winner, no open conflict, and one live leaf.
  await eventually(async () => {
    const { body } = await getJson(`${stack.couch}/inbox-acme/${encodeURIComponent(NOTE)}?conflicts=true`);
    return body.text === merged && !body._conflicts;
  }, 20_000, 'the merge as the only winner on the server');
  const leaves = await getJson(`${stack.couch}/inbox-acme/${encodeURIComponent(NOTE)}?open_revs=all`);
  const live = leaves.body.filter((l) => l.ok && !l.ok._deleted);
  assert.equal(live.length, 1, 'one live leaf on the server');
  assert.equal(live[0].ok.text, merged);

  // Bob's device gets the resolution too: no conflict left there.
  await b.locator(`#messages li[data-id="${NOTE}"]:not(.conflicted)`).getByText(merged).waitFor({ timeout: 20_000 });
  assert.equal(await b.locator('#conversation-list .badge').count(), 0);
  await shot(b, 'conflict-resolved');
});

test('keeping one version also resolves, and the choice syncs', async () => {
  const a = alice.context.pages()[0];
  const b = bob.context.pages()[0];
  await Promise.all([waitSynced(a), waitSynced(b)]);
  await Promise.all([alice.context.setOffline(true), bob.context.setOffline(true)]);
  await editNote(a, 'Version from Alice');
  await editNote(b, 'Version from Bob');
  await Promise.all([alice.context.setOffline(false), bob.context.setOffline(false)]);

  const note = b.locator(`#messages li.conflicted[data-id="${NOTE}"]`);
  await note.waitFor({ timeout: 20_000 });
  // Bob keeps Alice's version (whichever side it is shown on).
  const side = note.locator('.side', { hasText: 'Version from Alice' });
  await side.getByRole('button', { name: /^Keep version/ }).click();
  await eventually(async () => {
    const { body } = await getJson(`${stack.couch}/inbox-acme/${encodeURIComponent(NOTE)}?conflicts=true`);
    return body.text === 'Version from Alice' && !body._conflicts;
  }, 20_000, "Alice's version as the only winner on the server");
  await a.locator(`#messages li[data-id="${NOTE}"]:not(.conflicted)`).getByText('Version from Alice').waitFor({ timeout: 20_000 });
});

test('neither device threw an uncaught error through all of the above', () => {
  assert.deepEqual([...alice.errors, ...bob.errors], []);
});
