// Settee Inbox: a shared team inbox that works offline. Everything the page shows is read
// from the local databases; the network is only the live sync's business. So a reload with
// the network off shows the same page, and edits made offline wait in IndexedDB.
import * as store from './store.js';
import { liveSync, checkServerUrl } from './sync.js';
import { seedIfEmpty, loadBigCustomer } from './seed.js';

const $ = (sel) => document.querySelector(sel);
const el = (tag, props = {}, ...kids) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...kids.filter((k) => k !== undefined && k !== null));
  return node;
};

const state = {
  server: '', // the sync server's base URL (no database)
  agent: localStorage.getItem('inbox.agent') || `Agent ${Math.floor(Math.random() * 90 + 10)}`,
  directory: store.openDirectory(),
  directorySync: null,
  customer: null, // id
  db: null,
  sync: null,
  feed: null,
  conversation: null, // id
  query: '',
  editing: null, // id of the note being edited
  focusEdit: false, // move the focus into the note editor at the next render (it just opened)
  drafts: new Map(), // text typed in the note editor and merge boxes, by their data-key
};
localStorage.setItem('inbox.agent', state.agent);

/** One line for errors and confirmations; errors stay until the next action. */
function say(text, kind = 'info') {
  const box = $('#message');
  box.textContent = text;
  box.className = kind;
  box.hidden = !text;
}
const failed = (err) => say(err?.message ? `${err.status ? err.status + ' ' : ''}${err.message}` : String(err), 'error');

/** Runs a user action: its error becomes a message, never a broken page. */
async function act(fn) {
  try {
    say('');
    await fn();
  } catch (err) {
    failed(err);
  }
}

// ---- rendering, coalesced: many changes (a big pull) cause one render at a time -------------
// A render replaces lists wholesale. Controls that must survive it carry a `data-key`: the
// focused one gets the focus (and caret) back, and typed text lives in `state.drafts`, so a
// change synced in while someone types a note does not eat their typing.
function savedFocus() {
  const a = document.activeElement;
  return a?.dataset?.key ? { key: a.dataset.key, start: a.selectionStart, end: a.selectionEnd } : null;
}
function restoreFocus(saved) {
  if (!saved || (document.activeElement && document.activeElement !== document.body)) return;
  const node = document.querySelector(`[data-key="${CSS.escape(saved.key)}"]`);
  node?.focus({ preventScroll: true });
  if (node && typeof saved.start === 'number' && 'setSelectionRange' in node) node.setSelectionRange(saved.start, saved.end);
}
const keyed = (node, key) => {
  node.dataset.key = key;
  return node;
};

let rendering = null;
let again = false;
function render() {
  if (rendering) {
    again = true;
    return rendering;
  }
  rendering = (async () => {
    try {
      do {
        again = false;
        const focus = savedFocus();
        await Promise.all([renderCustomers(), renderConversations(), renderThread(), showPending()]);
        restoreFocus(focus);
      } while (again);
    } catch (err) {
      failed(err);
    } finally {
      rendering = null;
    }
  })();
  return rendering;
}

async function renderCustomers() {
  const customers = await store.listCustomers(state.directory);
  $('#customer-list').replaceChildren(
    ...customers.map((c) => {
      const button = keyed(el('button', { type: 'button', textContent: c.name, className: 'customer' }), `customer:${c._id}`);
      if (c._id === state.customer) button.setAttribute('aria-current', 'true');
      button.onclick = () => act(() => openCustomer(c._id));
      return el('li', {}, button);
    }),
  );
  if (!customers.length) $('#customer-list').append(el('li', { className: 'hint', textContent: 'No customers yet: add one below.' }));
  // Opened after this render (openCustomer renders, and a render cannot wait for itself).
  if (!state.customer && customers.length) setTimeout(() => act(() => openCustomer(customers[0]._id)));
}

