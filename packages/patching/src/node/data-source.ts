import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { CorpusDocument } from '../corpus.js';
import { type ReadDirectoryOptions, readCorpusDirectory, readCorpusFile } from './corpus-files.js';
import { DATASET_NAMES, isDatasetName, type LoadDatasetOptions, loadDataset } from './datasets.js';

export interface DataSource {
  kind: 'dataset' | 'file' | 'directory';
  /** The spec as given. */
  spec: string;
  documents: CorpusDocument[];
}

export type ResolveDataSourceOptions = ReadDirectoryOptions & LoadDatasetOptions;

/**
 * Turns a command-line data argument into documents. A bare known dataset name (`brown`) loads
 * that dataset; anything else is a path: a file is one document, a directory is read recursively
 * with the include/exclude globs. Write `./brown` for a local directory that shares a dataset name.
 */
export async function resolveDataSource(
  spec: string,
  options: ResolveDataSourceOptions = {},
): Promise<DataSource> {
  if (isDatasetName(spec)) return { kind: 'dataset', spec, documents: await loadDataset(spec, options) };
  const stats = await stat(spec).catch(() => undefined);
  if (stats === undefined) {
    throw new Error(
      `data source "${spec}": no such file or directory, and not a dataset name (known datasets: ${DATASET_NAMES.join(', ')})`,
    );
  }
  if (stats.isDirectory()) {
    const documents = await readCorpusDirectory(spec, options);
    if (documents.length === 0) {
      const include = (options.include ?? ['**']).join(', ');
      const exclude = options.exclude?.length ? `, exclude: ${options.exclude.join(', ')}` : '';
      throw new Error(
        `data source "${spec}": the directory has no files matching include: ${include}${exclude}`,
      );
    }
    return { kind: 'directory', spec, documents };
  }
  return { kind: 'file', spec, documents: [{ name: basename(spec), bytes: await readCorpusFile(spec) }] };
}
