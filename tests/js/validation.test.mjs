// Validation in the browser: JSON Schemas per doc type on local writes and on docs arriving by
// replication, design docs' validate_doc_update (Hydra's immutable messages, 401, trust of
// replicated design docs, functions registered for strict CSP), and a server's own VDU
// refusing what Settee pushes. Runs against pouchdb-server, and against CouchDB 3.5 in the
// SETTEE_SERVER=couchdb rerun.
import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';
import { CouchServer } from './couch.mjs';
import { launch, openPage, removeProfile, startServer } from './helpers.mjs';

let web, browser, page, couch;
before(async () => {
  couch = await CouchServer.start();
  web = await startServer();
  browser = await launch();
  page = await openPage(browser.context, web.url);
  // The schema every page-side test uses: Hoptree-like messages and customers.
  await page.evaluate(() => {
    window.hoptree = {
      typeField: 'type',
      types: {
        message: {
          type: 'object',
          required: ['type', 'data'],
          additionalProperties: false,
          properties: {
            type: { const: 'message' },
            sent: { type: 'string', format: 'date-time' },
            data: { type: 'object', properties: { p1: { type: 'array', items: { $ref: '#/$defs/part' } } } },
          },
          $defs: { part: { type: 'string', pattern: '^(?=.*\\d)' } },
        },
        customer: {
          type: 'object',
          required: ['email'],
          properties: { email: { type: 'string', format: 'email' }, id: { type: 'string', format: 'uuid' } },
        },
      },
    };
  });
});
after(async () => {
  await browser?.context.close();
  removeProfile(browser?.profile);
  await web?.close();
  await couch?.stop();
});
afterEach(async () => {
  await couch.ensureUp();
});

const HYDRA_VDU = "function (newDoc, oldDoc, userCtx, secObj) { if (oldDoc && !newDoc._deleted) throw({forbidden: 'messages are immutable'}); }";

test('put, post and bulkDocs of docs breaking their schema get 403 naming the pointer and store nothing', async () => {
  const r = await page.evaluate(async () => {
    const db = new Settee(crypto.randomUUID(), { adapter: 'memory', schema: window.hoptree });
    const caught = (p) => p.then(() => 'stored', (e) => ({ status: e.status, name: e.name, message: e.message }));
    const put = await caught(db.put({ _id: 'm1', type: 'message', data: { p1: 'x1' } }));
    const post = await caught(db.post({ type: 'customer', email: 'nope' }));
    const extra = await caught(db.put({ _id: 'm2', type: 'message', data: {}, colour: 'red' }));
    // `pattern` is a JS RegExp: the look-ahead wants a digit in every part.
    const pattern = await caught(db.put({ _id: 'm3', type: 'message', data: { p1: ['a1', 'b'] } }));
    const rows = await db.bulkDocs([
      { _id: 'ok', type: 'message', sent: '2026-12-07T10:00:00Z', data: { p1: ['a1'] } },
      { _id: 'bad', type: 'message', sent: 'yesterday', data: {} },
      { _id: 'c1', type: 'customer', email: 'a@b.co', id: '2eb8aa08-aa98-11ea-b4aa-73b441d16380' },
      { _id: 'other', type: 'note', anything: true },
    ]);
    const info = await db.info();
    return { put, post, extra, pattern, rows, ids: (await db.allDocs()).rows.map((x) => x.id), count: info.doc_count };
  });
  assert.deepEqual(r.put, { status: 403, name: 'forbidden', message: '/data/p1: expected array, got string' });
  assert.deepEqual(r.post, { status: 403, name: 'forbidden', message: '/email: not a valid email' });
  assert.equal(r.extra.message, '/colour: additional property not allowed');
  assert.equal(r.pattern.message, '/data/p1/1: does not match the pattern "^(?=.*\\\\d)"', 'the pattern as a JSON string');
  assert.equal(r.rows[0].ok, true);
  assert.deepEqual(
    { id: r.rows[1].id, status: r.rows[1].status, name: r.rows[1].name, error: r.rows[1].error, message: r.rows[1].message },
    { id: 'bad', status: 403, name: 'forbidden', error: true, message: '/sent: not a valid date-time' },
  );
  assert.equal(r.rows[2].ok, true);
  assert.equal(r.rows[3].ok, true, "a type without a schema is allowed by default ('others')");
  assert.deepEqual(r.ids, ['c1', 'ok', 'other']);
  assert.equal(r.count, 3);
});