async function renderConversations() {
  const list = $('#conversation-list');
  if (!state.db) {
    list.replaceChildren();
    $('#list-summary').textContent = 'Pick or add a customer.';
    return;
  }
  const db = state.db;
  const conflicted = new Set();
  for (const row of (await db.conflicts({ include_docs: true })).rows) {
    conflicted.add(row.doc?.conversation ?? row.id);
  }
  if (state.query) {
    const hits = await store.search(db, state.query);
    $('#list-summary').textContent = `${hits.length}${hits.length === 50 ? '+' : ''} results for "${state.query}"`;
    list.replaceChildren(
      ...hits.map((doc) => {
        const conv = doc.type === 'conversation' ? doc._id : doc.conversation;
        return convItem(conv, doc.type === 'conversation' ? doc.subject : doc.text, `${doc.author ?? 'subject'} · ${when(doc.created_at)}`, conflicted.has(conv));
      }),
    );
    return;
  }
  const convs = await store.listConversations(db);
  if (db !== state.db) return; // the customer changed while this was read
  $('#list-summary').textContent = `${convs.length} conversations, most recent first`;
  // A long list renders its first 100: enough to pick from, search finds the rest.
  list.replaceChildren(
    ...convs.slice(0, 100).map((c) => convItem(c._id, c.subject, `${c.count} messages · ${when(c.last_activity)}`, conflicted.has(c._id))),
  );
}

function convItem(id, title, meta, conflict) {
  const button = keyed(el('button', { type: 'button', className: 'conv' }, el('strong', { textContent: title }), el('span', { className: 'meta', textContent: meta })), `conv:${id}`);
  if (conflict) button.append(el('span', { className: 'badge', textContent: 'conflict' }));
  if (id === state.conversation) button.setAttribute('aria-current', 'true');
  button.onclick = () => {
    state.conversation = id;
    state.editing = null;
    render().then(() => $('#conversation').focus());
  };
  const li = el('li', {}, button);
  li.dataset.id = id;
  return li;
}

async function renderThread() {
  const db = state.db;
  const form = $('#reply-form');
  $('#tips').hidden = Boolean(db && state.conversation);
  if (!db || !state.conversation) {
    $('#thread-h').textContent = state.db ? 'Pick a conversation' : 'No customer';
    $('#messages').replaceChildren();
    $('#conflicts-banner').hidden = true;
    form.hidden = true;
    return;
  }
  const [conv, messages] = await Promise.all([db.get(state.conversation).catch(() => null), store.listMessages(db, state.conversation)]);
  if (db !== state.db) return;
  $('#thread-h').textContent = conv?.subject ?? '(conversation not synced yet)';
  form.hidden = !conv;
  const conflicts = messages.filter((m) => m._conflicts?.length);
  const banner = $('#conflicts-banner');
  banner.hidden = !conflicts.length;
  banner.textContent = conflicts.length ? `${conflicts.length} note${conflicts.length > 1 ? 's were' : ' was'} edited on two devices: pick a version or merge below.` : '';
  const items = await Promise.all(messages.map((m) => renderMessage(db, m)));
  $('#messages').replaceChildren(...items);
}

