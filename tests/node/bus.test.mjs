// The message bus in Node: a named listener on a database on disk, its process killed with
// SIGKILL in the middle of a stream, resumes from its `_local` position without losing or
// repeating a message; bad input is a 400; the bus's types (tests/types/bus.ts) compile as
// they should; a client on two remote stores fails over when its store dies; a source's
// messages that reach a store out of order come in posting order; and the hybrid clock keeps
// a node whose clock is behind after what it has seen.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CouchServer } from '../js/couch.mjs';
import { entry, jsonLines, removeDir, root, runChild, sleep, tempDir } from './lib.mjs';

const TOTAL = 400;

// One process posts TOTAL messages (continuing after a restart: data.n counts them) while a
// named listener in the same process handles them. The handler appends the id to a log file
// first (a side effect outside the database), then returns a `seen-<id>` doc that the bus
// writes in one bulkDocs with the listener's new position. A delivery of a message whose
// seen doc already exists is a repeat, and is logged as such.
const worker = (dir, log) => `
import { Bus } from ${JSON.stringify(entry)};
import { appendFileSync } from 'node:fs';
const db = new Settee(${JSON.stringify(join(dir, 'db'))});
const bus = new Bus(db, { node: 'worker', bufferDelay: 50 });
let last = '';
const listener = bus.listen({ topic: 'jobs', name: 'counter', since: 'start' }, async (msg) => {
  const repeat = await db.get('seen-' + msg._id).then(() => true, () => false);
  appendFileSync(${JSON.stringify(log)}, JSON.stringify({ id: msg._id, n: msg.data.n, repeat, order: msg._id > last }) + '\\n');
  last = msg._id;
  return { write: [{ _id: 'seen-' + msg._id, n: msg.data.n }] };
});
await listener.ready;
const posted = (await db.allDocs({ startkey: '0', endkey: '9\\uffff', include_docs: true })).rows.filter((r) => r.doc.topic === 'jobs').length;
console.log(JSON.stringify({ start: posted, position: listener.position ?? null }));
for (let n = posted; n < ${TOTAL}; n++) {
  await bus.post({ topic: 'jobs', data: { n } });
  if (n % 3 === 0) await bus.post({ topic: 'other', data: { n } });
  await new Promise((ok) => setTimeout(ok, 2));
}
// Wait until every job is handled, then stop cleanly.
for (;;) {
  const seen = (await db.allDocs({ startkey: 'seen-', endkey: 'seen-\\uffff' })).rows.length;
  if (seen >= ${TOTAL}) break;
  await new Promise((ok) => setTimeout(ok, 50));
}
await bus.close();
await db.close();
console.log(JSON.stringify({ finished: true }));
`;