test("a bad schema is a 400 from the constructor's database and from setSchema, which keeps the old one", async () => {
  const r = await page.evaluate(async () => {
    const err = (p) => p.then(() => 'ok', (e) => `${e.status} ${e.name}: ${e.message}`);
    const broken = new Settee(crypto.randomUUID(), { adapter: 'memory', schema: { types: { m: { type: 'strin' } } } });
    const fromConstructor = await err(broken.info());
    const db = new Settee(crypto.randomUUID(), { adapter: 'memory', schema: window.hoptree });
    const fromSet = await err(db.setSchema({ types: { m: { minimum: 'one' } } }));
    const still = await err(db.put({ _id: 'c', type: 'customer' }));
    await db.setSchema({ types: { customer: { required: ['name'] } }, others: 'reject' });
    const replaced = await err(db.put({ _id: 'c', type: 'customer', email: 'a@b.co' }));
    const untyped = await err(db.put({ _id: 'u' }));
    await db.setSchema(null);
    const cleared = await err(db.put({ _id: 'u' }));
    return { fromConstructor, fromSet, still, replaced, untyped, cleared };
  });
  assert.equal(r.fromConstructor, '400 bad_request: invalid schema: types.m/type: expected a JSON type name or a list of them');
  assert.equal(r.fromSet, '400 bad_request: invalid schema: types.m/minimum: expected a number');
  assert.equal(r.still, '403 forbidden: /email: required property is missing');
  assert.equal(r.replaced, '403 forbidden: /name: required property is missing');
  assert.equal(r.untyped, '403 forbidden: /type: no schema for this document type');
  assert.equal(r.cleared, 'ok');
});

test('a Hydra-style validate_doc_update forbids updating a message but allows creating and deleting it', async () => {
  const r = await page.evaluate(async (vdu) => {
    const db = new Settee(crypto.randomUUID(), { adapter: 'memory' });
    await db.put({ _id: '_design/hydra', validate_doc_update: vdu });
    const { rev } = await db.put({ _id: 'msg', text: 'hello' });
    const update = await db.put({ _id: 'msg', _rev: rev, text: 'edited' }).then(
      () => 'stored',
      (e) => ({ status: e.status, name: e.name, message: e.message }),
    );
    const bulk = await db.bulkDocs([{ _id: 'msg', _rev: rev, text: 'again' }, { _id: 'msg2', text: 'new' }]);
    const stored = (await db.get('msg')).text;
    const removed = await db.remove('msg', rev);
    const recreated = await db.put({ _id: 'msg', text: 'reborn' });
    return { update, bulk: bulk.map((x) => x.status ?? 'ok'), stored, removed: removed.ok, recreated: recreated.ok };
  }, HYDRA_VDU);
  assert.deepEqual(r.update, { status: 403, name: 'forbidden', message: 'messages are immutable' });
  assert.deepEqual(r.bulk, [403, 'ok']);
  assert.equal(r.stored, 'hello');
  assert.equal(r.removed, true, 'a deletion runs the VDU with newDoc._deleted === true, which this one allows');
  assert.equal(r.recreated, true, 'recreating over a tombstone sees oldDoc === null');
});

test('a locally written design doc still validates after the database is closed and opened again (IndexedDB)', async () => {
  const r = await page.evaluate(async (vdu) => {
    const name = crypto.randomUUID();
    const first = new Settee(name);
    await first.put({ _id: '_design/hydra', validate_doc_update: vdu });
    const { rev } = await first.put({ _id: 'msg', text: 'hello' });
    await first.close();
    const again = new Settee(name);
    const update = await again.put({ _id: 'msg', _rev: rev, text: 'edited' }).then(() => 'stored', (e) => e.status);
    await again.destroy();
    return update;
  }, HYDRA_VDU);
  assert.equal(r, 403, 'the trust mark of the design doc is stored with it');
});

