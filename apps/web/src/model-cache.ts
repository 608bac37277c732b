// The demo's downloads (models and runtimes) through @megabyte/core's fetchFile: Cache Storage,
// progress from the body stream, older `?v=` versions replaced. Here only the progress of several
// files is summed into one line of the download display.
import { cacheFile, fetchFile } from '@megabyte/core/portable';

export interface CachedFetchOptions {
  /** Bytes received so far, over all files, and the expected total. */
  readonly onProgress?: (received: number, total: number) => void;
  /** Expected total size, used until the server sends Content-Length for every file. */
  readonly expectedBytes?: number;
}

/** Reads every URL, from the cache when it is there; `fromCache` when every one was. */
export async function fetchCached(
  urls: readonly string[],
  options: CachedFetchOptions = {},
): Promise<{ files: Uint8Array[]; fromCache: boolean }> {
  const report = progressOver(urls.length, options);
  const fetched = await Promise.all(
    urls.map(async (url, index) => {
      const file = await fetchFile(new URL(url), { cache: true, progress: (p) => report(index, p) });
      if (!file) throw new Error(`could not download ${url}: HTTP 404 Not Found`);
      return file;
    }),
  );
  return { files: fetched.map((file) => file.bytes), fromCache: fetched.every((file) => file.fromCache) };
}

/**
 * Downloads into the cache whichever of the URLs it lacks, one after another, without reading the
 * cached ones; true when every one was cached already.
 */
export async function cacheAhead(
  urls: readonly string[],
  options: CachedFetchOptions = {},
): Promise<boolean> {
  const report = progressOver(urls.length, options);
  let cachedAll = true;
  for (const [index, url] of urls.entries()) {
    if (!(await cacheFile(new URL(url), { progress: (p) => report(index, p) }))) cachedAll = false;
  }
  return cachedAll;
}

/** Sums per-file progress into (received, total) over `count` files. */
function progressOver(count: number, options: CachedFetchOptions) {
  const loaded = new Array<number>(count).fill(0);
  const totals = new Array<number | undefined>(count).fill(undefined);
  return (index: number, progress: { loaded: number; total: number | undefined }) => {
    loaded[index] = progress.loaded;
    totals[index] = progress.total;
    const known = totals.every((total) => total !== undefined);
    const total = known ? totals.reduce((sum: number, size) => sum + size!, 0) : (options.expectedBytes ?? 0);
    options.onProgress?.(
      loaded.reduce((sum, size) => sum + size, 0),
      total,
    );
  };
}
