import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { CorpusDocument } from '../corpus.js';
import { globToRegExp } from './glob.js';

/** The bytes of one file, as one corpus document. */
export async function readCorpusFile(path: string): Promise<Uint8Array> {
  const bytes = await readFile(path);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export interface ReadDirectoryOptions {
  /** Globs (relative to the directory, '/'-separated) a file must match one of; default every file. */
  include?: readonly string[];
  /** Globs that remove files the include globs matched. */
  exclude?: readonly string[];
  /** Also visit files and directories whose name starts with '.' (default false). */
  includeHidden?: boolean;
}

/**
 * Every matching file under `directory`, recursively, as documents named by their relative path
 * and sorted by it (code-unit order, so the result is the same on every machine). Symbolic links
 * to files are read; symbolic links to directories are not followed, which rules out cycles.
 */
export async function readCorpusDirectory(
  directory: string,
  options: ReadDirectoryOptions = {},
): Promise<CorpusDocument[]> {
  // One file at a time: a directory of many thousands of files must not exhaust file descriptors.
  const documents: CorpusDocument[] = [];
  for (const name of await listCorpusFiles(directory, options))
    documents.push({ name, bytes: await readCorpusFile(join(directory, name)) });
  return documents;
}

/** The relative paths readCorpusDirectory would read, in the same order, without reading them. */
export async function listCorpusFiles(
  directory: string,
  options: ReadDirectoryOptions = {},
): Promise<string[]> {
  const include = (options.include ?? ['**']).map(globToRegExp);
  const exclude = (options.exclude ?? []).map(globToRegExp);
  const relativePaths: string[] = [];
  const visit = async (relativeDirectory: string): Promise<void> => {
    const entries = await readdir(join(directory, relativeDirectory), { withFileTypes: true });
    for (const entry of entries) {
      if (!options.includeHidden && entry.name.startsWith('.')) continue;
      const relativePath = relativeDirectory === '' ? entry.name : `${relativeDirectory}/${entry.name}`;
      if (entry.isDirectory()) {
        await visit(relativePath);
        continue;
      }
      const isFile =
        entry.isFile() || (entry.isSymbolicLink() && (await stat(join(directory, relativePath))).isFile());
      if (
        isFile &&
        include.some((glob) => glob.test(relativePath)) &&
        !exclude.some((glob) => glob.test(relativePath))
      ) {
        relativePaths.push(relativePath);
      }
    }
  };
  await visit('');
  return relativePaths.sort((left, right) => (left < right ? -1 : left > right ? 1 : 0));
}

/**
 * The file's bytes in chunks of exactly `chunkSize` (the last may be shorter), read on demand, for
 * files larger than memory. Each chunk is a fresh array the caller may keep.
 */
export async function* streamFileChunks(path: string, chunkSize: number): AsyncGenerator<Uint8Array> {
  if (!Number.isInteger(chunkSize) || chunkSize < 1) {
    throw new RangeError(`streamFileChunks: chunk size must be a positive integer, got ${chunkSize}`);
  }
  const file = await open(path, 'r');
  try {
    for (;;) {
      const chunk = new Uint8Array(chunkSize);
      let filled = 0;
      while (filled < chunkSize) {
        const { bytesRead } = await file.read(chunk, filled, chunkSize - filled, null);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      if (filled > 0) yield filled === chunkSize ? chunk : chunk.slice(0, filled);
      if (filled < chunkSize) return;
    }
  } finally {
    await file.close();
  }
}
