/// <reference lib="webworker" />
// The site's service worker (built as sw.js at the root): it keeps the app's own files so that a
// reload works offline. The runtimes' wasm and the models are cached by the engine worker, with
// progress, in a cache of their own; this worker answers from that cache too, so code that fetches
// those files itself (tfjs's wasm backend) finds them offline.

declare const self: ServiceWorkerGlobalScope;
/** The app's files, relative to this script; `./` is the page (replaced by the build). */
declare const __SHELL__: string[];
/** A hash of the app's files: a new build is a new version with a cache of its own. */
declare const __VERSION__: string;

const CACHE_PREFIX = 'megabyte-app-';
const CACHE = `${CACHE_PREFIX}${__VERSION__}`;
const PAGE = new URL('./', self.location.href).href;
const shell = new Set(__SHELL__.map((file) => new URL(file, self.location.href).href));

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      // The page is revalidated with the server, so a stale copy never enters a new version; the
      // other files have hashed names (never stale), so the HTTP cache's copy from this visit serves.
      await cache.addAll(
        [...shell].map((url) => new Request(url, { cache: url === PAGE ? 'no-cache' : 'default' })),
      );
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith(CACHE_PREFIX) && name !== CACHE) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET' || !request.url.startsWith(PAGE)) return;
  if (request.mode === 'navigate') event.respondWith(page(request));
  else event.respondWith(file(request));
});

/** The page from the network when it answers (so a new version shows at once), else the cached one. */
async function page(request: Request): Promise<Response> {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok && withoutQuery(request.url) === PAGE) await cache.put(PAGE, response.clone());
    return response;
  } catch (error) {
    const cached = await cache.match(PAGE);
    if (cached) return cached;
    throw error;
  }
}

/** An app file from this version's cache; anything else from the caches (exact URL), else the network. */
async function file(request: Request): Promise<Response> {
  const url = withoutQuery(request.url);
  if (shell.has(url)) {
    const cached = await (await caches.open(CACHE)).match(url);
    if (cached) return cached;
  }
  return (await caches.match(request)) ?? fetch(request);
}

function withoutQuery(url: string): string {
  const parsed = new URL(url);
  parsed.search = '';
  parsed.hash = '';
  return parsed.href;
}