test('validate_doc_update gets userCtx and secObj from the options; unauthorized is 401; other throws are 500', async () => {
  const r = await page.evaluate(async () => {
    const vdu = `function (newDoc, oldDoc, userCtx, secObj) {
      if (newDoc.boom) throw new Error('boom');
      if (newDoc.askDb) throw({forbidden: 'db=' + userCtx.db});
      if (userCtx.roles.indexOf('writer') === -1) throw({unauthorized: 'writers only, not ' + userCtx.name});
      if (secObj.members.names.indexOf(userCtx.name) === -1) throw({forbidden: 'not a member'});
    }`;
    const err = (p) => p.then(() => 'ok', (e) => `${e.status} ${e.name}: ${e.message}`);
    const name = crypto.randomUUID();
    const admin = new Settee(name, { adapter: 'memory' });
    await admin.put({ _id: '_design/auth', validate_doc_update: vdu });
    const asAdmin = await err(admin.put({ _id: 'a' }));
    const reader = new Settee(crypto.randomUUID(), { adapter: 'memory', userCtx: { name: 'ann', roles: [] } });
    // A non-admin's design doc write runs the VDUs already there; this database has none yet.
    await reader.put({ _id: '_design/auth', validate_doc_update: vdu });
    const unauthorized = await err(reader.put({ _id: 'b' }));
    const designByNonAdmin = await err(reader.put({ _id: '_design/other', views: {} }));
    const secObj = { members: { names: ['bob'], roles: [] } };
    const writerName = crypto.randomUUID();
    const writer = new Settee(writerName, { adapter: 'memory', userCtx: { name: 'cy', roles: ['writer'] }, secObj });
    await writer.put({ _id: '_design/auth', validate_doc_update: vdu });
    const forbidden = await err(writer.put({ _id: 'c' }));
    const threw = await err(writer.put({ _id: 'd', boom: true }));
    const db = (await err(writer.put({ _id: 'e', askDb: true }))) === `403 forbidden: db=${writerName}`;
    const compile = await err(admin.put({ _id: '_design/bad', validate_doc_update: 'function (newDoc {' }));
    return { asAdmin, unauthorized, designByNonAdmin, forbidden, threw, compile, db };
  });
  assert.equal(r.asAdmin, '401 unauthorized: writers only, not null', 'VDUs run for an admin too (only design docs skip them)');
  assert.equal(r.unauthorized, '401 unauthorized: writers only, not ann');
  assert.equal(r.designByNonAdmin, '401 unauthorized: writers only, not ann', "a non-admin's design doc write is validated");
  assert.equal(r.forbidden, '403 forbidden: not a member');
  assert.match(r.threw, /^500 unknown_error: validate_doc_update of _design\/auth threw: boom$/);
  assert.match(r.compile, /^400 compilation_error: invalid validate_doc_update: /);
  assert.equal(r.db, true, 'userCtx.db is the database name');
});

test('registerValidateDocUpdate runs a function given in code instead of the source text (strict CSP)', async () => {
  const r = await page.evaluate(async () => {
    Settee.registerValidateDocUpdate('_design/csp', (newDoc) => {
      if (newDoc.kind !== 'ok') throw { forbidden: 'registered function says no' };
    });
    const db = new Settee(crypto.randomUUID(), { adapter: 'memory' });
    await db.put({ _id: '_design/csp', validate_doc_update: 'this source is never compiled' });
    const denied = await db.put({ _id: 'x', kind: 'bad' }).then(() => 'ok', (e) => `${e.status} ${e.message}`);
    const allowed = (await db.put({ _id: 'y', kind: 'ok' })).ok;
    return { denied, allowed };
  });
  assert.deepEqual(r, { denied: '403 registered function says no', allowed: true });
});

