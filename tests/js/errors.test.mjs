// Rejections are real Errors in PouchDB's vocabulary, and a rejected write writes nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { settle, sharedPage, uniqueName } from './helpers.mjs';

let page;
sharedPage((shared) => ({ page } = shared));

test('a put with a stale rev rejects with a 409 conflict Error', async () => {
  const name = uniqueName('stale');
  const r = await settle(
    page,
    async (name) => {
      const db = new Settee(name);
      const first = await db.put({ _id: 'a', text: 'hi' });
      await db.put({ _id: 'a', _rev: first.rev, text: 'second' });
      try {
        await db.put({ _id: 'a', _rev: first.rev, text: 'stale' });
      } catch (e) {
        // instanceof and the stack only exist in the page: check them here.
        if (!(e instanceof Error) || typeof e.stack !== 'string') throw new Error('not a real Error');
        throw e;
      }
    },
    name,
  );
  assert.ok(r.error, 'the stale put must reject');
  assert.deepEqual(r.error, {
    isError: true,
    status: 409,
    name: 'conflict',
    message: 'Document update conflict',
    reason: r.error.reason, // optional in PouchDB; not checked
    error: true,
  });
  // A put without _rev on an existing doc is a conflict too.
  const again = await settle(page, async (name) => new Settee(name).put({ _id: 'a', text: 'no rev' }), name);
  assert.equal(again.error?.status, 409);
  assert.equal(again.error?.name, 'conflict');
});

test('bulkDocs reports a conflict for one doc without aborting the others', async () => {
  const r = await page.evaluate(async (name) => {
    const db = new Settee(name);
    await db.put({ _id: 'taken', v: 1 });
    const results = await db.bulkDocs([{ _id: 'new1' }, { _id: 'taken', v: 2 }, { _id: 'new2' }]);
    return { results, info: await db.info() };
  }, uniqueName('bulkconflict'));
  assert.equal(r.results[0].ok, true);
  assert.equal(r.results[1].status, 409);
  assert.equal(r.results[1].name, 'conflict');
  assert.equal(r.results[1].error, true);
  assert.equal(r.results[2].ok, true);
  assert.equal(r.info.doc_count, 3);
});

// Each entry: what to call, and the PouchDB status/name it must reject with. Where PouchDB
// and CouchDB use two names for the same thing, either is accepted.
const BAD_INPUTS = [
  ['a string as doc', `db.put('just a string')`, 400, ['bad_request']],
  ['a number as doc', `db.put(42)`, 400, ['bad_request']],
  ['an array as doc', `db.put([{ _id: 'x' }])`, 400, ['bad_request']],
  ['null as doc', `db.put(null)`, 400, ['bad_request']],
  ['an empty _id', `db.put({ _id: '' })`, [400, 412], ['missing_id', 'bad_request']],
  ['a number _id', `db.put({ _id: 5 })`, 400, ['bad_request']],
  ['a reserved _ prefix', `db.put({ _id: '_foo' })`, 400, ['bad_request']],
  ['_rev "abc"', `db.put({ _id: 'a', _rev: 'abc' })`, 400, ['bad_request', 'invalid_rev']],
  ['_rev "1-"', `db.put({ _id: 'a', _rev: '1-' })`, 400, ['bad_request', 'invalid_rev']],
  ['an unknown _ field', `db.put({ _id: 'x', _foo: 1 })`, 400, ['doc_validation']],
  ['bulkDocs of a non-array', `db.bulkDocs('not docs')`, 400, ['bad_request']],
  ['allDocs limit -1', `db.allDocs({ limit: -1 })`, 400, ['bad_request']],
  ['get revs: "yes"', `db.get('a', { revs: 'yes' })`, 400, ['bad_request']],
  ['changes since -5', `db.changes({ since: -5 })`, 400, ['bad_request']],
  ['post of a non-object', `db.post('text')`, 400, ['bad_request']],
  ['an unknown adapter', `new Settee(name, { adapter: 'nope' }).info()`, 400, ['bad_request']],
  ['a negative revs_limit', `new Settee(name, { revs_limit: -1 }).info()`, 400, ['bad_request']],
];

test('every bad input rejects with a 4xx Error and leaves the store unchanged', async () => {
  const name = uniqueName('badinput');
  const snapshot = () =>
    page.evaluate(async (name) => {
      const db = new Settee(name);
      return {
        info: await db.info(),
        all: await db.allDocs({ include_docs: true }),
        changes: await db.changes(),
        local: await db.get('_local/l'),
      };
    }, name);
  await page.evaluate(async (name) => {
    const db = new Settee(name);
    await db.put({ _id: 'a', text: 'existing' });
    await db.put({ _id: '_local/l', v: 1 });
  }, name);
  const before = await snapshot();
  assert.equal(before.info.doc_count, 1);

  const problems = [];
  for (const [what, call, status, names] of BAD_INPUTS) {
    const r = await settle(page, new Function('name', `const db = new Settee(name); return ${call};`), name);
    const statuses = [status].flat();
    if (!r.error) problems.push(`${what}: ${call} resolved with ${JSON.stringify(r.ok)}`);
    else if (!r.error.isError || r.error.error !== true || !statuses.includes(r.error.status) || !names.includes(r.error.name))
      problems.push(`${what}: ${call} expected ${statuses.join('|')} ${names.join('|')} Error, got ${JSON.stringify(r.error)}`);
    else if (typeof r.error.message !== 'string' || !r.error.message) problems.push(`${what}: empty message`);
  }
  const afterAll = await snapshot();
  assert.deepEqual(problems, []);
  assert.deepEqual(afterAll, before, 'the store changed');
});
