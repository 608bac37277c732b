import { join } from 'node:path';
import type { CorpusDocument } from '../corpus.js';
import { splitCorpus } from '../corpus.js';
import { Rng } from '../rng.js';
import { listCorpusFiles, type ReadDirectoryOptions, readCorpusFile } from './corpus-files.js';

/** A file a media loader could not use, and why. */
export interface SkippedFile {
  name: string;
  reason: string;
}

/** Options every media loader shares. */
export interface MediaSplitOptions {
  /** Share of the files held out for validation (default 0.05; 0 holds none out). */
  validationFraction?: number;
  /** Keep at most this many files: a seeded sample of the matching files, read in path order. */
  limit?: number;
  /** Seed of the `limit` sample (the split itself always uses splitCorpus's seed 0, as `train` does). */
  seed?: number;
}

/** Train and validation documents of a media data set: one file = one document. */
export interface MediaDataset {
  /** The directory read. */
  directory: string;
  train: CorpusDocument[];
  validation: CorpusDocument[];
  /** Matching files that could not be decoded (they are left out). */
  skipped: SkippedFile[];
}

/** The paths to read: all of them, or a seeded sample of `limit`, in path order. */
export function sampleFiles(paths: readonly string[], options: MediaSplitOptions, caller: string): string[] {
  const { limit } = options;
  if (limit === undefined || limit >= paths.length) return [...paths];
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(`${caller}: limit must be a positive integer, got ${limit}`);
  }
  const chosen = new Rng(options.seed ?? 0)
    .shuffle(paths.map((_, index) => index))
    .slice(0, limit)
    .sort((left, right) => left - right);
  return chosen.map((index) => paths[index]!);
}

/**
 * Holds out whole files with the rule `megabyte train` uses for any directory (splitCorpus,
 * seed 0), so training, evaluation and generation agree on which files were never trained on.
 */
export function splitMediaDocuments(
  documents: CorpusDocument[],
  validationFraction: number,
  caller: string,
): { train: CorpusDocument[]; validation: CorpusDocument[] } {
  if (!(validationFraction >= 0 && validationFraction < 1)) {
    throw new RangeError(`${caller}: validationFraction must be in [0, 1), got ${validationFraction}`);
  }
  if (validationFraction === 0 || documents.length < 2) return { train: documents, validation: [] };
  const held = new Set(
    splitCorpus(
      documents.map((document) => document.bytes),
      { validationFraction, seed: 0 },
    ).validationDocuments,
  );
  return {
    train: documents.filter((_, index) => !held.has(index)),
    validation: documents.filter((_, index) => held.has(index)),
  };
}

/** What a media loader says about its files: their glob, their kind, and how one becomes model bytes. */
export interface MediaFiles {
  /** Files read by default (the caller's `include` replaces it), e.g. `['**\/*.{png,PNG}']`. */
  readonly include: readonly string[];
  /** The files' kind for messages, e.g. `PNG`. */
  readonly kind: string;
  /** Extra advice when there are none, e.g. "convert other formats to PNG first". */
  readonly noneHint?: string;
  /** One file's bytes -> the document's model bytes; throws for a file that cannot be used. */
  readonly convert: (file: Uint8Array) => Uint8Array;
}

/**
 * The shared body of every media loader: lists the matching files under `directory`, samples
 * `limit` of them, converts each (a file that fails is skipped with its reason), and holds out
 * whole files for validation.
 */
export async function readMediaDocuments(
  directory: string,
  options: MediaSplitOptions & ReadDirectoryOptions,
  files: MediaFiles,
  caller: string,
): Promise<Omit<MediaDataset, 'directory'>> {
  const paths = await listCorpusFiles(directory, {
    ...options,
    include: options.include ?? [...files.include],
  });
  if (paths.length === 0) {
    throw new Error(
      `${caller}: no ${files.kind} files under ${directory}${files.noneHint ? ` (${files.noneHint})` : ''}`,
    );
  }
  const documents: CorpusDocument[] = [];
  const skipped: SkippedFile[] = [];
  for (const name of sampleFiles(paths, options, caller)) {
    try {
      documents.push({ name, bytes: files.convert(await readCorpusFile(join(directory, name))) });
    } catch (error) {
      skipped.push({ name, reason: (error as Error).message });
    }
  }
  if (documents.length === 0) {
    throw new Error(
      `${caller}: none of the ${skipped.length} files could be read; first: ${join(directory, skipped[0]!.name)}: ${skipped[0]!.reason}`,
    );
  }
  return { skipped, ...splitMediaDocuments(documents, options.validationFraction ?? 0.05, caller) };
}
