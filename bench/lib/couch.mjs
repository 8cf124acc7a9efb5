// The node side of the replication workloads: one pouchdb-server for the whole bench run, and
// the remote databases each timed run needs (created, seeded and deleted here, never timed).
//
// pouchdb-server comes from the repository's root node_modules (scripts/setup.sh installs it
// for the replication tests; bench.sh runs setup.sh first). It is not a dependency of
// bench/package.json: its leveldown/sqlite3 install takes a minute or more, and the bench would
// only duplicate the root's copy. The approach follows tests/js/couch.mjs, but without an admin:
// a server with one checks credentials on every request, which would be timed too, and
// anonymous requests keep the URLs the page sees free of credentials.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeDoc } from './workloads.js';

// Ports other servers on this machine use (the tests' and the demo's).
const TAKEN = new Set([5984, 5985]);

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => (TAKEN.has(port) ? freePort().then(ok, fail) : ok(port)));
    });
  });
}

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

export class BenchCouch {
  #proc;
  #dir;
  #killOnExit = () => this.#proc?.kill('SIGKILL');
  url;
  version;
  stopping = false;

  /** Starts pouchdb-server on a free port, its data and config in a fresh temp dir. */
  static async start(root) {
    const bin = join(root, 'node_modules/pouchdb-server/bin/pouchdb-server');
    if (!existsSync(bin)) throw new Error(`${bin} missing: run scripts/setup.sh (it installs the root's npm devDependencies)`);
    const s = new BenchCouch();
    s.version = JSON.parse(readFileSync(join(root, 'node_modules/pouchdb-server/package.json'), 'utf8')).version;
    s.#dir = mkdtempSync(join(tmpdir(), 'settee-bench-couch-'));
    const port = await freePort();
    s.url = `http://127.0.0.1:${port}`;
    const data = join(s.#dir, 'data') + '/';
    mkdirSync(data);
    // The server rewrites its config file, so each run writes a fresh one. Its log (startup
    // lines, errors) stays in the temp dir, which stop() deletes.
    const config = {
      couchdb: { database_dir: data },
      log: { file: join(s.#dir, 'log.txt'), level: 'warning' },
      httpd: { bind_address: '127.0.0.1', port: String(port) },
    };
    writeFileSync(join(s.#dir, 'config.json'), JSON.stringify(config, null, 2));
    const preload = fileURLToPath(new URL('./count-requests.cjs', import.meta.url));
    const args = ['-r', preload, bin, '-c', join(s.#dir, 'config.json'), '-d', data, '-p', String(port), '-o', '127.0.0.1', '-n'];
    s.#proc = spawn(process.execPath, args, { cwd: s.#dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    s.#proc.stderr.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
    s.#proc.on('exit', (code, signal) => {
      if (!s.stopping) console.error(`pouchdb-server exited (${code ?? signal}) during the bench: ${stderr.trim()}`);
    });
    // A crash of the driver must not leave the server running.
    process.on('exit', s.#killOnExit);
    for (let i = 0; i < 150; i++) {
      try {
        if ((await fetch(s.url + '/')).ok) return s;
      } catch {}
      if (s.#proc.exitCode !== null) break;
      await sleep(100);
    }
    await s.stop();
    throw new Error(`pouchdb-server did not start: ${stderr.trim()}`);
  }

  async stop() {
    this.stopping = true;
    process.off('exit', this.#killOnExit);
    if (this.#proc && this.#proc.exitCode === null && this.#proc.signalCode === null) {
      const exited = new Promise((ok) => this.#proc.once('exit', ok));
      this.#proc.kill('SIGKILL');
      await exited;
    }
    if (this.#dir) rmSync(this.#dir, { recursive: true, force: true });
  }

  async request(method, path, body) {
    const res = await fetch(this.url + path, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json();
    if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  }

  /** Requests the server received since the last call, by method (count-requests.cjs). */
  async takeCounts() {
    return (await fetch(this.url + '/_bench_counts')).json();
  }

  /** Creates an empty database; returns its URL (what the page replicates with). */
  async createDb(name) {
    await this.request('PUT', `/${name}`);
    return `${this.url}/${name}`;
  }

  async deleteDb(name) {
    await this.request('DELETE', `/${name}`);
  }

  // The server's own share of a replication: the requests a replicator makes, sent from node one
  // after another in batches of `batch`, with nothing written or parsed beyond JSON. A browser
  // replicator cannot be faster than this against this server (unless it overlaps requests,
  // which a single-threaded node server gains little from).

  /** A pull's reads of the whole database: _changes, then _bulk_get of those revs, per batch. */
  async replayPull(name, batch) {
    const t0 = performance.now();
    let since = 0;
    let docs = 0;
    for (;;) {
      const ch = await this.request('GET', `/${name}/_changes?style=all_docs&since=${encodeURIComponent(since)}&limit=${batch}`);
      if (!ch.results.length) break;
      since = ch.last_seq;
      const want = ch.results.flatMap((r) => r.changes.map((c) => ({ id: r.id, rev: c.rev })));
      docs += (await this.request('POST', `/${name}/_bulk_get?revs=true`, { docs: want })).results.length;
    }
    return { ms: performance.now() - t0, docs };
  }

  /** A push of makeDoc(0..n-1) into an empty database: _revs_diff, then _bulk_docs, per batch. */
  async replayPush(name, n, batch) {
    const docs = Array.from({ length: n }, (_, i) => {
      const doc = makeDoc(i);
      const hash = createHash('md5').update(JSON.stringify(doc)).digest('hex');
      return { ...doc, _rev: `1-${hash}`, _revisions: { start: 1, ids: [hash] } };
    });
    const t0 = performance.now();
    for (let i = 0; i < n; i += batch) {
      const part = docs.slice(i, i + batch);
      const diff = await this.request('POST', `/${name}/_revs_diff`, Object.fromEntries(part.map((d) => [d._id, [d._rev]])));
      const missing = part.filter((d) => diff[d._id]);
      await this.request('POST', `/${name}/_bulk_docs`, { new_edits: false, docs: missing });
    }
    const ms = performance.now() - t0;
    const info = await this.request('GET', `/${name}`);
    return { ms, docs: info.doc_count };
  }

  /** Fills a database with makeDoc(0..n-1), the docs every workload uses, 1,000 per request. */
  async seed(name, n) {
    for (let i = 0; i < n; i += 1000) {
      const docs = Array.from({ length: Math.min(1000, n - i) }, (_, j) => makeDoc(i + j));
      const res = await this.request('POST', `/${name}/_bulk_docs`, { docs });
      const bad = res.find((r) => r.error);
      if (bad) throw new Error(`seeding ${name}: ${JSON.stringify(bad)}`);
    }
    const info = await this.request('GET', `/${name}`);
    if (info.doc_count !== n) throw new Error(`seeded ${name} has ${info.doc_count} docs, expected ${n}`);
  }
}