async function renderMessage(db, doc) {
  const li = $('#message-template').content.firstElementChild.cloneNode(true);
  li.dataset.id = doc._id;
  li.classList.add(doc.kind === 'note' ? 'note' : doc.from === 'customer' ? 'customer' : 'agent');
  li.querySelector('.who').textContent = doc.author ?? '';
  li.querySelector('.kind').textContent = doc.kind === 'note' ? 'internal note' : doc.from === 'customer' ? 'wrote' : 'replied';
  const time = li.querySelector('time');
  time.dateTime = new Date(doc.created_at).toISOString();
  time.textContent = when(doc.created_at) + (doc.edited_at ? ` · edited by ${doc.edited_by}` : '');
  li.querySelector('.text').textContent = doc.text;
  const tools = li.querySelector('.tools');

  if (doc._conflicts?.length) {
    li.classList.add('conflicted');
    tools.append(await conflictPanel(db, doc));
  } else if (doc.kind === 'note' && state.editing === doc._id) {
    const key = `edit:${doc._id}`;
    const area = keyed(el('textarea', { value: state.drafts.get(key) ?? doc.text, rows: 3, className: 'edit' }), key);
    area.setAttribute('aria-label', 'Edit the note');
    area.oninput = () => state.drafts.set(key, area.value);
    const save = () => act(async () => {
      await store.editNote(db, doc, area.value, state.agent);
      state.editing = null;
      state.drafts.delete(key);
      await render();
    });
    const cancel = el('button', { type: 'button', textContent: 'Cancel', className: 'quiet' });
    cancel.onclick = () => {
      state.editing = null;
      state.drafts.delete(key);
      render();
    };
    // Ctrl+Enter saves, Escape cancels.
    area.onkeydown = (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) save();
      if (e.key === 'Escape') cancel.click();
    };
    tools.append(area, el('button', { type: 'button', textContent: 'Save note', onclick: save }), cancel);
    if (state.focusEdit) {
      state.focusEdit = false;
      queueMicrotask(() => area.focus());
    }
  } else if (doc.kind === 'note') {
    const edit = keyed(el('button', { type: 'button', textContent: 'Edit note', className: 'quiet' }), `edit-button:${doc._id}`);
    edit.onclick = () => {
      state.editing = doc._id;
      state.focusEdit = true;
      render();
    };
    tools.append(edit);
  }
  return li;
}

/** Both (or all) versions side by side: keep one, or merge them by hand. */
async function conflictPanel(db, doc) {
  const all = await store.versions(db, doc._id);
  const panel = el('div', { className: 'conflict' });
  panel.append(el('p', { className: 'conflict-h', textContent: 'Edited on two devices. Which version stays?' }));
  const sides = el('div', { className: 'sides' });
  all.forEach((v, i) => {
    const keep = keyed(el('button', { type: 'button', textContent: `Keep version ${'ABCDEFG'[i]}` }), `keep:${doc._id}:${i}`);
    keep.onclick = () => act(async () => {
      await store.resolveWith(db, doc._id, v.text, state.agent);
      say(`Kept version ${'ABCDEFG'[i]}; it syncs to the other devices.`);
      await render();
    });
    sides.append(
      el('section', { className: 'side' },
        el('h3', { textContent: `Version ${'ABCDEFG'[i]}` }),
        el('p', { className: 'meta', textContent: `${v.edited_by ?? v.author ?? 'unknown'}${v.edited_at ? ' · ' + when(v.edited_at) : ''} · rev ${v._rev.slice(0, 8)}` }),
        el('p', { className: 'text', textContent: v.text }),
        keep),
    );
  });
  const mergeKey = `merge:${doc._id}`;
  const merged = keyed(el('textarea', { rows: 3, value: state.drafts.get(mergeKey) ?? all.map((v) => v.text).join('\n'), className: 'merge' }), mergeKey);
  merged.setAttribute('aria-label', 'Merged text');
  merged.oninput = () => state.drafts.set(mergeKey, merged.value);
  const mergeBtn = el('button', { type: 'button', textContent: 'Save merged text' });
  mergeBtn.onclick = () => act(async () => {
    const text = merged.value.trim();
    if (!text) throw new Error('The merged text is empty; keep one version instead.');
    await store.resolveWith(db, doc._id, text, state.agent);
    state.drafts.delete(mergeKey);
    say('Merged; the merge syncs to the other devices.');
    await render();
  });
  panel.append(sides, el('label', { className: 'merge-label' }, 'Or merge: ', merged), mergeBtn);
  return panel;
}

function when(ms) {
  if (!ms) return '';
  const d = new Date(ms);
  const sameDay = d.toDateString() === new Date().toDateString();
  return sameDay ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : d.toLocaleDateString([], { month: 'short', day: 'numeric' });
}

// ---- sync status line -------------------------------------------------------------------
let lastSnap = null;

/**
 * "pending": what the replication reports, and at least the local changes made since the
 * last seq known to be on the server. The library's push `pending` is only known while it
 * can run, and offline it cannot: this count is what makes offline edits visible.
 */
