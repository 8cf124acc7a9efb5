// Sample data, written straight to the server over CouchDB's HTTP API (not through a local
// database), the way another team's devices would have filled it. Fixed ids and plain
// `_bulk_docs` make seeding safe to race: a doc that already exists is refused by the server
// (409), never turned into a conflict, so two tabs or devices seeding at once are harmless.
import { DIRECTORY, dbName } from './store.js';

const HOUR = 3600_000;

const SAMPLES = [
  {
    id: 'acme',
    name: 'Acme Rockets',
    conversations: [
      ['Refund for a late delivery', [
        ['customer', 'message', 'Our order #4411 arrived two weeks late. Can we get a refund on shipping?'],
        ['Dana', 'note', 'They are on the annual plan; a shipping refund is fine, no approval needed.'],
        ['Dana', 'message', 'Sorry about that! I have refunded the shipping cost; it shows up in 3 to 5 days.'],
      ]],
      ['Invoice address change', [
        ['customer', 'message', 'Please send future invoices to billing@acme.example.'],
        ['Sam', 'note', 'Updated in billing. Check the next invoice run goes out to the new address.'],
      ]],
    ],
  },
  {
    id: 'globex',
    name: 'Globex',
    conversations: [
      ['Export to CSV is slow', [
        ['customer', 'message', 'Exporting 50k rows takes minutes. Is there a faster way?'],
        ['Sam', 'note', 'Known issue with the legacy exporter; the new one streams. Offer the beta flag.'],
      ]],
      ['Two seats to add', [['customer', 'message', 'We are hiring two people next week; how do we add seats?']]],
    ],
  },
  {
    id: 'initech',
    name: 'Initech',
    conversations: [
      ['TPS report template', [
        ['customer', 'message', 'Where do we find the new cover sheet for TPS reports?'],
        ['Dana', 'note', 'Template lives in the shared drive under Reports / 2026.'],
      ]],
    ],
  },
];

async function http(url, init = {}) {
  const res = await fetch(url, { ...init, headers: { 'content-type': 'application/json', ...init.headers } });
  const body = await res.json().catch(() => ({}));
  return { status: res.status, body };
}

/** Creates a server database; an existing one (412) is fine. */
async function ensureDb(server, name) {
  const { status, body } = await http(`${server}/${name}`, { method: 'PUT' });
  if (status !== 201 && status !== 412) throw new Error(`server refused to create ${name}: ${status} ${body.reason ?? ''}`);
}

async function bulk(server, name, docs) {
  const { status, body } = await http(`${server}/${name}/_bulk_docs`, { method: 'POST', body: JSON.stringify({ docs }) });
  if (status !== 201) throw new Error(`server refused docs for ${name}: ${status} ${body.reason ?? ''}`);
}

function conversationDocs(conversations, base) {
  const docs = [];
  conversations.forEach(([subject, messages], c) => {
    const conv = `conv:sample-${c}`;
    const start = base - (conversations.length - c) * 5 * HOUR;
    docs.push({ _id: conv, type: 'conversation', subject, created_at: start });
    messages.forEach(([who, kind, text], m) => {
      docs.push({
        _id: `msg:sample-${c}:${String(m).padStart(5, '0')}`,
        type: 'message',
        conversation: conv,
        kind,
        from: who === 'customer' ? 'customer' : 'agent',
        author: who === 'customer' ? 'Customer' : who,
        text,
        created_at: start + m * 17 * 60_000,
      });
    });
  });
  return docs;
}

/** Seeds the three sample customers when the server's directory is empty (first visit). */
export async function seedIfEmpty(server) {
  const probe = await http(`${server}/${DIRECTORY}/_all_docs?limit=1`);
  if (probe.status === 200 && probe.body.rows?.length) return false;
  await ensureDb(server, DIRECTORY);
  const base = Date.now();
  for (const sample of SAMPLES) {
    await ensureDb(server, dbName(sample.id));
    await bulk(server, dbName(sample.id), conversationDocs(sample.conversations, base));
  }
  await bulk(server, DIRECTORY, SAMPLES.map((s) => ({ _id: s.id, type: 'customer', name: s.name, created_at: base })));
  return true;
}

const WORDS = ('order invoice refund shipping login password export report seat plan upgrade invoice ' +
  'discount delivery tracking account billing error timeout mobile sync offline backup').split(' ');

/**
 * Writes a customer with `total` messages (200 conversations) to the server in chunks, and
 * adds it to the directory last, so it appears in the list once its data is all there.
 */
export async function loadBigCustomer(server, total = 10_000, onProgress = () => {}) {
  const id = 'bigco';
  const name = `Big Co (${total.toLocaleString('en')} messages)`;
  const conversations = 200;
  await ensureDb(server, DIRECTORY);
  await ensureDb(server, dbName(id));
  const base = Date.now() - total * 60_000;
  let docs = [];
  for (let c = 0; c < conversations; c++) {
    docs.push({ _id: `conv:big-${String(c).padStart(4, '0')}`, type: 'conversation', subject: `Ticket ${c + 1}: ${WORDS[c % WORDS.length]} question`, created_at: base + c });
  }
  for (let m = 0; m < total; m++) {
    const c = m % conversations;
    const w = (i) => WORDS[(m * 7 + i * 13) % WORDS.length];
    docs.push({
      _id: `msg:big-${String(c).padStart(4, '0')}:${String(m).padStart(6, '0')}`,
      type: 'message',
      conversation: `conv:big-${String(c).padStart(4, '0')}`,
      kind: m % 5 === 4 ? 'note' : 'message',
      from: m % 2 ? 'agent' : 'customer',
      author: m % 2 ? 'Robot' : 'Customer',
      text: `Message ${m + 1} about ${w(0)}, ${w(1)} and ${w(2)}.`,
      created_at: base + m * 60_000,
    });
    if (docs.length >= 2500) {
      await bulk(server, dbName(id), docs);
      onProgress(m + 1, total);
      docs = [];
    }
  }
  if (docs.length) await bulk(server, dbName(id), docs);
  onProgress(total, total);
  await bulk(server, DIRECTORY, [{ _id: id, type: 'customer', name, created_at: Date.now() }]);
  return id;
}