test('a named listener killed with SIGKILL mid-stream resumes without loss or repeats', async () => {
  const dir = tempDir('bus');
  const log = join(dir, 'handled.log');
  writeFileSync(log, '');
  try {
    const started = Date.now();
    // First run: killed once the listener has handled about a third of the stream.
    const first = runChild(worker(dir, log), { cwd: dir });
    const childPid = await (async () => {
      for (let i = 0; i < 300; i++) {
        const lines = readFileSync(log, 'utf8').split('\n').filter(Boolean).length;
        if (lines >= TOTAL / 3) return true;
        await sleep(20);
      }
      return false;
    })();
    assert.ok(childPid, 'the first run handled a third of the stream');
    // runChild does not expose the child; find it by its command line (this test's only child).
    const pid = spawnSync('pgrep', ['-P', String(process.pid), '-f', 'input-type=module'], { encoding: 'utf8' }).stdout.trim().split('\n')[0];
    assert.ok(pid, 'child pid found');
    process.kill(Number(pid), 'SIGKILL');
    const killed = await first;
    assert.equal(killed.signal, 'SIGKILL', killed.stderr);
    const beforeKill = readFileSync(log, 'utf8').split('\n').filter(Boolean).length;
    assert.ok(beforeKill < TOTAL, `killed mid-stream (${beforeKill} handled)`);

    // Second run: resumes from the position in `_local`, posts the rest, handles everything.
    const second = await runChild(worker(dir, log), { cwd: dir });
    assert.equal(second.code, 0, second.stderr);
    const [resume] = jsonLines(second.stdout);
    assert.ok(resume.position, 'the second run starts from a saved position');
    assert.ok(resume.start > 0 && resume.start < TOTAL, `the second run continued posting from ${resume.start}`);
    const handled = jsonLines(readFileSync(log, 'utf8'));

    // The database after both runs: every job has exactly one seen doc, nothing else.
    const check = await runChild(
      `import { Bus } from ${JSON.stringify(entry)};
       const db = new Settee(${JSON.stringify(join(dir, 'db'))});
       const jobs = (await db.allDocs({ startkey: '0', endkey: '9\\uffff', include_docs: true })).rows.filter((r) => r.doc.topic === 'jobs');
       const seen = (await db.allDocs({ startkey: 'seen-', endkey: 'seen-\\uffff' })).rows.map((r) => r.id);
       console.log(JSON.stringify({ jobs: jobs.map((r) => [r.id, r.doc.data.n]), seen, verify: (await db.verify()).ok }));`,
      { cwd: dir },
    );
    assert.equal(check.code, 0, check.stderr);
    const { jobs, seen, verify } = jsonLines(check.stdout)[0];
    assert.equal(verify, true);
    assert.equal(jobs.length, TOTAL, 'every job was posted once');
    assert.deepEqual(jobs.map(([, n]) => n), [...Array(TOTAL).keys()], 'ids sort in posting order');
    assert.deepEqual(seen, jobs.map(([id]) => `seen-${id}`), 'no loss: every job has its seen doc');
    assert.deepEqual(handled.filter((h) => h.repeat), [], 'no repeat: no job was delivered after its ack committed');
    // The handler's own log line is written before the ack commits: at most the one job in
    // hand at the kill can be in it twice (its seen doc was not written).
    const counts = new Map();
    for (const h of handled) counts.set(h.id, (counts.get(h.id) ?? 0) + 1);
    const twice = [...counts].filter(([, c]) => c > 1);
    assert.ok(twice.length <= 1 && twice.every(([, c]) => c === 2), `log repeats: ${JSON.stringify(twice)}`);
    assert.equal(counts.size, TOTAL);
    assert.ok(handled.every((h) => h.order), 'each run delivered in id order');
    console.log(`# ${beforeKill} handled before the kill, ${handled.length - beforeKill} after; ${twice.length} log line repeated; ${Date.now() - started} ms`);
  } finally {
    removeDir(dir);
  }
});

test('bad input is a 400 bad_request, and the type tests compile', async () => {
  const r = await runChild(
    `import { Bus } from ${JSON.stringify(entry)};
     const db = new Settee('mem', { adapter: 'memory' });
     const bus = new Bus(db, { node: 'n' });
     const out = [];
     const tryIt = async (f) => { try { await f(); out.push('no error'); } catch (e) { out.push([e.status, e.name, e instanceof Error]); } };
     await tryIt(() => bus.post({ data: 1 }));
     await tryIt(() => bus.post({ topic: 't', data: { f() {} } }));
     await tryIt(() => bus.post({ topic: 't', data: 10n }));
     await tryIt(() => bus.post({ topic: 't' }));
     await tryIt(() => bus.listen({ topic: 't', since: 42 }));
     await tryIt(() => bus.listen({ topic: 't', since: 'yesterday' }));
     await tryIt(() => bus.listen({ topic: '' }));
     await tryIt(() => bus.request('', 't', 1));
     await tryIt(() => bus.scavenge({ olderThan: 'old' }));
     await tryIt(() => new Bus(db, { node: 'has space' }));
     console.log(JSON.stringify({ out }));
     await bus.close();`,
    { cwd: root },
  );
  assert.equal(r.code, 0, r.stderr);
  const { out } = jsonLines(r.stdout)[0];
  assert.equal(out.length, 10);
  for (const e of out) assert.deepEqual(e, [400, 'bad_request', true]);

  const typesDir = tempDir('bus-types');
  const config = join(typesDir, 'tsconfig.json');
  writeFileSync(config, JSON.stringify({ extends: join(root, 'tests/types/tsconfig.json'), files: [join(root, 'tests/types/bus.ts')] }));
  const tsc = spawnSync(join(root, 'node_modules/.bin/tsc'), ['-p', config, '--noEmit', '--strict', '--pretty', 'false'], { encoding: 'utf8' });
  removeDir(typesDir);
  assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
  assert.ok(existsSync(join(root, 'pkg/bus.d.ts')));
});