async function showPending() {
  const db = state.db;
  const snap = lastSnap?.db === state.customer ? lastSnap : null;
  const pushed = localStorage.getItem(`inbox.pushed.${state.customer}`);
  let unsent = 0;
  if (db && pushed !== null) {
    const { results } = await db.changes({ since: Number(pushed), limit: 1001 });
    if (db !== state.db) return;
    unsent = results.length;
  }
  const send = Math.max(unsent, snap?.pending.push ?? 0);
  const receive = snap?.pending.pull ?? 0;
  // During a first pull every pulled doc is also a local change the push must look at once:
  // counting those as "to send" would only confuse, so say what is being received.
  $('#sync-pending').textContent =
    snap?.firstPull && receive > 0
      ? `pending: ${receive.toLocaleString('en')} to receive (first sync)`
      : `pending: ${send > 1000 ? '1000+' : send} to send, ${receive} to receive`;
}

function showSync(snap) {
  if (!snap || snap.db !== state.customer) return;
  const text = {
    connecting: 'connecting…',
    active: 'active: syncing',
    paused: 'paused: up to date',
    offline: 'offline: edits are kept on this device',
    retrying: 'error, retrying',
    error: 'error: sync stopped',
  }[snap.state] ?? snap.state;
  $('#sync').dataset.state = snap.state;
  // Only real changes: the line is a live region, and a big pull emits many events.
  const line = `${text}${snap.detail ? ` (${snap.detail})` : ''}`;
  if ($('#sync-text').textContent !== line) $('#sync-text').textContent = line;
  lastSnap = snap;
  if (snap.pushedSeq !== null) localStorage.setItem(`inbox.pushed.${snap.db}`, String(snap.pushedSeq));
  showPending().catch(failed);
  // A first pull of a big customer: docs read against docs read + still pending on the server.
  const bar = $('#sync-progress');
  const total = snap.pulled + snap.pending.pull;
  const showBar = snap.firstPull && snap.state === 'active' && snap.pending.pull > 0;
  bar.hidden = !showBar;
  if (showBar) {
    bar.max = total;
    bar.value = snap.pulled;
  }
  $('#sync-progress-text').textContent = showBar ? `${snap.pulled.toLocaleString('en')} / ${total.toLocaleString('en')} docs` : '';
}

// ---- switching customers -------------------------------------------------------------------
async function openCustomer(id) {
  if (state.customer === id && state.db) return;
  state.sync?.cancel();
  state.feed?.cancel();
  state.customer = id;
  state.conversation = null;
  state.editing = null;
  state.query = '';
  $('#search').value = '';
  localStorage.setItem('inbox.customer', id);
  state.db = store.openCustomer(id);
  startCustomerSync();
  // Changes from the sync and from other tabs (a live feed sees their writes) redraw the page.
  state.feed = state.db.changes({ since: 'now', live: true }).on('change', () => render());
  state.feed.on('error', failed);
  await render();
}

function startCustomerSync() {
  state.sync?.cancel();
  state.sync = null;
  if (!state.server) {
    $('#sync').dataset.state = 'error';
    $('#sync-text').textContent = 'not syncing: set a sync server in Settings';
  }
  if (!state.server || !state.customer) return;
  const id = state.customer;
  state.sync = liveSync(state.db, `${state.server}/${store.dbName(id)}`, (snap) => showSync({ ...snap, db: id }));
}

function startDirectorySync() {
  state.directorySync?.cancel();
  state.directorySync = state.server ? liveSync(state.directory, `${state.server}/${store.DIRECTORY}`, () => {}) : null;
}

/** The demo server's URL comes from /config.json, which scripts/demo.sh writes (COUCH_PORT). */
async function loadConfig() {
  try {
    const res = await fetch('/config.json');
    if (res.ok) return await res.json();
  } catch {}
  return { couch: `${location.protocol}//${location.hostname}:5984`, guessed: true };
}

