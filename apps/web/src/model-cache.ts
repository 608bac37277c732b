/**
 * Fetches files through the browser's Cache Storage: the first visit downloads them (with progress
 * from the response body stream), later visits read them from the cache, offline included.
 */

const CACHE_NAME = 'megabyte-models';

export interface CachedFetchOptions {
  /** Bytes received so far, over all files, and the expected total. */
  readonly onProgress?: (received: number, total: number) => void;
  /** Expected total size, used until the server sends Content-Length. */
  readonly expectedBytes?: number;
}

/**
 * Reads every URL, from the cache when it is there. URLs that differ from the cached entries of
 * the same path (an older `?v=` version) are deleted once the new ones are stored.
 */
export async function fetchCached(
  urls: readonly string[],
  options: CachedFetchOptions = {},
): Promise<{ files: Uint8Array[]; fromCache: boolean }> {
  const cache = typeof caches === 'undefined' ? undefined : await caches.open(CACHE_NAME);
  const cached = cache ? await Promise.all(urls.map((url) => cache.match(url))) : [];
  if (cached.length === urls.length && cached.every((response) => response !== undefined)) {
    const files = await Promise.all(
      cached.map(async (response) => new Uint8Array(await response!.arrayBuffer())),
    );
    const total = files.reduce((sum, file) => sum + file.length, 0);
    options.onProgress?.(total, total);
    return { files, fromCache: true };
  }
  const responses = await Promise.all(urls.map((url) => fetchOk(url)));
  const sizes = responses.map((response) => Number(response.headers.get('Content-Length') ?? 0));
  const total = sizes.every((size) => size > 0)
    ? sizes.reduce((sum, size) => sum + size, 0)
    : (options.expectedBytes ?? 0);
  const received = urls.map(() => 0);
  const report = () =>
    options.onProgress?.(
      received.reduce((sum, count) => sum + count, 0),
      total,
    );
  const files = await Promise.all(
    responses.map((response, index) =>
      readBody(response, (count) => {
        received[index] = count;
        report();
      }),
    ),
  );
  if (cache) await store(cache, urls, files);
  return { files, fromCache: false };
}

/**
 * Downloads into the cache whichever of the URLs it lacks, without reading the cached ones, with
 * progress over all of them; true when every one was cached already.
 */
export async function cacheAhead(
  urls: readonly string[],
  options: CachedFetchOptions = {},
): Promise<boolean> {
  if (typeof caches === 'undefined') return false;
  const cache = await caches.open(CACHE_NAME);
  let received = 0;
  let cachedAll = true;
  for (const url of urls) {
    if (await cache.match(url)) continue;
    cachedAll = false;
    const before = received;
    const bytes = await readBody(await fetchOk(url), (count) => {
      received = before + count;
      options.onProgress?.(received, options.expectedBytes ?? 0);
    });
    await store(cache, [url], [bytes]);
  }
  return cachedAll;
}

async function fetchOk(url: string): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new Error(
      `could not download ${url}: the network failed (${error instanceof Error ? error.message : error}); ` +
        'connect to the internet once so that the browser can keep it',
    );
  }
  if (!response.ok)
    throw new Error(`could not download ${url}: HTTP ${response.status} ${response.statusText}`);
  return response;
}

async function readBody(response: Response, onBytes: (count: number) => void): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array(await response.arrayBuffer());
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let count = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    count += value.length;
    onBytes(count);
  }
  const bytes = new Uint8Array(count);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

async function store(cache: Cache, urls: readonly string[], files: readonly Uint8Array[]): Promise<void> {
  const paths = new Set(urls.map((url) => new URL(url).pathname));
  for (const request of await cache.keys()) {
    if (paths.has(new URL(request.url).pathname) && !urls.includes(request.url)) await cache.delete(request);
  }
  await Promise.all(
    urls.map((url, index) =>
      cache.put(url, new Response(files[index]!.slice(), { headers: { 'Content-Type': contentType(url) } })),
    ),
  );
}

/** wasm keeps its type, so that code reading it through the service worker compiles it streaming. */
function contentType(url: string): string {
  return new URL(url).pathname.endsWith('.wasm') ? 'application/wasm' : 'application/octet-stream';
}
