// What the www/ tests share: the demo as scripts/demo.sh serves it (www/ at /, pkg/ at /pkg/,
// a generated /config.json naming the sync server), a real pouchdb-server on a free port
// without admins (as in the demo), Debian's Chromium through playwright-core, and HTTP checks
// against the server.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '../../scripts/serve.mjs';
import { launchChromium } from '../js/engines/chromium.mjs';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SHOTS = join(root, '.cache/screenshots');
mkdirSync(SHOTS, { recursive: true });

export const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

async function freePort() {
  const srv = createServer();
  await new Promise((ok) => srv.listen(0, '127.0.0.1', ok));
  const { port } = srv.address();
  await new Promise((ok) => srv.close(ok));
  return port;
}

/**
 * pouchdb-server (config from scripts/pouchdb-server.config.json, data in a temp dir) and the
 * static server for the app. `close()` stops both and removes the temp dir.
 */
export async function startStack() {
  const dir = mkdtempSync(join(tmpdir(), 'settee-www-'));
  mkdirSync(join(dir, 'data'));
  const port = await freePort();
  const couch = `http://127.0.0.1:${port}`;
  const template = JSON.parse(readFileSync(join(root, 'scripts/pouchdb-server.config.json'), 'utf8'));
  const config = { ...template, couchdb: { database_dir: join(dir, 'data') + '/' }, log: { ...template.log, file: join(dir, 'log.txt') } };
  writeFileSync(join(dir, 'couch.json'), JSON.stringify(config));
  const bin = join(root, 'node_modules/pouchdb-server/bin/pouchdb-server');
  const proc = spawn(process.execPath, [bin, '-c', join(dir, 'couch.json'), '-d', join(dir, 'data') + '/', '-p', String(port), '-o', '127.0.0.1', '-n'], {
    cwd: dir,
    stdio: 'ignore',
  });
  let up = false;
  for (let i = 0; i < 150 && !up; i++) {
    up = await fetch(couch + '/').then((r) => r.ok, () => false);
    if (!up) await sleep(100);
  }
  if (!up) throw new Error('pouchdb-server did not start within 15 s');

  // The same file demo.sh writes: the page must take its server from here, not from 5984.
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ couch }));
  const { server, url } = await serve({ '/': join(root, 'www'), '/pkg/': join(root, 'pkg'), '/config.json': join(dir, 'config.json') });
  return {
    couch,
    url,
    async close() {
      await new Promise((ok) => server.close(ok));
      server.closeAllConnections?.();
      if (proc.exitCode === null) {
        const exited = new Promise((ok) => proc.once('exit', ok));
        proc.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A browser "device": its own profile (IndexedDB, service worker, caches). */
export async function device() {
  const profile = mkdtempSync(join(tmpdir(), 'settee-www-profile-'));
  const { context } = await launchChromium(profile);
  const errors = [];
  context.on('weberror', (e) => errors.push(String(e.error())));
  return {
    context,
    errors,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Opens the app and waits until it has started (its data read, sync started). */
export async function openApp(context, url, page) {
  page ??= context.pages()[0] ?? (await context.newPage());
  await page.setViewportSize({ width: 1200, height: 760 });
  await page.goto(url + '/');
  await page.waitForSelector('body[data-ready=true]', { state: 'attached' });
  return page;
}

/** GET a JSON document from the server. */
export async function getJson(url) {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

/** Polls `fn` until it returns a truthy value (that value), or fails after `ms`. */
export async function eventually(fn, ms = 15_000, what = 'condition') {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
}

/** Waits until the status line says the live sync is caught up. */
export async function waitSynced(page, ms = 20_000) {
  try {
    await page.waitForSelector('#sync[data-state=paused]', { state: 'attached', timeout: ms });
  } catch (err) {
    // Say what the page showed instead: the status line, the customers, the message line.
    const seen = await page
      .evaluate(() => ({
        status: document.querySelector('#sync-text')?.textContent,
        customers: [...document.querySelectorAll('#customer-list li')].map((li) => li.textContent),
        message: document.querySelector('#message')?.textContent,
        events: globalThis.inboxSyncLog,
      }))
      .catch((e) => e.message);
    throw new Error(`sync not caught up after ${ms} ms; the page shows ${JSON.stringify(seen, null, 1)}`, { cause: err });
  }
}

export async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}
