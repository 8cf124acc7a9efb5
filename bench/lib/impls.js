// The databases under test. Each implementation is the same small interface, used by the
// workloads in workloads.js:
//
//   open(name) -> handle            a fresh, opened database (not timed)
//   bulk(h, docs) -> revs[]         one atomic batch write (the docs may carry _rev)
//   put(h, doc) -> rev              one committed write
//   get(h, id) -> doc
//   allDocs(h) -> docs[]            every doc, with bodies (allDocs include_docs)
//   changes(h) -> rows[]            every change since 0
//   reopen(h) -> h                  close and open again, as a new page load would (not timed)
//   destroy(h)                      delete it (not timed)
//
// Only the databases have the query and replication methods (the floors have no indexes and no
// revisions to replicate); a workload that needs them lists them in `needs` and the floors sit
// it out:
//
//   query(h, view, opts) -> rows    a design-doc view query ('ddoc/view')
//   createIndex(h, fields)          a Mango json index
//   find(h, request) -> {docs, warning?}
//   pull(h, url) / push(h, url) -> result     one-way replication with a remote database
//   sync(h, url) -> {push, pull}    both ways
//   docCount(h) -> n
//
// The two raw floors are the least IndexedDB code that stores the same docs. They keep no
// revisions: an update overwrites. They are the physical limits, not databases.

/* global PouchDB */

function failOnErrors(results) {
  for (const r of results) if (r.error) throw new Error(`write failed: ${JSON.stringify(r)}`);
  return results.map((r) => r.rev);
}

// The validation row: `setSchema(h, spec)` gives the database a schema spec
// ({typeField, types}); `validatedBulk(h, docs)` then writes docs that must pass it. Settee
// checks in its core; PouchDB has no schemas, so its side is what an app would write: ajv
// validators compiled once per type, run over each doc in a bulkDocs wrapper.
const ajvByDb = new WeakMap();

function pouchSchema(db, spec) {
  const ajv = new window.ajv2020({ allErrors: false });
  const byType = new Map(Object.entries(spec.types).map(([t, schema]) => [t, ajv.compile(schema)]));
  ajvByDb.set(db, { field: spec.typeField ?? 'type', byType });
}

async function pouchValidatedBulk(db, docs) {
  const { field, byType } = ajvByDb.get(db);
  const good = [];
  const rows = docs.map((doc) => {
    const check = byType.get(doc[field]);
    if (check && !check(doc)) {
      const e = check.errors[0];
      return { id: doc._id, error: true, status: 403, name: 'forbidden', message: `${e.instancePath}: ${e.message}` };
    }
    good.push(doc);
    return null;
  });
  const written = await db.bulkDocs(good);
  let k = 0;
  return failOnErrors(rows.map((r) => r ?? written[k++]));
}

const settee = {
  label: 'Settee',
  setSchema: (db, spec) => db.setSchema(spec),
  validatedBulk: async (db, docs) => failOnErrors(await db.bulkDocs(docs)),
  async open(name) {
    const db = new window.settee.Settee(name, { adapter: 'idb' });
    await db.info(); // opens (creates) the IndexedDB database
    return db;
  },
  bulk: async (db, docs) => failOnErrors(await db.bulkDocs(docs)),
  put: async (db, doc) => (await db.put(doc)).rev,
  get: (db, id) => db.get(id),
  allDocs: async (db) => (await db.allDocs({ include_docs: true })).rows.map((r) => r.doc),
  changes: async (db) => (await db.changes({ since: 0 })).results,
  async reopen(db) {
    await db.close();
    return settee.open(db.name);
  },
  destroy: (db) => db.destroy(),
  ...queryAndReplication(),
};

// Not in the table: Settee on its in-memory store, to split Settee's own CPU cost (JSON,
// serde, revision trees, JS<->wasm crossings) from IndexedDB's. Ask for it with --impls.
const setteeMemory = {
  ...settee,
  label: 'Settee (memory adapter)',
  extra: true,
  async open(name) {
    const db = new window.settee.Settee(name, { adapter: 'memory' });
    await db.info();
    return db;
  },
  async reopen(db) {
    return db; // nothing to reopen: the data lives in this handle
  },
};

// Settee's and PouchDB's APIs agree on these calls, so one set serves both. Each uses the
// library's defaults (batch sizes, connections), as an application would.
function queryAndReplication() {
  return {
    query: async (db, view, opts) => (await db.query(view, opts)).rows,
    createIndex: (db, fields) => db.createIndex({ index: { fields } }),
    find: (db, request) => db.find(request),
    pull: (db, url) => db.replicate.from(url),
    push: (db, url) => db.replicate.to(url),
    sync: (db, url) => db.sync(url),
    docCount: async (db) => (await db.info()).doc_count,
  };
}

