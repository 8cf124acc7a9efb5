// The Settee demo: a list of notes in one IndexedDB-backed database. Everything goes through
// the public API of the built package (/pkg/index.js), as an app would use it.
import { Settee } from '/pkg/index.js';

const db = new Settee('settee-demo');
const $ = (selector) => document.querySelector(selector);

/** Shows a status line; errors show their PouchDB status and name. */
function status(text, isError = false) {
  $('#status').textContent = text;
  $('#status').classList.toggle('error', isError);
}
const fail = (err) => status(`${err.status ?? ''} ${err.name}: ${err.message}`.trim(), true);

/** Re-reads everything and redraws: cheap at demo sizes, and always consistent. */
async function render() {
  const [info, all] = await Promise.all([db.info(), db.allDocs({ include_docs: true, conflicts: true })]);
  $('#info').innerHTML = '';
  for (const [label, value] of [
    ['database', info.db_name],
    ['docs', info.doc_count],
    ['update seq', info.update_seq],
    ['storage', info.adapter],
  ]) {
    const div = document.createElement('div');
    div.append(Object.assign(document.createElement('dt'), { textContent: label }));
    div.append(Object.assign(document.createElement('dd'), { textContent: value }));
    $('#info').append(div);
  }
  const list = $('#docs');
  list.replaceChildren(...(await Promise.all(all.rows.map((row) => renderDoc(row.doc)))));
  $('#empty').hidden = all.rows.length > 0;
}

async function renderDoc(doc) {
  const li = $('#doc-template').content.firstElementChild.cloneNode(true);
  li.dataset.id = doc._id;
  li.querySelector('.id').textContent = doc._id;
  li.querySelector('.text').textContent = doc.text ?? JSON.stringify(doc);
  li.querySelector('.rev').textContent = shortRev(doc._rev);

  const edit = li.querySelector('.edit');
  li.querySelector('.edit-btn').onclick = () => {
    edit.value = doc.text ?? '';
    edit.hidden = false;
    li.querySelector('.text').hidden = true;
    li.querySelector('.edit-btn').hidden = true;
    li.querySelector('.save-btn').hidden = false;
    edit.focus();
  };
  const save = () => act(() => db.put({ ...doc, text: edit.value }), `Saved ${doc._id}`);
  li.querySelector('.save-btn').onclick = save;
  edit.onkeydown = (e) => e.key === 'Enter' && save();
  li.querySelector('.delete-btn').onclick = () => act(() => db.remove(doc), `Deleted ${doc._id}`);
  li.querySelector('.conflict-btn').onclick = () => act(() => makeConflict(doc), `Wrote a conflicting revision of ${doc._id}`);

  if (doc._conflicts?.length) {
    li.classList.add('conflicted');
    li.querySelector('.conflicts').hidden = false;
    const leaves = await db.get(doc._id, { open_revs: 'all' });
    const ul = li.querySelector('.leaves');
    for (const leaf of leaves) {
      if (!('ok' in leaf) || leaf.ok._deleted) continue;
      const item = document.createElement('li');
      const winner = leaf.ok._rev === doc._rev;
      item.append(
        Object.assign(document.createElement('code'), { textContent: (winner ? '★ ' : '') + shortRev(leaf.ok._rev) }),
        Object.assign(document.createElement('span'), { textContent: leaf.ok.text ?? '' }),
      );
      const keep = Object.assign(document.createElement('button'), { type: 'button', textContent: 'Keep this', className: 'quiet' });
      keep.onclick = () => act(() => resolve(doc, leaf.ok, leaves), `Resolved ${doc._id}`);
      item.append(keep);
      ul.append(item);
    }
  }
  return li;
}

const shortRev = (rev) => rev.slice(0, rev.indexOf('-') + 7);

function randomHash() {
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Writes a sibling of the current revision (same parent, different content), the way a
 * replication from another device would: `new_edits: false` stores it as given.
 */
async function makeConflict(doc) {
  const { _revisions } = await db.get(doc._id, { revs: true });
  const { _rev, ...body } = doc;
  const hash = randomHash();
  const [result] = await db.bulkDocs(
    [
      {
        ...body,
        text: `${doc.text ?? ''} (edited elsewhere)`,
        _rev: `${_revisions.start}-${hash}`,
        _revisions: { start: _revisions.start, ids: [hash, ..._revisions.ids.slice(1)] },
      },
    ],
    { new_edits: false },
  );
  // With new_edits: false, bulkDocs lists only the docs that failed (CouchDB's answer).
  if (result && 'error' in result) throw result;
}

/** Keeps `chosen`: its content becomes the new winner, and every other leaf is deleted. */
async function resolve(winner, chosen, leaves) {
  for (const leaf of leaves) {
    if ('ok' in leaf && !leaf.ok._deleted && leaf.ok._rev !== winner._rev) await db.remove(winner._id, leaf.ok._rev);
  }
  if (chosen._rev !== winner._rev) {
    const { _rev, _conflicts, ...content } = chosen;
    await db.put({ ...content, _rev: winner._rev });
  }
}

async function act(fn, message) {
  try {
    await fn();
    status(message);
  } catch (err) {
    fail(err);
  }
  await render().catch(fail);
}

$('#add').onsubmit = (e) => {
  e.preventDefault();
  const form = e.target;
  const text = form.text.value.trim();
  const id = form.id.value.trim();
  act(async () => {
    const res = id ? await db.put({ _id: id, text }) : await db.post({ text });
    form.reset();
    return res;
  }, `Added ${id || 'a note'}`);
};

$('#clear').onclick = async () => {
  if (!confirm('Delete every document in this database?')) return;
  await db.destroy().catch(fail);
  location.reload();
};

// Changes from this tab and from other tabs redraw the list.
db.changes({ live: true, since: 'now' })
  .on('change', () => render().catch(fail))
  .on('error', fail);

// Live two-way sync with the CouchDB-compatible server that scripts/demo.sh starts.
let sync;
const syncForm = $('#sync');
syncForm.url.value = `${location.protocol}//${location.hostname}:5984/settee-demo`;
const syncState = (text) => ($('#sync-state').textContent = text);
syncForm.onsubmit = (e) => {
  e.preventDefault();
  if (sync) {
    sync.cancel();
    return;
  }
  syncForm.toggle.textContent = 'Stop sync';
  sync = db
    .sync(syncForm.url.value.trim(), { live: true, retry: true })
    .on('change', (info) => syncState(`${info.direction}: ${info.change.docs_written} docs written`))
    .on('paused', (err) => syncState(err ? `paused (${err.message}), retrying` : 'up to date'))
    .on('active', () => syncState('syncing…'))
    .on('denied', (err) => status(`denied: ${err.message}`, true))
    .on('error', (err) => {
      syncState('stopped');
      fail(err);
    })
    .on('complete', () => {
      sync = undefined;
      syncForm.toggle.textContent = 'Start live sync';
      syncState('not syncing');
    });
};

render().then(() => status('Ready. Data lives in IndexedDB: reload to see it persist.'), fail);
