// The service worker: keeps the app shell and the Settee package (wasm included) in the Cache
// Storage so that a reload works with the network off. The data itself is in IndexedDB,
// which needs no help from here.
//
// Strategy, per same-origin GET:
// - /config.json: network first (it names the sync server, which changes when the demo is
//   restarted with another COUCH_PORT), the cached copy when offline;
// - everything else: the cached copy at once, refreshed in the background (stale while
//   revalidate), so a reload never waits for the network and the next one gets updates.
// Requests to other origins (the sync server) are not touched.
const CACHE = 'settee-inbox-v1';
const SHELL = [
  '/',
  '/index.html',
  '/app.js',
  '/store.js',
  '/sync.js',
  '/seed.js',
  '/style.css',
  '/manifest.webmanifest',
  '/icons/icon.svg',
  '/icons/icon-192.png',
  '/icons/icon-512.png',
  '/config.json',
];

/**
 * The package's files, found by following its imports from /pkg/index.js (and the wasm's
 * `new URL(..., import.meta.url)`), so the list stays right when the package gains a module.
 */
async function packageFiles(cache) {
  const seen = new Set();
  const queue = [new URL('/pkg/index.js', self.location.origin).href];
  while (queue.length) {
    const url = queue.shift();
    if (seen.has(url)) continue;
    seen.add(url);
    const res = await fetch(url, { cache: 'no-store' });
    if (!res.ok) throw new Error(`${url}: ${res.status}`);
    await cache.put(url, res.clone());
    if (!url.endsWith('.js')) continue;
    const src = await res.text();
    const refs = [
      ...src.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g),
      ...src.matchAll(/new URL\(\s*["']([^"':]+)["']\s*,\s*import\.meta\.url/g),
    ];
    for (const [, ref] of refs) queue.push(new URL(ref, url).href);
  }
  return seen.size;
}

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      // config.json may be missing (www/ served by something else than the demo script).
      await Promise.all(SHELL.map((path) => cache.add(new Request(path, { cache: 'no-store' })).catch(() => path === '/config.json' || Promise.reject(new Error(`precache ${path} failed`)))));
      await packageFiles(cache);
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) if (key !== CACHE) await caches.delete(key);
      // Control the page that registered us right away, so its next reload is served from here.
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('fetch', (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  event.respondWith(url.pathname === '/config.json' ? networkFirst(request) : staleWhileRevalidate(request, event));
});

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const res = await fetch(request, { cache: 'no-store' });
    if (res.ok) await cache.put(request, res.clone());
    return res;
  } catch (err) {
    return (await cache.match(request)) ?? Promise.reject(err);
  }
}

async function staleWhileRevalidate(request, event) {
  const cache = await caches.open(CACHE);
  // A navigation to / or /?x answers with the cached shell page.
  const key = request.mode === 'navigate' ? new URL('/', self.location.origin).href : request;
  const cached = await cache.match(key, { ignoreSearch: request.mode === 'navigate' });
  const refresh = fetch(request, { cache: 'no-store' }).then(
    async (res) => {
      if (res.ok && res.type === 'basic') await cache.put(key, res.clone());
      return res;
    },
    (err) => {
      if (!cached) throw err;
    },
  );
  if (cached) {
    event.waitUntil(refresh.catch(() => {}));
    return cached;
  }
  return refresh;
}