test('docs from the server breaking the schema are denied and counted, the good ones stored, and the checkpoint moves on', async () => {
  const remote = await couch.freshDb('valid-pull');
  const docs = [
    { _id: 'good1', type: 'message', data: { p1: ['a1'] } },
    { _id: 'bad1', type: 'message', data: { p1: 'a1' } },
    { _id: 'good2', type: 'customer', email: 'x@y.org' },
    { _id: 'bad2', type: 'customer', email: 'not an email' },
    { _id: 'note', type: 'note' },
  ];
  assert.equal((await couch.request('POST', `/${remote.name}/_bulk_docs`, { docs })).status, 201);
  const r = await page.evaluate(async ({ url }) => {
    const db = new Settee(crypto.randomUUID(), { adapter: 'memory', schema: window.hoptree });
    const denied = [];
    const rep = db.replicate.from(url, { batch_size: 2 });
    rep.on('denied', (e) => denied.push(`${e.id} ${e.status} ${e.name ?? e.error}: ${e.message ?? e.reason}`));
    const first = await rep;
    const again = await db.replicate.from(url);
    return { first, again, denied, ids: (await db.allDocs()).rows.map((x) => x.id) };
  }, remote);
  assert.equal(r.first.docs_read, 5);
  assert.equal(r.first.docs_written, 3);
  assert.equal(r.first.doc_write_failures, 2);
  assert.deepEqual(r.denied.sort(), [
    'bad1 403 forbidden: /data/p1: expected array, got string',
    'bad2 403 forbidden: /email: not a valid email',
  ]);
  assert.deepEqual(r.ids, ['good1', 'good2', 'note']);
  assert.equal(r.again.docs_read, 0, 'the checkpoint moved past the denied docs');
});

test("a design doc pulled from the server is stored but its VDU runs only with trustDesignDocs", async () => {
  const remote = await couch.freshDb('valid-trust');
  const put = (id, body) => couch.request('PUT', `/${remote.name}/${id}`, body);
  assert.equal((await put('_design/remote', { validate_doc_update: "function (newDoc) { if (newDoc.secret) throw({forbidden: 'no secrets'}); }" })).status, 201);
  const r = await page.evaluate(async ({ url }) => {
    const err = (p) => p.then(() => 'ok', (e) => `${e.status} ${e.message}`);
    const plain = new Settee(crypto.randomUUID(), { adapter: 'memory' });
    await plain.replicate.from(url);
    const stored = (await plain.get('_design/remote'))._id;
    const untrusted = await err(plain.put({ _id: 's', secret: 1 }));
    const trusting = new Settee(crypto.randomUUID(), { adapter: 'memory', trustDesignDocs: true });
    await trusting.replicate.from(url);
    const trusted = await err(trusting.put({ _id: 's', secret: 1 }));
    return { stored, untrusted, trusted };
  }, remote);
  assert.deepEqual(r, { stored: '_design/remote', untrusted: 'ok', trusted: '403 no secrets' });
});

test("a push to a server whose validate_doc_update forbids updates reports the server's forbidden as denied", async () => {
  const remote = await couch.freshDb('valid-push');
  assert.equal((await couch.request('PUT', `/${remote.name}/_design/hydra`, { validate_doc_update: HYDRA_VDU })).status, 201);
  assert.equal((await couch.request('PUT', `/${remote.name}/msg`, { text: 'server copy' })).status, 201);
  const r = await page.evaluate(async ({ url }) => {
    const db = new Settee(crypto.randomUUID(), { adapter: 'memory' });
    await db.replicate.from(url, { doc_ids: ['msg'] });
    const msg = await db.get('msg');
    await db.put({ ...msg, text: 'edited locally' });
    await db.put({ _id: 'fresh', text: 'new' });
    const denied = [];
    const rep = db.replicate.to(url);
    rep.on('denied', (e) => denied.push({ id: e.id, status: e.status, name: e.name ?? e.error, message: e.message ?? e.reason }));
    const result = await rep;
    return { result, denied };
  }, remote);
  assert.equal(r.result.doc_write_failures, 1);
  assert.equal(r.result.docs_written, 1);
  assert.deepEqual(r.denied, [{ id: 'msg', status: 403, name: 'forbidden', message: 'messages are immutable' }]);
  const server = (await couch.request('GET', `/${remote.name}/msg`)).body;
  assert.equal(server.text, 'server copy');
  assert.equal((await couch.request('GET', `/${remote.name}/fresh`)).status, 200);
});
