#!/usr/bin/env node
// A tiny static file server for the demo and the browser tests (plain node:http, no deps).
//
//   node scripts/serve.mjs [--host 127.0.0.1] [--port 8080] /=www /pkg/=pkg
//
// Each `PREFIX=DIR` mounts DIR at URL prefix PREFIX; the longest matching prefix wins.
// `.wasm` must be served as application/wasm or WebAssembly.instantiateStreaming refuses it.
// Nothing is cached (`no-store`) so a reload always sees the latest build.
import { createServer } from 'node:http';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.ts': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webmanifest': 'application/manifest+json',
};

/**
 * Creates (does not start) a server. `mounts` maps URL prefixes ('/', '/pkg/') to directories.
 * @param {Record<string, string>} mounts
 */
export function createStaticServer(mounts) {
  const table = Object.entries(mounts)
    .map(([prefix, dir]) => [prefix.endsWith('/') ? prefix : prefix + '/', resolve(dir)])
    .sort((a, b) => b[0].length - a[0].length);

  return createServer(async (req, res) => {
    const send = (status, body) => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n');
    let path;
    try {
      path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    } catch {
      return send(400, 'bad url\n');
    }
    const mount = table.find(([prefix]) => path.startsWith(prefix) || path + '/' === prefix);
    if (!mount) return send(404, 'not found\n');
    const [prefix, dir] = mount;
    let file = normalize(join(dir, path.slice(prefix.length)));
    if (file !== dir && !file.startsWith(dir + sep)) return send(403, 'forbidden\n');
    try {
      let st = await stat(file);
      if (st.isDirectory()) {
        if (!path.endsWith('/')) {
          res.writeHead(301, { location: path + '/' });
          return res.end();
        }
        file = join(file, 'index.html');
        st = await stat(file);
      }
      res.writeHead(200, {
        'content-type': MIME[extname(file).toLowerCase()] ?? 'application/octet-stream',
        'content-length': st.size,
        'cache-control': 'no-store',
      });
      if (req.method === 'HEAD') return res.end();
      createReadStream(file).pipe(res);
    } catch {
      send(404, 'not found\n');
    }
  });
}

/** Starts a server; resolves with it and its base URL once it listens. Port 0 picks a free port. */
export async function serve(mounts, { host = '127.0.0.1', port = 0 } = {}) {
  const server = createStaticServer(mounts);
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, ok);
  });
  return { server, url: `http://${host}:${server.address().port}` };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const opts = { host: '127.0.0.1', port: 8080 };
  const mounts = {};
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--host') opts.host = args[++i];
    else if (args[i] === '--port') opts.port = Number(args[++i]);
    else if (args[i].includes('=')) {
      const [prefix, dir] = args[i].split('=');
      mounts[prefix] = dir;
    } else {
      console.error(`usage: serve.mjs [--host H] [--port P] PREFIX=DIR...  (got ${args[i]})`);
      process.exit(2);
    }
  }
  if (!Object.keys(mounts).length) mounts['/'] = '.';
  serve(mounts, opts).then(
    ({ url }) => console.log(`serving ${Object.entries(mounts).map(([p, d]) => `${p} -> ${d}`).join(', ')} at ${url}/`),
    (err) => {
      console.error(`serve.mjs: cannot listen on ${opts.host}:${opts.port}: ${err.message}`);
      process.exit(1);
    },
  );
}
