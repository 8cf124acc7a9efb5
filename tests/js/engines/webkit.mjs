// Debian's WebKitGTK MiniBrowser through `WebKitWebDriver` (webkit2gtk-driver), spoken to in
// plain W3C WebDriver over fetch, on an Xvfb display this module starts (MiniBrowser has no
// headless mode).
//
// - Each `launchWebKit` is one WebDriver session: its own driver process and browser. A
//   WebDriver session's storage is ephemeral, as in Safari's Private Browsing: data lives
//   until the session ends, so a relaunch starts empty (tests that need a profile skip).
// - WebDriver runs one command at a time per session, so pages of one context take turns:
//   commands queue, and each first switches to its page's window. An `evaluate` that waits
//   for another page of the same browser would wait forever.
// - There is no event stream: the page's uncaught errors are collected in the page and
//   handed to `on('pageerror')` listeners after each command.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';

const DRIVER = process.env.WEBKIT_DRIVER_PATH ?? '/usr/bin/WebKitWebDriver';
const MINIBROWSER = process.env.MINIBROWSER_PATH ?? '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';

let display;
/** One Xvfb for the whole test process, stopped when it exits. */
async function xDisplay() {
  if (process.env.DISPLAY) return process.env.DISPLAY;
  display ??= new Promise((resolve, reject) => {
    // -displayfd: Xvfb picks a free display number and writes it to fd 3 once it is up.
    const x = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', '1280x800x24', '-nolisten', 'tcp'], {
      stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    });
    x.on('error', reject);
    x.stdio[3].once('data', (d) => resolve(`:${String(d).trim()}`));
    x.unref();
    x.stdio[3].unref?.();
    process.once('exit', () => x.kill());
  });
  return display;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Turns UNDEFINED markers back into `undefined`, in place. */
function revive(value) {
  if (value === UNDEFINED) return undefined;
  if (value && typeof value === 'object') for (const k of Object.keys(value)) value[k] = revive(value[k]);
  return value;
}

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

// Runs in the page: calls the function from its source with `arg`, answers `{ok}` or
// `{error}`, and hands back the page errors collected since the last command. The answer
// crosses as a JSON string: WebKit's driver would reorder an object's keys. `undefined`
// crosses as UNDEFINED, so `{length: undefined}` comes back as playwright gives it.
const UNDEFINED = '\u0000undefined';
const EXECUTE = `
const [src, arg, done] = arguments;
const errors = () => (window.__setteeErrors || []).splice(0);
const answer = (value) => done(JSON.stringify(value, (k, v) => (v === undefined ? ${JSON.stringify(UNDEFINED)} : v)));
Promise.resolve()
  .then(() => new Function('return (' + src + ')')()(arg))
  .then((ok) => answer({ ok, errors: errors() }),
        (e) => answer({ error: String(e && e.message || e), stack: String(e && e.stack || ''), errors: errors() }));
`;

// Installed after each load: keeps uncaught errors for `on('pageerror')`.
const COLLECT = `
if (!window.__setteeErrors) {
  window.__setteeErrors = [];
  window.addEventListener('error', (e) => window.__setteeErrors.push(String(e.message)));
  window.addEventListener('unhandledrejection', (e) => window.__setteeErrors.push(String(e.reason && e.reason.message || e.reason)));
}
`;

