// The Node side of reading models: file paths (a checkpoint directory, one of its files, an ONNX
// export's manifest or graph) and http(s) URLs with a download cache in a directory.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHECKPOINT_CONFIG_FILE } from '../checkpoint/checkpoint.js';
import { fetchFile } from '../loading/fetch-file.js';
import {
  directoryOfUrl,
  entryOfUrl,
  type FileLister,
  type ModelFiles,
  type ModelSource,
  type ReadModelOptions,
  readFromLister,
  readModelFiles,
  siblingUrl,
} from '../loading/model-files.js';
import { readCheckpointDirectory } from './checkpoint-files.js';

/**
 * `readModelFiles` that also takes file paths (and file: URLs); http(s) URLs are cached in the
 * directory `options.cache` (a path; `true` is ~/.cache/megabyte or $XDG_CACHE_HOME/megabyte).
 */
export async function readModelFilesNode(
  source: ModelSource,
  options: ReadModelOptions = {},
): Promise<ModelFiles> {
  if (source instanceof URL || (typeof source === 'string' && /^[a-z][a-z0-9+.-]+:\/\//i.test(source))) {
    const url = new URL(source);
    if (url.protocol === 'file:') return readPath(fileURLToPath(url), options);
    if (url.protocol === 'http:' || url.protocol === 'https:') {
      return readFromLister(cachedUrlLister(url, options), entryOfUrl(url), options);
    }
  }
  if (typeof source === 'string') return readPath(source, options);
  return readModelFiles(source, options);
}

async function readPath(path: string, options: ReadModelOptions): Promise<ModelFiles> {
  const target = resolve(path);
  const info = await stat(target).catch(() => undefined);
  if (info?.isFile()) return readFromLister(directoryLister(dirname(target)), basename(target), options);
  const names = info?.isDirectory() ? await readdir(target) : [];
  if (!info || names.includes(CHECKPOINT_CONFIG_FILE) || !names.some((name) => name.endsWith('.json'))) {
    // A checkpoint directory, or nothing there: its reader names what is missing (and a backup).
    const { config, weights, dir } = await readCheckpointDirectory(target);
    for (const [file, bytes] of [
      [CHECKPOINT_CONFIG_FILE, undefined],
      ['model.safetensors', weights],
    ] as const) {
      const size = bytes?.length ?? (await stat(join(dir, file))).size;
      options.progress?.({ file: join(dir, file), loaded: size, total: size });
    }
    return { kind: 'checkpoint', source: dir, config, weights };
  }
  return readFromLister(directoryLister(target), undefined, options);
}

/** The files of one directory. */
export function directoryLister(dir: string): FileLister {
  return {
    location: dir,
    list: () => readdir(dir),
    read: async (name, options) => {
      const path = join(dir, name);
      options.signal?.throwIfAborted();
      const bytes = await readFile(path).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined;
        throw error;
      });
      if (bytes) options.progress?.({ file: path, loaded: bytes.length, total: bytes.length });
      return bytes && new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
  };
}

/** The cache directory `cache: true` means in Node. */
export function defaultCacheDirectory(): string {
  const base = process.env.XDG_CACHE_HOME || join(process.env.HOME || process.cwd(), '.cache');
  return join(base, 'megabyte');
}

/** Files beside `url`, downloaded once into the cache directory (host/path), written atomically. */
function cachedUrlLister(url: URL, options: ReadModelOptions): FileLister {
  const directory = directoryOfUrl(url);
  const cacheRoot = options.cache === true ? defaultCacheDirectory() : options.cache || undefined;
  return {
    location: directory.href.replace(/\/$/, ''),
    read: async (name, readOptions) => {
      const fileUrl = siblingUrl(name, directory, url);
      // host/[query/]path: another version (?v=...) of the same file is another entry
      const cached =
        cacheRoot &&
        join(
          cacheRoot,
          fileUrl.host,
          encodeURIComponent(fileUrl.search),
          decodeURIComponent(fileUrl.pathname),
        );
      if (cached) {
        const bytes = await readFile(cached).catch(() => undefined);
        if (bytes) {
          readOptions.progress?.({ file: fileUrl.href, loaded: bytes.length, total: bytes.length });
          return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        }
      }
      const bytes = (await fetchFile(fileUrl, { ...readOptions, cache: false }))?.bytes;
      if (bytes && cached) await writeAtomically(cached, bytes);
      return bytes;
    },
  };
}

async function writeAtomically(path: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  await writeFile(temp, bytes);
  await rename(temp, path);
}
