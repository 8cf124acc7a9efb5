// Shared by the browser tests: a static server for the fixture page and the built pkg/, and a
// browser from Debian driven from Node (no downloaded browsers). `SETTEE_BROWSER` picks the
// engine: `chromium` (default, playwright-core), `firefox` (firefox-esr, puppeteer-core over
// WebDriver BiDi) or `webkit` (WebKitGTK's MiniBrowser, plain WebDriver). The drivers in
// engines/ give each engine the same small page surface: goto, evaluate, waitForFunction,
// reload, addScriptTag, on, close.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before } from 'node:test';
import { serve } from '../../scripts/serve.mjs';
import { launchChromium } from './engines/chromium.mjs';
import { launchFirefox } from './engines/firefox.mjs';
import { launchWebKit } from './engines/webkit.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
if (!existsSync(join(root, 'pkg/index.js'))) throw new Error('pkg/index.js missing: run scripts/build.sh first');

/** The engine these tests drive: `chromium`, `firefox` or `webkit`. */
export const ENGINE = process.env.SETTEE_BROWSER ?? 'chromium';
if (!['chromium', 'firefox', 'webkit'].includes(ENGINE)) throw new Error(`SETTEE_BROWSER=${ENGINE}: not an engine`);

const CHROMIUM_ONLY = "needs Chromium's own flags or DevTools protocol (--expose-gc, Storage.overrideQuotaForOrigin)";
// What a test may need that not every engine's driver gives, and why not.
const CANNOT = {
  firefox: { chromium: CHROMIUM_ONLY },
  webkit: {
    chromium: CHROMIUM_ONLY,
    profile: 'a WebDriver session of WebKitGTK has ephemeral storage: a relaunch starts empty',
    kill: 'storage of a WebKitGTK WebDriver session does not outlive the browser',
  },
};

/**
 * `false` when this engine can do each of `needs` (`profile`, `kill`, `chromium`), else the
 * reason it cannot: pass it as node:test's `skip` option, so the test is reported as skipped
 * with why.
 */
export function unless(...needs) {
  for (const need of needs) {
    const why = CANNOT[ENGINE]?.[need];
    if (why) return `${ENGINE}: ${why}`;
  }
  return false;
}

/** Serves tests/js/fixtures at /, pkg/ at /pkg/ and PouchDB's browser build at /pouchdb/ on a free port. */
export async function startServer() {
  const { server, url } = await serve({
    '/': join(root, 'tests/js/fixtures'),
    '/pkg/': join(root, 'pkg'),
    '/pouchdb/': join(root, 'node_modules/pouchdb/dist'),
  });
  return { url, close: () => new Promise((ok) => server.close(ok)) };
}

/** A fresh user-data-dir (a browser profile); removed by `removeProfile`. */
export function newProfile() {
  return mkdtempSync(join(tmpdir(), 'settee-profile-'));
}

export function removeProfile(dir) {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Launches the engine on `profile` (IndexedDB lives there; WebKit cannot use it, see
 * `unless('profile')`). `extraArgs` are Chromium flags, which the other engines ignore.
 */
export async function launch(profile = newProfile(), extraArgs = []) {
  const { context, version } =
    ENGINE === 'firefox'
      ? await launchFirefox(profile)
      : ENGINE === 'webkit'
        ? await launchWebKit()
        : await launchChromium(profile, extraArgs);
  return { context, profile, version };
}

/**
 * Opens the fixture page and waits until `window.Settee` is there. Page errors are printed;
 * with `quiet`, the console's failed-request lines are not.
 */
export async function openPage(context, url, { quiet = false } = {}) {
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error(`[page error] ${err.message}`));
  page.on('console', (msg) => {
    // `quiet`: the browser's own lines about failed requests are left out.
    const network = /Failed to load resource|blocked by CORS policy/.test(msg.text());
    if (msg.type() === 'error' && !(quiet && network)) console.error(`[page console] ${msg.text()}`);
  });
  await page.goto(url + '/');
  await page.waitForFunction(() => window.ready === true);
  return page;
}

