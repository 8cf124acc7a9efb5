// Settee in Node.js on its disk store: `import { Settee } from 'settee'` with no init call,
// databases in directories (`prefix + name`), data that survives the process, one process per
// directory, attachments as files streamed from and to Blobs, destroy, the memory adapter, and
// processes that exit as soon as their work is done.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { entry, jsonLines, removeDir, runChild, tempDir } from './lib.mjs';

const { Settee } = await import(entry);

test('the default adapter in Node stores the database in a directory named after it, under prefix', async () => {
  const dir = tempDir('prefix');
  try {
    const db = new Settee('config', { prefix: dir + '/' });
    await db.bulkDocs([{ _id: 'a', v: 1 }, { _id: 'b', v: 2 }]);
    const info = await db.info();
    assert.equal(info.adapter, 'fs');
    assert.equal(info.doc_count, 2);
    // A small write is one append to the commit log; its records reach files at a checkpoint.
    const files = readdirSync(join(dir, 'config'));
    assert.ok(files.includes('LOG-0'), files.join(', '));
    assert.ok(files.includes('LOCK'));
    await db.close();
    assert.ok(!existsSync(join(dir, 'config', 'LOCK')), 'close releases the directory');
    const again = new Settee('config', { prefix: dir + '/' });
    assert.equal((await again.get('b')).v, 2);
    const after = readdirSync(join(dir, 'config'));
    assert.ok(after.includes('STATE') && after.includes('LOG-1'), `the open checkpointed: ${after.join(', ')}`);
    assert.ok(after.some((f) => f.startsWith('chunk~')), after.join(', '));
    await again.close();
  } finally {
    removeDir(dir);
  }
});

test('data written by one process is read by the next, relative to the working directory', async () => {
  const dir = tempDir('persist');
  try {
    const first = await runChild(
      `const db = new Settee('notes');
       await db.bulkDocs(Array.from({ length: 500 }, (_, i) => ({ _id: 'n' + String(i).padStart(4, '0'), i })));
       await db.put({ _id: '_local/state', at: 7 });
       const idx = await db.createIndex({ index: { fields: ['i'] } });
       console.log(JSON.stringify({ rev: (await db.get('n0042'))._rev }));`,
      { cwd: dir },
    );
    assert.equal(first.code, 0, first.stderr);
    const { rev } = jsonLines(first.stdout)[0];
    assert.ok(existsSync(join(dir, 'notes', 'LOG-0')));
    const second = await runChild(
      `const db = new Settee('notes');
       const info = await db.info();
       const doc = await db.get('n0042');
       const local = await db.get('_local/state');
       const found = await db.find({ selector: { i: { $gte: 495 } } });
       const changes = await db.changes({ since: 0, limit: 1000 });
       console.log(JSON.stringify({ docs: info.doc_count, rev: doc._rev, local: local.at, found: found.docs.length, changes: changes.results.length }));`,
      { cwd: dir },
    );
    assert.equal(second.code, 0, second.stderr);
    const r = jsonLines(second.stdout)[0];
    // 500 docs and the index's design doc, as CouchDB counts them.
    assert.deepEqual(r, { docs: 501, rev, local: 7, found: 5, changes: 501 });
  } finally {
    removeDir(dir);
  }
});

test('a second process opening a directory in use gets a locked error, and takes over once the first is gone', async () => {
  const dir = tempDir('lock');
  try {
    const db = new Settee(join(dir, 'shared'));
    await db.put({ _id: 'x' });
    const second = await runChild(
      `try { await new Settee(${JSON.stringify(join(dir, 'shared'))}).info(); console.log('{"opened":true}'); }
       catch (e) { console.log(JSON.stringify({ status: e.status, name: e.name, message: e.message })); }`,
    );
    const r = jsonLines(second.stdout)[0];
    assert.equal(r.status, 423, second.stdout + second.stderr);
    assert.equal(r.name, 'locked');
    assert.match(r.message, new RegExp(`pid ${process.pid}`));
    // A process that dies holding the lock (SIGKILL: no close) does not block the next one.
    await db.close();
    const killed = await runChild(
      `const db = new Settee(${JSON.stringify(join(dir, 'shared'))}); await db.put({ _id: 'y' }); process.kill(process.pid, 'SIGKILL');`,
    );
    assert.equal(killed.signal, 'SIGKILL');
    assert.ok(existsSync(join(dir, 'shared', 'LOCK')), 'the dead process left its lock');
    const after = new Settee(join(dir, 'shared'));
    assert.deepEqual((await after.allDocs()).rows.map((r) => r.id), ['x', 'y']);
    await after.close();
  } finally {
    removeDir(dir);
  }
});