class Session {
  constructor(base, id, driver) {
    // `spare`: a window no page uses (the first, or the last one closed).
    Object.assign(this, { base, id, driver, current: undefined, spare: undefined, queue: Promise.resolve() });
  }
  /** Runs `commands()` on `handle`'s window, after every command queued before it. */
  on(handle, commands) {
    const run = this.queue.then(async () => {
      if (this.current !== handle) {
        await this.call('POST', '/window', { handle });
        this.current = handle;
      }
      return commands();
    });
    this.queue = run.catch(() => {});
    return run;
  }
  async call(method, path, body) {
    const r = await fetch(`${this.base}/session/${this.id}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await r.json();
    if (!r.ok) throw new Error(`WebDriver ${method} ${path}: ${json.value?.error}: ${json.value?.message}`);
    return json.value;
  }
}

class WebKitPage {
  constructor(session, handle) {
    Object.assign(this, { session, handle, listeners: [] });
  }
  goto(url) {
    return this.session.on(this.handle, async () => {
      await this.session.call('POST', '/url', { url });
      await this.session.call('POST', '/execute/sync', { script: COLLECT, args: [] });
    });
  }
  async evaluate(fn, arg) {
    const src = typeof fn === 'function' ? fn.toString() : `() => (${fn})`;
    const res = revive(JSON.parse(
      await this.session.on(this.handle, () =>
        this.session.call('POST', '/execute/async', { script: EXECUTE, args: [src, arg ?? null] }),
      ),
    ));
    for (const message of res.errors ?? []) for (const l of this.listeners) l(new Error(message));
    if ('error' in res) {
      const e = new Error(`page.evaluate: ${res.error}`);
      e.pageStack = res.stack;
      throw e;
    }
    return res.ok;
  }
  /** Polls `fn(arg)` in the page until it is truthy (playwright's argument order). */
  async waitForFunction(fn, arg, { timeout = 30_000 } = {}) {
    const end = Date.now() + timeout;
    for (;;) {
      if (await this.evaluate(fn, arg)) return;
      if (Date.now() > end) throw new Error(`waitForFunction: timed out after ${timeout} ms`);
      await sleep(50);
    }
  }
  reload() {
    return this.session.on(this.handle, async () => {
      await this.session.call('POST', '/refresh', {});
      await this.session.call('POST', '/execute/sync', { script: COLLECT, args: [] });
    });
  }
  async addScriptTag({ url }) {
    await this.evaluate(
      (url) =>
        new Promise((ok, no) => {
          const s = document.createElement('script');
          s.src = url;
          s.onload = () => ok();
          s.onerror = () => no(new Error(`cannot load ${url}`));
          document.head.append(s);
        }),
      url,
    );
  }
  /** `pageerror` only: WebDriver has no console stream. */
  on(event, listener) {
    if (event === 'pageerror') this.listeners.push(listener);
  }
  /**
   * Closing the last window would end the WebDriver session: that one is blanked instead and
   * kept for the next `newPage`.
   */
  close() {
    return this.session.on(this.handle, async () => {
      const open = await this.session.call('GET', '/window/handles');
      if (open.length > 1) {
        await this.session.call('DELETE', '/window');
        this.session.current = undefined;
      } else {
        await this.session.call('POST', '/url', { url: 'about:blank' });
        this.session.spare = this.handle;
      }
    });
  }
}

/** A new WebDriver session (a new ephemeral browser); `profile` cannot be used. */
export async function launchWebKit() {
  const port = await freePort();
  const env = { ...process.env, DISPLAY: await xDisplay() };
  const driver = spawn(DRIVER, [`--port=${port}`, '--host=127.0.0.1'], { env, stdio: 'ignore' });
  const base = `http://127.0.0.1:${port}`;
  let created;
  for (let i = 0; ; i++) {
    try {
      const r = await fetch(`${base}/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          capabilities: {
            alwaysMatch: {
              'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] },
              // Replication tests wait on longpolls: no command may time out before they do.
              timeouts: { script: 600_000, pageLoad: 60_000 },
            },
          },
        }),
      });
      created = (await r.json()).value;
      if (!r.ok) throw new Error(`${created.error}: ${created.message}`);
      break;
    } catch (e) {
      if (i >= 50) {
        driver.kill();
        throw new Error(`WebKitWebDriver did not start a session: ${e.message}`);
      }
      await sleep(100);
    }
  }
  const session = new Session(base, created.sessionId, driver);
  session.spare = await session.call('GET', '/window');
  const context = {
    async newPage() {
      // The session's first window (or a closed last one) is reused; other pages get windows
      // of their own.
      let handle = session.spare;
      session.spare = undefined;
      if (handle === undefined) {
        // A new window needs a current one: after the current window was closed, WebDriver
        // answers "no such window" until the session switches to a window still open.
        const made = session.queue.then(async () => {
          if (session.current === undefined) {
            const [open] = await session.call('GET', '/window/handles');
            await session.call('POST', '/window', { handle: open });
            session.current = open;
          }
          return (await session.call('POST', '/window/new', { type: 'window' })).handle;
        });
        session.queue = made.catch(() => {});
        handle = await made;
      }
      return new WebKitPage(session, handle);
    },
    /** Deletes the cookies of the current page's host (all ports: cookies ignore them). */
    clearCookies: () => session.on(session.current, () => session.call('DELETE', '/cookie')),
    async close() {
      await session.call('DELETE', '').catch(() => {});
      driver.kill();
    },
  };
  return { context, version: `WebKitGTK ${created.capabilities.browserVersion}` };
}
