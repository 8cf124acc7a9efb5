// The servers the replication tests talk to, chosen by `SETTEE_SERVER`:
// - `pouchdb-server` (the default): pouchdb-server 4.2.0 from npm, what PouchDB users run and
//   all a fresh clone has (`PouchDbServer`);
// - `couchdb`: real Apache CouchDB 3.5, started from ../shared/couchdb/run (or
//   `COUCHDB_RUN`), or an existing server at `COUCH_URL` (`http://admin:pass@host:port`),
//   which tests then cannot restart (`RealCouch`).
// Both have one admin, `ADMIN` (for COUCH_URL, the URL's), so credentials are checked as on a
// real deployment. `CouchServer.start()` starts the chosen one.
//
// pouchdb-server: started on 127.0.0.1 on a free port, with its data in a fresh temp dir and
// its config copied from scripts/pouchdb-server.config.json each run (the server rewrites
// that file, hashing admin passwords).
//
// Requests that make pouchdb-server 4.2.0 exit (see docs/couchdb-notes.md) are avoided by the
// tests there (`couch.kind === 'pouchdb-server'`) and run on CouchDB; `ensureUp()` restarts it
// anyway if it died, on the same port and data dir.
//
// Its `_changes` can skip a doc that is updated while the feed is read: the feed walks a
// snapshot of the by-seq index but looks each doc up live, and drops the row whose seq is no
// longer the doc's (pouchdb-adapter-leveldb-core); the doc's new seq is past the snapshot.
// A one-shot sync whose push updates a server doc can so end with the pull missing that
// doc's server rev (seen in 1 of 40 runs); the next replication brings it. CouchDB reads the
// feed from one snapshot, so this is the test server's race, and tests that sync edits of
// the same doc sync twice.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { uniqueName } from './helpers.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(root, 'node_modules/pouchdb-server/bin/pouchdb-server');
const COUCH_URL = process.env.COUCH_URL ? new URL(process.env.COUCH_URL) : undefined;
export const ADMIN = COUCH_URL
  ? { username: decodeURIComponent(COUCH_URL.username), password: decodeURIComponent(COUCH_URL.password) }
  : { username: 'admin', password: 'sekrit-pw-1' };
/** CouchDB's `run` script, beside the project as in CI. */
export const COUCHDB_RUN = process.env.COUCHDB_RUN ?? resolve(root, '../shared/couchdb/run');
/** Which server `CouchServer.start()` starts. */
export const SERVER_KIND = process.env.SETTEE_SERVER === 'couchdb' ? 'couchdb' : 'pouchdb-server';

/** Why real CouchDB cannot be used here, or `undefined` when it can. */
export function couchdbMissing() {
  if (COUCH_URL || existsSync(COUCHDB_RUN)) return undefined;
  return `no CouchDB: neither ${COUCHDB_RUN} nor COUCH_URL exists`;
}

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

/** Basic auth header value for `ADMIN` (for node-side requests). */
export const adminAuth = 'Basic ' + Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString('base64');

/** What every test server offers: URLs, admin requests from node, fresh databases. */
class Server {
  port;
  url;

  /** `http://127.0.0.1:port/name`, with the admin's credentials in it if `withCredentials`. */
  dbUrl(name, withCredentials = false) {
    if (!withCredentials) return `${this.url}/${name}`;
    const u = new URL(`${this.url}/${name}`);
    u.username = encodeURIComponent(ADMIN.username);
    u.password = encodeURIComponent(ADMIN.password);
    return u.href;
  }

