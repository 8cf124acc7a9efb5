// The Hoptree job end to end, from the packed package installed in a fresh Node project:
// examples/config-mirror.mjs keeps a live replica of a server database in a directory and
// answers reads from it. A server write is readable locally within a second; the mirror,
// killed with SIGKILL in the middle of a large pull, restarts while the server is down and
// serves the old data; when the server is back it resumes from its checkpoint, and ends with
// exactly the server's docs and revisions: nothing lost, nothing twice, no conflicts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CouchServer } from '../js/couch.mjs';
import { removeDir, root, sleep, tempDir } from './lib.mjs';

let couch;
let project;

before(async () => {
  couch = await CouchServer.start();
  project = tempDir('mirror');
  // What a user does: npm pack the package, install the tarball into a new project (offline:
  // the package has no dependencies), and run the example there.
  const packed = execFileSync('npm', ['pack', join(root, 'pkg'), '--pack-destination', project, '--silent'], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .pop();
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'mirror-app', private: true, type: 'module' }));
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--silent', `./${packed}`], { cwd: project });
  copyFileSync(join(root, 'examples/config-mirror.mjs'), join(project, 'config-mirror.mjs'));
});

after(async () => {
  await couch?.stop();
  removeDir(project);
});

/** Starts the mirror; resolves once it listens, with its port, events and process. */
function startMirror(remoteUrl, dataDir) {
  const proc = spawn(process.execPath, ['config-mirror.mjs', remoteUrl, '--dir', dataDir, '--port', '0'], {
    cwd: project,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events = [];
  let stderr = '';
  let buffered = '';
  proc.stderr.on('data', (d) => (stderr += d));
  return new Promise((ok, fail) => {
    proc.stdout.on('data', (d) => {
      buffered += d;
      const lines = buffered.split('\n');
      buffered = lines.pop();
      for (const line of lines.filter((l) => l.startsWith('{'))) {
        const e = JSON.parse(line);
        events.push(e);
        if (e.event === 'ready') ok({ proc, port: e.port, events, stderr: () => stderr });
      }
    });
    proc.on('exit', (code, signal) => fail(new Error(`mirror exited (${code ?? signal}) before ready: ${stderr}`)));
  });
}

async function read(mirror, path) {
  const r = await fetch(`http://127.0.0.1:${mirror.port}${path}`);
  return { status: r.status, body: await r.json() };
}

async function until(what, check, timeoutMs = 30_000) {
  const started = Date.now();
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const docCount = async (m) => (await read(m, '/_status')).body.docs;

test('a config mirror serves local reads, survives SIGKILL mid-pull and an offline restart, and resumes from its checkpoint', async () => {
  const remote = await couch.freshDb('config');
  const seed = Array.from({ length: 300 }, (_, i) => ({ _id: `cfg${String(i).padStart(4, '0')}`, value: i }));
  await couch.request('POST', `/${remote.name}/_bulk_docs`, { docs: seed });
  const dataDir = join(project, 'replica');

  let mirror = await startMirror(remote.url, dataDir);
  await until('the first 300 docs', async () => (await docCount(mirror)) === 300);
  assert.equal((await read(mirror, '/docs/cfg0042')).body.value, 42);

  // A server write is readable from the mirror within a second.
  await couch.request('PUT', `/${remote.name}/feature-flags`, { dark_mode: true });
  const t0 = Date.now();
  await until('the new doc locally', async () => (await read(mirror, '/docs/feature-flags')).status === 200, 5000);
  const lag = Date.now() - t0;
  assert.ok(lag < 1000, `the change took ${lag} ms to reach the mirror`);

  // A large write, and the mirror killed with SIGKILL in the middle of pulling it.
  const big = Array.from({ length: 3000 }, (_, i) => ({ _id: `big${String(i).padStart(5, '0')}`, pad: 'x'.repeat(800), i }));
  await couch.request('POST', `/${remote.name}/_bulk_docs`, { docs: big });
  const atKill = await until('the pull under way', async () => {
    const n = await docCount(mirror);
    return n >= 800 && n < 3000 ? n : false;
  });
  mirror.proc.kill('SIGKILL');
  await new Promise((ok) => mirror.proc.once('exit', ok));
  assert.ok(readdirSync(dataDir).includes('LOCK'), 'killed without closing: its lock is still there');

  // Restarted while the server is down: it opens, and serves the data it had.
  await couch.kill();
  mirror = await startMirror(remote.url, dataDir);
  const offline = await read(mirror, '/docs/cfg0042');
  assert.equal(offline.status, 200);
  assert.equal(offline.body.value, 42);
  const held = await docCount(mirror);
  assert.ok(held >= atKill, `the replica kept what it had committed (${held} of ${atKill} seen before the kill)`);
  await until('the mirror to notice it is offline', async () => (await read(mirror, '/_status')).body.state === 'offline', 20_000);

  // The server comes back; the mirror resumes and ends with exactly the server's docs.
  await couch.ensureUp();
  await until('all 3301 docs', async () => (await docCount(mirror)) === 3301, 60_000);
  const serverRows = (await couch.request('GET', `/${remote.name}/_all_docs`)).body.rows.map((r) => [r.id, r.value.rev]);
  const mirrorDocs = [];
  for (const [id] of serverRows.filter((_, i) => i % 97 === 0)) {
    const doc = (await read(mirror, `/docs/${id}?conflicts=true`)).body;
    assert.equal(doc._conflicts, undefined, `${id} has no conflicts`);
    mirrorDocs.push([id, doc._rev]);
  }
  assert.deepEqual(mirrorDocs, serverRows.filter((_, i) => i % 97 === 0));
  // `docs_written` of a change event counts from the start of this replication.
  const written = Math.max(...mirror.events.filter((e) => e.event === 'change').map((e) => e.docs_written));
  assert.equal(written, 3301 - held, 'after the restart each missing doc was written once, and no other');
  mirror.proc.kill('SIGTERM');
  await new Promise((ok) => mirror.proc.once('exit', ok));
});