test('failover: a client without a local store moves to the other server when its server dies, losing and repeating nothing', async () => {
  const { Settee, Bus } = await import(entry);
  const servers = await Promise.all([CouchServer.start(), CouchServer.start()]); // SETTEE_SERVER picks which
  const links = [];
  const buses = [];
  try {
    for (const s of servers) await s.createDb('bus');
    const urls = servers.map((s) => s.dbUrl('bus', true));
    // The two stores replicate with each other (full mesh of two).
    links.push(Settee.replicate(urls[0], urls[1], { live: true, retry: true, back_off_base: 200 }));
    links.push(Settee.replicate(urls[1], urls[0], { live: true, retry: true, back_off_base: 200 }));
    const client = new Bus(urls.map((u) => new Settee(u)), { node: 'client', bufferDelay: 200 });
    buses.push(client);
    const got = [];
    const listener = client.listen({ topic: 'feed', since: 'start' }, (msg) => void got.push(msg._id));
    await listener.ready;
    const used = servers.findIndex((s) => client.store.name.startsWith(s.url));
    assert.ok(used >= 0, `the client uses one of the servers (${client.store.name})`);
    // The poster writes to the other server, so its messages reach the client's server by
    // replication, and after the kill directly.
    const poster = new Bus([new Settee(urls[1 - used])], { node: 'poster' });
    buses.push(poster);
    const posted = [];
    for (let n = 0; n < 120; n++) {
      posted.push(await poster.post({ topic: 'feed', data: { n } }));
      if (n === 40) {
        await eventuallyNode(() => got.length >= 20, 10_000);
        await servers[used].kill();
      }
      await sleep(5);
    }
    await eventuallyNode(() => got.length >= posted.length, 20_000);
    await sleep(500);
    assert.equal(client.store.name.startsWith(servers[1 - used].url), true, 'the client moved to the live server');
    assert.deepEqual(got, posted, 'every message once, in order');
    await servers[used].restart();
  } finally {
    for (const b of buses) await b.close();
    for (const l of links) l.cancel();
    await Promise.all(servers.map((s) => s.stop()));
  }
});

async function eventuallyNode(check, ms) {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(50);
  }
}

test("a source's messages that reach a store out of order are delivered in posting order, even with bufferDelay 0", async () => {
  const { Settee, Bus } = await import(entry);
  const origin = new Settee('order-origin', { adapter: 'memory' });
  const store = new Settee('order-store', { adapter: 'memory' });
  const poster = new Bus(origin, { node: 'poster' });
  const reader = new Bus(store, { node: 'reader', bufferDelay: 0 });
  try {
    const got = [];
    const listener = reader.listen({ topic: 'a' }, (msg) => void got.push(msg.data.n));
    await listener.ready;
    // a0, b (another topic), a1, a2: each names the one before as `prev`.
    const ids = [];
    ids.push(await poster.post({ topic: 'a', data: { n: 0 } }));
    ids.push(await poster.post({ topic: 'b', data: { n: -1 } }));
    ids.push(await poster.post({ topic: 'a', data: { n: 1 } }));
    ids.push(await poster.post({ topic: 'a', data: { n: 2 } }));
    assert.equal((await origin.get(ids[3])).prev, ids[2]);
    // They reach the store last first, one replication each, as a sharded _changes can.
    for (const i of [3, 2, 0]) {
      await Settee.replicate(origin, store, { doc_ids: [ids[i]] });
      await sleep(100);
    }
    assert.deepEqual(got, [0], 'a1 and a2 wait for b, which is not for this listener but precedes them');
    await Settee.replicate(origin, store, { doc_ids: [ids[1]] });
    await sleep(200);
    assert.deepEqual(got, [0, 1, 2]);
  } finally {
    await poster.close();
    await reader.close();
  }
});

test('ids: a node whose clock is a minute behind still posts after every message it has seen, and its ids keep increasing', async () => {
  const { Settee, Bus } = await import(entry);
  const db = new Settee('hlc', { adapter: 'memory' });
  const ahead = new Bus(db, { node: 'ahead', clockSkewMs: 60_000 });
  const behind = new Bus(db, { node: 'behind', clockSkewMs: -60_000 });
  try {
    const first = await ahead.post({ topic: 't', data: 1 });
    // `behind` starts after the newest stored id; later ones it sees on the feed.
    const mine = [await behind.post({ topic: 't', data: 2 })];
    assert.ok(mine[0] > first, `${mine[0]} after ${first}`);
    const later = await ahead.post({ topic: 't', data: 3 });
    await sleep(100); // behind's feed sees it
    for (let i = 0; i < 20; i++) mine.push(await behind.post({ topic: 't', data: i }));
    assert.ok(mine[1] > later, `${mine[1]} after ${later}`);
    assert.deepEqual(mine, [...mine].sort(), 'increasing');
    assert.match(mine[0], /^\d{16}-behind$/);
  } finally {
    await ahead.close();
    await behind.close();
  }
});
