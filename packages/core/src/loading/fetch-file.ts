import type { LoadProgress } from './model-files.js';

/** `true`: the default cache; a string: a cache name (browsers) or a directory (Node). */
export type CacheOption = boolean | string;

/** The Cache Storage cache that `cache: true` uses in browsers. */
export const DEFAULT_CACHE_NAME = 'megabyte-models';

export interface FetchFileOptions {
  readonly progress?: (progress: LoadProgress) => void;
  readonly signal?: AbortSignal;
  readonly cache?: CacheOption | undefined;
}

/**
 * One file by URL: from Cache Storage when cached (browsers, `cache` set), else downloaded with
 * progress from the body stream and then cached. Undefined when the server answers 404.
 */
export async function fetchFile(url: URL, options: FetchFileOptions = {}): Promise<Uint8Array | undefined> {
  const cache = await openCache(options.cache);
  const cached = await cache?.match(url.href);
  if (cached) return readBody(cached, url.href, options);
  let response: Response;
  try {
    response = await fetch(url, { signal: options.signal ?? null });
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason;
    throw new Error(`could not download ${url.href}: ${(error as Error).message}`, { cause: error });
  }
  if (response.status === 404) return undefined;
  if (!response.ok)
    throw new Error(`could not download ${url.href}: HTTP ${response.status} ${response.statusText}`);
  const bytes = await readBody(response, url.href, options);
  if (cache) {
    await cache.put(
      url.href,
      new Response(bytes.slice(), { headers: { 'Content-Type': 'application/octet-stream' } }),
    );
  }
  return bytes;
}

async function openCache(option: CacheOption | undefined): Promise<Cache | undefined> {
  if (!option || typeof caches === 'undefined') return undefined;
  return caches.open(option === true ? DEFAULT_CACHE_NAME : option);
}

/** The body's bytes, reporting progress per chunk; aborts between chunks. */
export async function readBody(
  response: Response,
  file: string,
  options: FetchFileOptions,
): Promise<Uint8Array> {
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