// ---- forms ---------------------------------------------------------------------------------
function wireForms(config) {
  $('#server-url').value = state.server;
  $('#agent-name').value = state.agent;
  $('#settings-form').onsubmit = (e) => {
    e.preventDefault();
    act(async () => {
      const agent = $('#agent-name').value.trim();
      if (!agent) throw new Error('Your name cannot be empty: it is shown on your notes.');
      const server = checkServerUrl($('#server-url').value);
      state.agent = agent;
      localStorage.setItem('inbox.agent', agent);
      if (server !== state.server) {
        state.server = server;
        localStorage.setItem('inbox.server', server);
        startDirectorySync();
        startCustomerSync();
      }
      $('.settings').open = false;
      say(`Saved. Syncing with ${server}.`);
    });
  };
  $('#server-reset').onclick = () => {
    localStorage.removeItem('inbox.server');
    $('#server-url').value = config.couch;
    $('#settings-form').requestSubmit();
  };

  $('#customer-form').onsubmit = (e) => {
    e.preventDefault();
    act(async () => {
      const id = await store.addCustomer(state.directory, $('#customer-name').value);
      $('#customer-name').value = '';
      await openCustomer(id);
    });
  };

  $('#load-big').onclick = () => act(async () => {
    if (!navigator.onLine) throw new Error('You are offline: the sample messages are written on the server.');
    const button = $('#load-big');
    button.disabled = true;
    try {
      await loadBigCustomer(state.server, 10_000, (done, total) => say(`Writing sample messages on the server: ${done.toLocaleString('en')} / ${total.toLocaleString('en')}`));
      say('Big Co is on the server: open it to watch the first sync pull it.');
    } finally {
      button.disabled = false;
    }
  });

  let searchTimer;
  $('#search').oninput = () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      state.query = $('#search').value.trim();
      render();
    }, 150);
  };
  $('#search-form').onsubmit = (e) => e.preventDefault();

  $('#new-conv-form').onsubmit = (e) => {
    e.preventDefault();
    act(async () => {
      if (!state.db) throw new Error('Pick a customer first.');
      state.conversation = await store.createConversation(state.db, {
        subject: $('#new-subject').value,
        text: $('#new-text').value,
        author: 'Customer',
      });
      e.target.reset();
      e.target.closest('details').open = false;
      await render();
    });
  };

  const reply = $('#reply-form');
  reply.onsubmit = (e) => {
    e.preventDefault();
    act(async () => {
      await store.addMessage(state.db, state.conversation, { kind: reply.kind.value, text: reply.text.value, author: state.agent });
      reply.text.value = '';
      await render();
    });
  };
  reply.text.onkeydown = (e) => e.key === 'Enter' && (e.ctrlKey || e.metaKey) && reply.requestSubmit();
}

// ---- start ---------------------------------------------------------------------------------
async function main() {
  // The service worker makes the next load work offline; this load works without it.
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/sw.js').catch((err) => console.warn('service worker not registered:', err));
  }
  const config = await loadConfig();
  const saved = localStorage.getItem('inbox.server');
  try {
    state.server = checkServerUrl(saved || config.couch);
  } catch (err) {
    state.server = '';
    failed(new Error(`The saved sync server is unusable (${err.message}); fix it in Settings.`));
  }
  wireForms(config);
  // First visit with the server up: fill it with three sample customers before the syncs
  // start, so they find the databases there. A slow server gets 3 s, then the page goes on.
  if (navigator.onLine && state.server) {
    const seeded = seedIfEmpty(state.server).catch((err) =>
      say(`Could not reach the sync server to load the samples (${err.message}). You can still work offline.`, 'error'),
    );
    await Promise.race([seeded, new Promise((ok) => setTimeout(ok, 3000))]);
  }
  startDirectorySync();
  state.directory.changes({ since: 'now', live: true }).on('change', () => render());
  const last = localStorage.getItem('inbox.customer');
  if (last) await openCustomer(last);
  else await render();
  if (config.guessed) say('No /config.json from the demo server: guessing the sync server at port 5984 (change it in Settings).');
  document.body.dataset.ready = 'true';
}

main().catch(failed);
