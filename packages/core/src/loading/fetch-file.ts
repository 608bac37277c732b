import type { LoadProgress } from './model-files.js';

/** `true`: the default cache; a string: a cache name (browsers) or a directory (Node). */
export type CacheOption = boolean | string;

/** The Cache Storage cache that `cache: true` uses in browsers. */
export const DEFAULT_CACHE_NAME = 'megabyte-models';

export interface FetchFileOptions {
  readonly progress?: (progress: LoadProgress) => void;
  readonly signal?: AbortSignal;
  /** Cache Storage (browsers; ignored where there is none): `true` or a cache name. */
  readonly cache?: CacheOption | undefined;
}

export interface FetchedFile {
  readonly bytes: Uint8Array;
  /** Whether it came from Cache Storage rather than the network. */
  readonly fromCache: boolean;
}

/**
 * One file by URL: from Cache Storage when cached (`cache` set), else downloaded with progress from
 * the body stream, then cached. Undefined when the server answers 404. Cached entries for the same
 * path with another query (an older `?v=` version) are deleted when a new one is stored.
 */
export async function fetchFile(url: URL, options: FetchFileOptions = {}): Promise<FetchedFile | undefined> {
  const cache = await openCache(options.cache);
  const cached = await cache?.match(url.href);
  if (cached) return { bytes: await readBody(cached, url.href, options), fromCache: true };
  const response = await download(url, options);
  if (!response) return undefined;
  const bytes = await readBody(response, url.href, options);
  if (cache) await store(cache, url, bytes);
  return { bytes, fromCache: false };
}

/**
 * Puts a file into Cache Storage unless it is there (without reading a cached one): true when it
 * was cached already. Where there is no Cache Storage it does nothing and says false.
 */
export async function cacheFile(url: URL, options: FetchFileOptions = {}): Promise<boolean> {
  const cache = await openCache(options.cache ?? true);
  if (!cache) return false;
  if (await cache.match(url.href)) return true;
  const response = await download(url, options);
  if (!response) throw new Error(`could not download ${url.href}: HTTP 404 Not Found`);
  await store(cache, url, await readBody(response, url.href, options));
  return false;
}

async function openCache(option: CacheOption | undefined): Promise<Cache | undefined> {
  if (!option || typeof caches === 'undefined') return undefined;
  return caches.open(option === true ? DEFAULT_CACHE_NAME : option);
}

/** The response, undefined for 404; other failures name the URL and the cause. */
async function download(url: URL, options: FetchFileOptions): Promise<Response | undefined> {
  let response: Response;
  try {
    response = await fetch(url, { signal: options.signal ?? null });
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason;
    throw new Error(`could not download ${url.href}: the network failed (${(error as Error).message})`, {
      cause: error,
    });
  }
  if (response.status === 404) return undefined;
  if (!response.ok)
    throw new Error(`could not download ${url.href}: HTTP ${response.status} ${response.statusText}`);
  return response;
}

async function store(cache: Cache, url: URL, bytes: Uint8Array): Promise<void> {
  for (const request of await cache.keys()) {
    const old = new URL(request.url);
    if (old.pathname === url.pathname && old.origin === url.origin && old.href !== url.href) {
      await cache.delete(request);
    }
  }
  // wasm keeps its type, so that code reading it through a service worker compiles it streaming
  const type = url.pathname.endsWith('.wasm') ? 'application/wasm' : 'application/octet-stream';
  await cache.put(url.href, new Response(bytes.slice(), { headers: { 'Content-Type': type } }));
}

/** The body's bytes, reporting progress per chunk; aborts between chunks. */
async function readBody(response: Response, file: string, options: FetchFileOptions): Promise<Uint8Array> {
  const length = Number(response.headers.get('Content-Length'));
  const total = Number.isFinite(length) && length > 0 ? length : undefined;
  if (!response.body) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    options.progress?.({ file, loaded: bytes.length, total: bytes.length });
    return bytes;
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  try {
    for (;;) {
      options.signal?.throwIfAborted();
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      loaded += value.length;
      options.progress?.({ file, loaded, total });
    }
  } finally {
    reader.releaseLock();
  }
  const bytes = new Uint8Array(loaded);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}
