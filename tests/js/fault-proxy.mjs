// A fault-injecting HTTP proxy for the reliability tests: it stands between Chromium and a
// test server (pouchdb-server or CouchDB) on 127.0.0.1 and, for a seeded random share of the
// requests (`rate`), does one of the things a bad network or a struggling server does:
//
//   status       answers 500, 502 or 503 itself (with CORS headers, so the page sees the status)
//   reset-before closes the connection without forwarding
//   reset-after  forwards, lets the server do the work, then closes the connection unanswered
//                (a write that landed but whose answer was lost)
//   cut          forwards, sends the headers and half the body, then closes the connection
//   hang         forwards, sends the headers and half the body, then nothing for `hangMs`
//                (10 s), then closes: the client's own request timeout must end the request.
//                The close matters: Chromium keeps an aborted connection open to drain its
//                body, so a connection hung forever would hold one of its 6 per host for good
//                and, six hangs later, starve every request (seen here). Real networks and
//                servers close such connections sooner or later too.
//   no-cors      forwards, but drops the Access-Control-* headers (the browser then refuses
//                the answer, as it does behind a misconfigured proxy)
//   delay        forwards after 0.2-1.5 s (not a failure: a slow answer)
//
// The same seed gives the same sequence of decisions, though which request meets which one
// depends on the order the browser sends them in. `stats` counts what was done.
import { createServer, request as httpRequest } from 'node:http';

export const FAULTS = ['status', 'reset-before', 'reset-after', 'cut', 'hang', 'no-cors', 'delay'];

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

/** The server's answer, whole: status, headers and body. */
function forward(target, req, body) {
  return new Promise((ok, fail) => {
    const headers = { ...req.headers, host: target.host };
    const out = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => ok({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', fail);
      },
    );
    out.on('error', fail);
    out.end(body);
  });
}

function readBody(req) {
  return new Promise((ok, fail) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => ok(Buffer.concat(chunks)));
    req.on('error', fail);
  });
}

function corsHeaders(req) {
  return {
    'access-control-allow-origin': req.headers.origin ?? '*',
    'access-control-allow-credentials': 'true',
  };
}

/** The answer's headers as sent on: a fixed length (the body is whole here), no chunking. */
function answerHeaders(answer, dropCors) {
  const headers = {};
  for (const [k, v] of Object.entries(answer.headers)) {
    if (k === 'transfer-encoding' || k === 'connection' || k === 'content-length') continue;
    if (dropCors && k.startsWith('access-control-')) continue;
    headers[k] = v;
  }
  headers['content-length'] = String(answer.body.length);
  return headers;
}

/**
 * Starts a proxy to `target` (a server URL) on a free port. `rate` is the share of requests
 * that meet a fault (changeable with `setRate`), `faults` the kinds drawn from.
 */
export async function startFaultProxy({ target, rate = 0, seed = 1, faults = FAULTS, hangMs = 10_000 }) {
  const to = new URL(target);
  const random = prng(seed);
  // `inFlight`/`peak`: requests being answered now and the most at once (`resetPeak`);
  // `longpolls`/`longpollPeak`: the same for `feed=longpoll` requests; `log`: method and path.
  const stats = { requests: 0, forwarded: 0, inFlight: 0, peak: 0, longpolls: 0, longpollPeak: 0, log: [] };
  for (const f of faults) stats[f] = 0;
  let currentRate = rate;
  const hung = new Set();

  const server = createServer(async (req, res) => {
    stats.requests++;
    const longpoll = /[?&]feed=longpoll/.test(req.url);
    stats.inFlight++;
    stats.peak = Math.max(stats.peak, stats.inFlight);
    if (longpoll) stats.longpollPeak = Math.max(stats.longpollPeak, ++stats.longpolls);
    stats.log.push(`${req.method} ${req.url}`);
    res.once('close', () => {
      stats.inFlight--;
      if (longpoll) stats.longpolls--;
    });
    const fault = random() < currentRate ? faults[Math.floor(random() * faults.length)] : undefined;
    if (fault) stats[fault]++;
    try {
      const body = await readBody(req);
      if (fault === 'reset-before') return req.socket.destroy();
      if (fault === 'status') {
        const status = [500, 502, 503][Math.floor(random() * 3)];
        res.writeHead(status, { 'content-type': 'application/json', ...corsHeaders(req) });
        return res.end(JSON.stringify({ error: 'injected', reason: `fault proxy: ${status}` }));
      }
      if (fault === 'delay') await sleep(200 + Math.floor(random() * 1300));
      const answer = await forward(to, req, body);
      stats.forwarded++;
      if (fault === 'reset-after') return req.socket.destroy();
      res.writeHead(answer.status, answerHeaders(answer, fault === 'no-cors'));
      if (fault === 'cut' || fault === 'hang') {
        res.write(answer.body.subarray(0, Math.floor(answer.body.length / 2)));
        if (fault === 'cut') return setTimeout(() => req.socket.destroy(), 20);
        hung.add(req.socket);
        const timer = setTimeout(() => req.socket.destroy(), hangMs);
        req.socket.once('close', () => {
          clearTimeout(timer);
          hung.delete(req.socket);
        });
        return;
      }
      res.end(answer.body);
    } catch {
      req.socket.destroy();
    }
  });
  server.keepAliveTimeout = 1000;
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stats,
    /** Open client connections, and those a `hang` holds. */
    connections: () => new Promise((ok) => server.getConnections((_, n) => ok({ open: n, hung: hung.size }))),
    /** Starts `peak`, `longpollPeak` and `log` over from now. */
    resetPeak() {
      stats.peak = stats.inFlight;
      stats.longpollPeak = stats.longpolls;
      stats.log = [];
    },
    setRate(r) {
      currentRate = r;
    },
    /** `url` with `to`'s path and credentials swapped onto this proxy. */
    via(url) {
      const u = new URL(url);
      u.host = `127.0.0.1:${port}`;
      return u.href;
    },
    close() {
      for (const s of hung) s.destroy();
      server.closeAllConnections?.();
      return new Promise((ok) => server.close(ok));
    },
  };
}
