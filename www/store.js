// The inbox's data model on top of Settee. One local database per customer (`inbox-<id>`,
// synced with the server's database of the same name) plus a directory of customers
// (`inbox-customers`). Every message and note is its own document, so two agents answering
// the same conversation never touch the same doc; only editing the same note can conflict.
import { Settee } from '/pkg/index.js';

export const DIRECTORY = 'inbox-customers';
export const dbName = (customerId) => `inbox-${customerId}`;

// The views are temporary views given as source text. Settee indexes such a view under its
// text and keeps the index across reloads, and unlike a design doc it never replicates, so two
// devices cannot create conflicting copies of it.
//
// Messages by conversation and time; its `_stats` reduce grouped by conversation gives each
// conversation's last activity (max) and message count in one query.
const BY_CONVERSATION = {
  map: `function (doc) {
    if (doc.type === 'message') emit([doc.conversation, doc.created_at], doc.created_at);
  }`,
  reduce: '_stats',
};
// A word index for search: every word of a message or a subject, lowercased.
const WORDS = {
  map: `function (doc) {
    var text = doc.type === 'message' ? doc.text : doc.type === 'conversation' ? doc.subject : '';
    if (typeof text !== 'string') return;
    var seen = {};
    text.toLowerCase().split(/[^\\p{L}\\p{N}]+/u).forEach(function (w) {
      if (w.length > 1 && !seen[w]) { seen[w] = true; emit(w, null); }
    });
  }`,
};

/** Lowercase letters, digits and dashes: a valid CouchDB database name once prefixed. */
export function slug(name) {
  return name
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
}

/** A sortable, unique id part: time first (so ids sort by creation), then randomness. */
export function newId() {
  const rand = [...crypto.getRandomValues(new Uint8Array(5))].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${Date.now().toString(36)}-${rand}`;
}

export function openDirectory() {
  return new Settee(DIRECTORY);
}

export function openCustomer(customerId) {
  return new Settee(dbName(customerId));
}

/** Customers from the directory, by name. */
export async function listCustomers(directory) {
  const { rows } = await directory.allDocs({ include_docs: true });
  return rows
    .map((r) => r.doc)
    .filter((d) => d && d.type === 'customer')
    .sort((a, b) => a.name.localeCompare(b.name));
}

export async function addCustomer(directory, name) {
  const clean = name.trim();
  if (!clean) throw new Error('Give the customer a name.');
  const id = slug(clean);
  if (!id) throw new Error('The name needs at least one letter or digit.');
  try {
    await directory.put({ _id: id, type: 'customer', name: clean, created_at: Date.now() });
  } catch (err) {
    if (err.status === 409) throw new Error(`There is already a customer "${clean}".`);
    throw err;
  }
  return id;
}

/**
 * Conversations by last activity, newest first: the grouped reduce gives the last message's
 * time per conversation, the conversation docs give subjects (and their conflicts).
 */
export async function listConversations(db) {
  const [groups, convs] = await Promise.all([
    db.query(BY_CONVERSATION, { group_level: 1 }),
    db.allDocs({ startkey: 'conv:', endkey: 'conv:\ufff0', include_docs: true }),
  ]);
  const activity = new Map(groups.rows.map((r) => [r.key[0], r.value]));
  return convs.rows
    .filter((r) => r.doc)
    .map((r) => {
      const stats = activity.get(r.id);
      return { ...r.doc, last_activity: Math.max(stats?.max ?? 0, r.doc.created_at ?? 0), count: stats?.count ?? 0 };
    })
    .sort((a, b) => b.last_activity - a.last_activity || a._id.localeCompare(b._id));
}

/** One conversation's messages and notes, oldest first, with their `_conflicts`. */
export async function listMessages(db, conversationId) {
  const { rows } = await db.query(BY_CONVERSATION, {
    reduce: false,
    startkey: [conversationId],
    endkey: [conversationId, {}],
    include_docs: true,
    conflicts: true,
  });
  return rows.map((r) => r.doc).filter(Boolean);
}

/**
 * Docs whose text has every word of `query`: a range scan of the word index for the longest
 * word (as a prefix, so "refu" finds "refund"), then a check of the other words.
 */
export async function search(db, query, limit = 50) {
  const words = query.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((w) => w.length > 1);
  if (!words.length) return [];
  const longest = words.reduce((a, b) => (b.length > a.length ? b : a));
  const { rows } = await db.query(WORDS, { startkey: longest, endkey: longest + '\ufff0', include_docs: true, limit: 2000 });
  const seen = new Set();
  const hits = [];
  for (const { doc } of rows) {
    if (!doc || seen.has(doc._id)) continue;
    seen.add(doc._id);
    const text = (doc.type === 'message' ? doc.text : doc.subject ?? '').toLowerCase();
    if (words.every((w) => text.includes(w))) hits.push(doc);
    if (hits.length >= limit) break;
  }
  return hits.sort((a, b) => (b.created_at ?? 0) - (a.created_at ?? 0));
}

export async function createConversation(db, { subject, text, author }) {
  subject = subject.trim();
  text = text.trim();
  if (!subject) throw new Error('A conversation needs a subject.');
  if (!text) throw new Error('Write the first message of the conversation.');
  const now = Date.now();
  const id = `conv:${newId()}`;
  // One atomic write: the conversation never shows up without its first message.
  const results = await db.bulkDocs([
    { _id: id, type: 'conversation', subject, created_at: now },
    message(id, { kind: 'message', from: 'customer', author, text, now }),
  ]);
  const failed = results.find((r) => 'error' in r);
  if (failed) throw failed;
  return id;
}

export async function addMessage(db, conversationId, { kind, text, author }) {
  text = text.trim();
  if (!text) throw new Error(kind === 'note' ? 'The note is empty.' : 'The message is empty.');
  await db.put(message(conversationId, { kind, from: 'agent', author, text, now: Date.now() }));
}

function message(conversation, { kind, from, author, text, now }) {
  return { _id: `msg:${conversation.slice(5)}:${newId()}`, type: 'message', conversation, kind, from, author, text, created_at: now };
}

/** Edits a note: a new revision of the same doc (this is what two devices can conflict on). */
export async function editNote(db, doc, text, author) {
  text = text.trim();
  if (!text) throw new Error('A note cannot be empty; write something or keep the old text.');
  const { _conflicts, ...body } = doc;
  await db.put({ ...body, text, edited_by: author, edited_at: Date.now() });
}

/** Every version of a conflicted doc: the winner first, then the other leaves. */
export async function versions(db, id) {
  const winner = await db.get(id, { conflicts: true });
  const losers = await Promise.all((winner._conflicts ?? []).map((rev) => db.get(id, { rev })));
  return [winner, ...losers];
}

/**
 * Resolves a conflict with `text` (one side's, or a merge): Settee writes it on top of the
 * winner and deletes the other leaves in one atomic write, which then syncs like any edit.
 */
export function resolveWith(db, id, text, author) {
  return db.resolveConflict(id, (winner) => {
    const { _conflicts, ...body } = winner;
    return { ...body, text, edited_by: author, edited_at: Date.now() };
  });
}