  /** A request from node as the admin; resolves to the parsed JSON answer. */
  async request(method, path, body, headers = {}) {
    const res = await fetch(this.url + path, {
      method,
      headers: { authorization: adminAuth, 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: res.status, body: json, headers: res.headers };
  }

  /** Creates a database (as the admin) and returns its name. */
  async createDb(name) {
    const r = await this.request('PUT', `/${name}`);
    if (r.status !== 201 && r.status !== 202 && r.status !== 412) throw new Error(`PUT /${name}: ${JSON.stringify(r.body)}`);
    return name;
  }

  /** A fresh database named after `prefix`: its name, URL with credentials, and plain URL. */
  async freshDb(prefix) {
    const name = await this.createDb(uniqueName(prefix).toLowerCase());
    return { name, url: this.dbUrl(name, true), plainUrl: this.dbUrl(name) };
  }
}

/** Real Apache CouchDB 3.5 (see the top of this file). */
export class RealCouch extends Server {
  kind = 'couchdb';
  #dir;
  #external = false;

  static async start() {
    const s = new RealCouch();
    if (COUCH_URL) {
      s.#external = true;
      s.url = COUCH_URL.origin;
      s.port = Number(COUCH_URL.port);
      return s;
    }
    const missing = couchdbMissing();
    if (missing) throw new Error(missing);
    s.#dir = mkdtempSync(join(tmpdir(), 'settee-couchdb-'));
    s.port = await freePort();
    try {
      await s.#run('start', '--port', String(s.port), '--dir', s.#dir, '--admin', `${ADMIN.username}:${ADMIN.password}`);
    } catch (e) {
      // Seen once on a loaded machine: `PUT /_users` answered 500 while CouchDB was still
      // opening its shards. A fresh data dir on a fresh port starts normally.
      console.error(`CouchDB did not start, trying once more: ${e.message.split('\n')[0]}`);
      await s.stop();
      s.#dir = mkdtempSync(join(tmpdir(), 'settee-couchdb-'));
      s.port = await freePort();
      await s.#run('start', '--port', String(s.port), '--dir', s.#dir, '--admin', `${ADMIN.username}:${ADMIN.password}`);
    }
    s.url = `http://127.0.0.1:${s.port}`;
    // Tests send wrong passwords on purpose; CouchDB would lock the admin out for 5 minutes.
    await s.setConfig('chttpd_auth_lockout', 'mode', 'off');
    return s;
  }

  #run(...args) {
    return new Promise((ok, fail) =>
      execFile(COUCHDB_RUN, args, { encoding: 'utf8' }, (err, stdout, stderr) =>
        err ? fail(new Error(`couchdb run ${args[0]} failed: ${stderr.slice(-2000)}`)) : ok(stdout.trim()),
      ),
    );
  }

  /** Sets a config value at run time (until the next start), as the admin. */
  async setConfig(section, key, value) {
    const r = await this.request('PUT', `/_node/_local/_config/${section}/${key}`, JSON.stringify(value));
    if (r.status !== 200) throw new Error(`config ${section}/${key}: ${JSON.stringify(r.body)}`);
  }

  /** Whether the tests may kill and restart it (not a server at COUCH_URL). */
  get canRestart() {
    return !this.#external;
  }

  get #pid() {
    try {
      return Number(readFileSync(join(this.#dir, 'couchdb.pid'), 'utf8').trim());
    } catch {
      return undefined;
    }
  }

  get alive() {
    if (this.#external) return true;
    const pid = this.#pid;
    if (!pid) return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  async ensureUp() {
    if (!this.alive) await this.restart();
  }

  /** Kills CouchDB at once (SIGKILL, as a crash), keeping its data dir. */
  async kill() {
    if (this.#external) throw new Error('cannot kill a server at COUCH_URL');
    const pid = this.#pid;
    if (pid && this.alive) {
      process.kill(pid, 'SIGKILL');
      for (let i = 0; i < 100 && this.alive; i++) await sleep(50);
    }
    await this.#run('stop', '--dir', this.#dir);
  }

  /** Starts it again on the same port and data dir: same databases, uuid and sessions. */
  async restart() {
    if (this.#external) throw new Error('cannot restart a server at COUCH_URL');
    if (this.alive) await this.kill();
    await this.#run('start', '--port', String(this.port), '--dir', this.#dir, '--admin', `${ADMIN.username}:${ADMIN.password}`);
    await this.setConfig('chttpd_auth_lockout', 'mode', 'off');
  }

  async stop() {
    if (this.#external) return;
    await this.#run('stop', '--dir', this.#dir).catch(() => {});
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** pouchdb-server 4.2.0 from npm (see the top of this file). */
export class PouchDbServer extends Server {
  kind = 'pouchdb-server';
  #proc;
  #dir;

  static async start() {
    const s = new PouchDbServer();
    s.#dir = mkdtempSync(join(tmpdir(), 'settee-couch-'));
    s.port = await freePort();
    s.url = `http://127.0.0.1:${s.port}`;
    const template = JSON.parse(readFileSync(join(root, 'scripts/pouchdb-server.config.json'), 'utf8'));
    const config = {
      ...template,
      couchdb: { ...template.couchdb, database_dir: join(s.#dir, 'data') + '/' },
      log: { ...template.log, file: join(s.#dir, 'log.txt') },
      httpd: { ...template.httpd, bind_address: '127.0.0.1', port: String(s.port) },
      admins: { [ADMIN.username]: ADMIN.password },
    };
    writeFileSync(join(s.#dir, 'config.json'), JSON.stringify(config, null, 2));
    await s.#spawn();
    return s;
  }

  get alive() {
    return this.#proc !== undefined && this.#proc.exitCode === null && this.#proc.signalCode === null;
  }

  async #spawn() {
    const dir = this.#dir;
    const args = [BIN, '-c', join(dir, 'config.json'), '-d', join(dir, 'data') + '/', '-p', String(this.port), '-o', '127.0.0.1', '-n'];
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(dir, 'data'), { recursive: true });
    this.#proc = spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    this.#proc.stderr.on('data', () => {});
    for (let i = 0; i < 100; i++) {
      try {
        if ((await fetch(this.url + '/')).ok) return;
      } catch {}
      if (!this.alive) throw new Error('pouchdb-server exited during start');
      await sleep(100);
    }
    throw new Error('pouchdb-server did not start within 10 s');
  }

  /** Restarts the server if it died (some requests make pouchdb-server exit). */
  async ensureUp() {
    if (!this.alive) await this.#spawn();
  }

  /** Kills the server process and waits for it to exit. */
  async kill() {
    if (!this.alive) return;
    const exited = new Promise((ok) => this.#proc.once('exit', ok));
    this.#proc.kill('SIGKILL');
    await exited;
  }

  async restart() {
    await this.kill();
    await this.#spawn();
  }

  async stop() {
    await this.kill();
    rmSync(this.#dir, { recursive: true, force: true });
  }

  get canRestart() {
    return true;
  }
}

/** The server `SETTEE_SERVER` names (pouchdb-server by default). */
export const CouchServer = {
  start: () => (SERVER_KIND === 'couchdb' ? RealCouch.start() : PouchDbServer.start()),
};

/**
 * Counts the page's fetch calls to `serverUrl` from now on: `installFetchCounter` wraps
 * `window.fetch` once; `fetchCount(page)` reads, `resetFetchCount(page)` zeroes it.
 */
export async function installFetchCounter(page, serverUrl) {
  await page.evaluate((prefix) => {
    if (window.__couchFetches) return;
    window.__couchFetches = [];
    const original = window.fetch.bind(window);
    window.fetch = (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
      if (url.startsWith(prefix)) window.__couchFetches.push(`${method} ${url.slice(prefix.length)}`);
      return original(input, init);
    };
  }, serverUrl);
}

export const fetchLog = (page) => page.evaluate(() => window.__couchFetches.slice());
export const resetFetchLog = (page) => page.evaluate(() => void (window.__couchFetches.length = 0));