function pouch(adapter, label) {
  const impl = {
    label,
    async open(name) {
      const db = new PouchDB(name, { adapter });
      await db.info();
      if (db.adapter !== adapter) throw new Error(`PouchDB picked adapter ${db.adapter}, not ${adapter}`);
      return db;
    },
    bulk: async (db, docs) => failOnErrors(await db.bulkDocs(docs)),
    setSchema: pouchSchema,
    validatedBulk: pouchValidatedBulk,
    put: async (db, doc) => (await db.put(doc)).rev,
    get: (db, id) => db.get(id),
    allDocs: async (db) => (await db.allDocs({ include_docs: true })).rows.map((r) => r.doc),
    changes: async (db) => (await db.changes({ since: 0 })).results,
    async reopen(db) {
      await db.close();
      return impl.open(db.name);
    },
    destroy: (db) => db.destroy(),
    ...queryAndReplication(),
  };
  return impl;
}

// --- raw IndexedDB helpers ------------------------------------------------------------------

const req = (r) =>
  new Promise((ok, fail) => {
    r.onsuccess = () => ok(r.result);
    r.onerror = () => fail(r.error);
  });

const done = (tx) =>
  new Promise((ok, fail) => {
    tx.oncomplete = () => ok();
    tx.onerror = () => fail(tx.error);
    tx.onabort = () => fail(tx.error ?? new Error('transaction aborted'));
  });

function openRaw(name, store, options) {
  const r = indexedDB.open(name, 1);
  r.onupgradeneeded = () => r.result.createObjectStore(store, options);
  return req(r);
}

async function deleteRaw(db) {
  db.close();
  await req(indexedDB.deleteDatabase(db.name));
}

// One record per doc, keyed by _id; one transaction per batch.
const perRecord = {
  label: 'floor: per-record',
  open: (name) => openRaw(`raw1:${name}`, 'docs', { keyPath: '_id' }),
  async bulk(db, docs) {
    const tx = db.transaction('docs', 'readwrite');
    const store = tx.objectStore('docs');
    for (const doc of docs) store.put(doc);
    await done(tx);
    return [];
  },
  async put(db, doc) {
    const tx = db.transaction('docs', 'readwrite');
    tx.objectStore('docs').put(doc);
    await done(tx);
  },
  get: (db, id) => req(db.transaction('docs').objectStore('docs').get(id)),
  allDocs: (db) => req(db.transaction('docs').objectStore('docs').getAll()),
  changes: (db) => req(db.transaction('docs').objectStore('docs').getAll()),
  reopen(db) {
    db.close();
    return openRaw(db.name, 'docs');
  },
  destroy: deleteRaw,
};

// Docs JSON-serialised into one string record per batch (1,000 docs), keyed by a counter; an
// in-memory map says which chunk holds each id (a real engine keeps such an index too). A single
// put is a chunk of one. get = read the chunk + JSON.parse.
const chunked = {
  label: 'floor: chunked',
  async open(name) {
    const db = await openRaw(`raw2:${name}`, 'chunks');
    return { db, next: 0, where: new Map() };
  },
  async bulk(h, docs) {
    const key = h.next++;
    const tx = h.db.transaction('chunks', 'readwrite');
    tx.objectStore('chunks').put(JSON.stringify(docs), key);
    await done(tx);
    docs.forEach((doc, i) => h.where.set(doc._id, [key, i]));
    return [];
  },
  async put(h, doc) {
    await chunked.bulk(h, [doc]);
  },
  async get(h, id) {
    const [key, i] = h.where.get(id);
    const text = await req(h.db.transaction('chunks').objectStore('chunks').get(key));
    return JSON.parse(text)[i];
  },
  async allDocs(h) {
    const texts = await req(h.db.transaction('chunks').objectStore('chunks').getAll());
    return texts.flatMap((t) => JSON.parse(t));
  },
  changes: (h) => chunked.allDocs(h),
  async reopen(h) {
    h.db.close();
    h.db = await openRaw(h.db.name, 'chunks');
    return h; // the id -> chunk map stays: a real engine would load its index on open
  },
  destroy: (h) => deleteRaw(h.db),
};

/** In table order. The key is the name used in results and on the command line. */
export const IMPLS = {
  settee,
  'pouchdb-idb': pouch('idb', 'PouchDB 9 (idb)'),
  'pouchdb-indexeddb': pouch('indexeddb', 'PouchDB 9 (indexeddb)'),
  'floor-record': perRecord,
  'floor-chunked': chunked,
  'settee-memory': setteeMemory,
};