test('two Settee objects on one directory in one process share it and see each other', async () => {
  const dir = tempDir('two');
  try {
    const a = new Settee('db', { prefix: dir + '/' });
    const b = new Settee('db', { prefix: dir + '/' });
    await a.put({ _id: 'from-a' });
    await b.put({ _id: 'from-b' });
    assert.deepEqual((await a.allDocs()).rows.map((r) => r.id), ['from-a', 'from-b']);
    const err = await b.put({ _id: 'from-a' }).catch((e) => e);
    assert.equal(err.status, 409);
    await a.close();
    assert.equal((await b.info()).doc_count, 2, 'closing one leaves the other open');
    await b.close();
  } finally {
    removeDir(dir);
  }
});

test('attachments are files by digest, streamed from a Blob and read back as a file-backed Blob', async () => {
  const dir = tempDir('att');
  try {
    const db = new Settee('files', { prefix: dir + '/' });
    const size = 12 * 1024 * 1024;
    const bytes = new Uint8Array(size);
    for (let i = 0; i < size; i++) bytes[i] = (i * 31 + 7) & 0xff;
    await db.putAttachment('doc', 'big.bin', new Blob([bytes]), 'application/octet-stream');
    await db.putAttachment('doc2', 'a.txt', new Blob(['hello']), 'text/plain');
    const files = readdirSync(join(dir, 'files', 'attachments'));
    assert.equal(files.length, 2, files.join(', '));
    const big = files.map((f) => statSync(join(dir, 'files', 'attachments', f)).size).sort((x, y) => y - x)[0];
    assert.equal(big, size);
    const back = await db.getAttachment('doc', 'big.bin');
    assert.ok(back instanceof Blob);
    assert.equal(back.size, size);
    assert.deepEqual(new Uint8Array(await back.arrayBuffer()), bytes);
    const stub = (await db.get('doc'))._attachments['big.bin'];
    assert.equal(stub.length, size);
    assert.match(stub.digest, /^md5-/);
    await db.remove(await db.get('doc2'));
    await db.compact();
    await db.close();
    const again = new Settee('files', { prefix: dir + '/' });
    assert.equal((await again.getAttachment('doc', 'big.bin')).size, size);
    await again.close();
  } finally {
    removeDir(dir);
  }
});

test('destroy removes the directory; the memory adapter writes nothing to disk', async () => {
  const dir = tempDir('destroy');
  try {
    const db = new Settee('gone', { prefix: dir + '/' });
    await db.put({ _id: 'a' });
    await db.destroy();
    assert.ok(!existsSync(join(dir, 'gone')));
    const mem = await runChild(
      `const db = new Settee('mem', { adapter: 'memory' }); await db.put({ _id: 'a' });
       console.log(JSON.stringify(await db.info()));`,
      { cwd: dir },
    );
    assert.equal(jsonLines(mem.stdout)[0].adapter, 'memory');
    assert.deepEqual(readdirSync(dir), [], 'nothing on disk');
    const idb = await new Settee('x', { adapter: 'idb' }).info().catch((e) => e);
    assert.equal(idb.status >= 400, true, 'IndexedDB does not exist in Node: a clear error');
  } finally {
    removeDir(dir);
  }
});

test('a script exits as soon as its work is done: after views, live changes cancelled, and a failed remote call', async () => {
  const dir = tempDir('exit');
  try {
    const r = await runChild(
      `const db = new Settee('d');
       await db.bulkDocs(Array.from({ length: 300 }, (_, i) => ({ _id: 'd' + i, n: i })));
       await db.query((doc, emit) => emit(doc.n), { limit: 1 });
       const feed = db.changes({ live: true, since: 0 });
       let seen = 0;
       feed.on('change', () => seen++);
       await new Promise((ok) => setTimeout(ok, 200));
       feed.cancel();
       const err = await new Settee('http://127.0.0.1:9/nothing-listens').info().catch((e) => e.name);
       console.log(JSON.stringify({ seen, err }));
       globalThis.__done = Date.now();
       process.on('exit', () => console.log(JSON.stringify({ lingered: Date.now() - globalThis.__done })));`,
      { cwd: dir, timeoutMs: 20_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    const [first, last] = jsonLines(r.stdout);
    assert.equal(first.seen, 300);
    assert.equal(first.err, 'network_error');
    assert.ok(last.lingered < 1000, `the process lingered ${last.lingered} ms after its last line`);
  } finally {
    removeDir(dir);
  }
});