/**
 * Loads PouchDB 9's browser build into the page (once). In WebKit its local databases use
 * PouchDB's memory adapter: in a WebDriver session's ephemeral storage, PouchDB's idb adapter
 * never settles a call (it cannot store Blobs there). Remote URLs still use its http adapter.
 */
export async function addPouchDB(page, base = '') {
  if (await page.evaluate(() => typeof PouchDB === 'function')) return;
  await page.addScriptTag({ url: `${base}/pouchdb/pouchdb.min.js` });
  if (ENGINE === 'webkit') {
    await page.addScriptTag({ url: `${base}/pouchdb/pouchdb.memory.min.js` });
    await page.evaluate(() => {
      PouchDB.preferredAdapters = ['memory'];
    });
  }
}

let counter = 0;
/** A database name no other test uses. */
export function uniqueName(prefix = 'db') {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${++counter}`;
}

/**
 * Runs `fn(arg)` in the page; resolves to `{ok: value}` or `{error: {isError, status, name,
 * message, reason, error}}` so a test can check the rejection's fields.
 */
export async function settle(page, fn, arg) {
  return page.evaluate(
    async ([src, arg]) => {
      const f = new Function(`return (${src})`)();
      try {
        return { ok: await f(arg) };
      } catch (e) {
        return {
          error: {
            isError: e instanceof Error,
            status: e?.status,
            name: e?.name,
            message: e?.message,
            reason: e?.reason,
            error: e?.error,
          },
        };
      }
    },
    [fn.toString(), arg],
  );
}

/**
 * Ends a browser as a crash would: the page closed (`'close page'`: the context shuts down
 * normally) or the browser process killed with SIGKILL (`'kill browser'`), then waits until
 * it is gone.
 */
export async function crash(browser, page, how) {
  if (how === 'close page') {
    await page.close();
    await browser.context.close();
    return;
  }
  const pid = browser.context.pid?.() ?? browserPid(browser.profile);
  if (!pid) throw new Error('browser process not found');
  process.kill(pid, 'SIGKILL');
  await browser.context.close().catch(() => {});
  for (let i = 0; i < 50 && alive(pid); i++) await new Promise((ok) => setTimeout(ok, 100));
}

/** Whether `pid` still runs (a killed child that is not reaped yet is a zombie: gone). */
function alive(pid) {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * The pid of the Chromium browser process using `profile`, found in /proc by its
 * --user-data-dir argument (playwright does not expose it for persistent contexts).
 */
export function browserPid(profile) {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let args;
    try {
      args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (args.includes(`--user-data-dir=${profile}`) && !args.some((a) => a.startsWith('--type='))) return Number(entry);
  }
  return undefined;
}

/**
 * One static server, browser and page shared by the tests of a file: registers the `before`
 * and `after` hooks, and hands `{server, browser, page}` to `onReady` once they are up (node's
 * test runner does not wait for one `before` hook before starting the next).
 */
export function sharedPage(onReady) {
  const shared = {};
  before(async () => {
    shared.server = await startServer();
    shared.browser = await launch();
    shared.page = await openPage(shared.browser.context, shared.server.url);
    onReady(shared);
  });
  after(async () => {
    await shared.browser?.context.close();
    removeProfile(shared.browser?.profile);
    await shared.server?.close();
  });
  return shared;
}

/**
 * The settee/pouchdb entry in a page shared by the tests of a file: returns `inPage(fn, name)`,
 * which runs `fn(name)` in the page with `window.PouchDB` loaded from pkg/pouchdb.js (`name`:
 * a fresh database name starting with `prefix` unless given).
 */
export function sharedPouchPage(prefix) {
  let page;
  sharedPage((shared) => ({ page } = shared));
  return (fn, name = uniqueName(prefix)) =>
    page.evaluate(
      async ([src, name]) => {
        window.PouchDB ??= (await import('/pkg/pouchdb.js')).default;
        return new Function(`return (${src})`)()(name);
      },
      [fn.toString(), name],
    );
}

export const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

/** Polls `check` every `every` ms until it returns something truthy (returned), or fails
 * naming `what` after `ms`. */
export async function eventually(what, check, ms = 15000, every = 100) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(every);
  }
}
