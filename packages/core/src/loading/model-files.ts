// Reading a model's files from wherever they are (a URL, a directory, bytes in memory), with
// progress, cancellation and a cache, before any tensor library is involved: the tfjs loader
// (`loadModel` of this package) and the ONNX one (`loadModel` of @megabyte/onnx) both start here.
import {
  CHECKPOINT_CONFIG_FILE,
  CHECKPOINT_WEIGHTS_FILE,
  parseCheckpointConfig,
} from '../checkpoint/checkpoint.js';
import { CheckpointError } from '../checkpoint/errors.js';
import { type CacheOption, fetchFile } from './fetch-file.js';

/** The manifest format of an ONNX export (`megabyte export`), as @megabyte/onnx writes it. */
export const ONNX_MANIFEST_FORMAT = 'megabyte-onnx';

export interface LoadProgress {
  /** The file being read (its name, or its URL). */
  readonly file: string;
  /** Bytes of this file read so far. */
  readonly loaded: number;
  /** Its size, when known (Content-Length, or the size on disk). */
  readonly total: number | undefined;
}

export interface ReadModelOptions {
  /** Called as bytes arrive, per file. */
  readonly progress?: (progress: LoadProgress) => void;
  /** Aborts reading (and fetching) with the signal's reason. */
  readonly signal?: AbortSignal;
  /**
   * Keep downloaded files for next time. In browsers: Cache Storage (`true` for the cache named
   * `megabyte-models`, or a cache name). In Node (`@megabyte/core/node`): a directory path.
   */
  readonly cache?: CacheOption;
  /**
   * For an ONNX export: the graphs to read. Default: every graph its manifest lists; from a
   * directory or files in memory, those of them that are there (at least one).
   */
  readonly graphs?: readonly string[];
}

/**
 * Where a model's files come from. A string or URL names a checkpoint directory (config.json +
 * model.safetensors) or a file in it, or an ONNX export's manifest (NAME.json) or one of its
 * graphs. In memory: the files by name, e.g. `{ 'config.json': text, 'model.safetensors': bytes }`.
 */
export type ModelSource = string | URL | ModelFileMap | FileLister;

export type ModelFileMap =
  | Readonly<Record<string, Uint8Array | string>>
  | ReadonlyMap<string, Uint8Array | string>
  | readonly { readonly name: string; readonly bytes: Uint8Array }[];

/** Reads named files relative to one place (a directory, a URL, memory). */
export interface FileLister {
  /** Names the place in messages. */
  readonly location: string;
  /** The file named `name` (relative to the place), or undefined when it does not exist. */
  read(name: string, options: ReadModelOptions): Promise<Uint8Array | undefined>;
  /** The file names there, when they can be listed (directories and memory can; URLs cannot). */
  list?(): Promise<readonly string[]>;
}

export interface CheckpointModelFiles {
  readonly kind: 'checkpoint';
  /** Where the checkpoint was read from, for messages. */
  readonly source: string;
  /** The parsed config.json. */
  readonly config: Record<string, unknown>;
  /** The bytes of model.safetensors. */
  readonly weights: Uint8Array;
}

export interface OnnxModelFileSet {
  readonly kind: 'onnx';
  readonly source: string;
  /** The parsed NAME.json manifest. */
  readonly manifest: { readonly format: string; readonly graphs: Record<string, { readonly file: string }> };
  /** The graphs read, by role. */
  readonly graphs: Record<string, Uint8Array>;
}

export type ModelFiles = CheckpointModelFiles | OnnxModelFileSet;

/** Raised when a source holds no model, or a file of it is missing; says what to give instead. */
export class ModelSourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelSourceError';
  }
}

/**
 * Reads a checkpoint or an ONNX export. `source` is a URL (fetched; relative URLs against the
 * page), the files in memory, or a `FileLister`; file paths need `@megabyte/core/node`.
 */
export function readModelFiles(source: ModelSource, options: ReadModelOptions = {}): Promise<ModelFiles> {
  if (typeof source === 'string' || source instanceof URL) {
    const url = new URL(source, globalThis.location?.href);
    return readFromLister(urlLister(url, options.cache), entryOfUrl(url), options);
  }
  return readFromLister(isLister(source) ? source : memoryLister(source), undefined, options);
}

/** The model at `lister`; `entry` is the file the source pointed at (undefined: the place itself). */
export async function readFromLister(
  lister: FileLister,
  entry: string | undefined,
  options: ReadModelOptions,
): Promise<ModelFiles> {
  const kind = entry === undefined ? await detectKind(lister) : kindOfEntry(entry);
  if (kind.kind === 'onnx') return readOnnx(lister, kind.manifest, options);
  return readCheckpoint(lister, kind.weights, options);
}

type Detected = { kind: 'checkpoint'; weights: string } | { kind: 'onnx'; manifest: string };

/** What the file a source pointed at belongs to. */
function kindOfEntry(entry: string): Detected {
  if (entry === CHECKPOINT_CONFIG_FILE) return { kind: 'checkpoint', weights: CHECKPOINT_WEIGHTS_FILE };
  if (entry.endsWith('.safetensors')) return { kind: 'checkpoint', weights: entry };
  if (entry.endsWith('.json')) return { kind: 'onnx', manifest: entry };
  if (entry.endsWith('.onnx')) {
    // tiny.onnx (scoring), tiny.global.onnx, tiny.local.onnx, tiny.step.onnx: the manifest is tiny.json
    return { kind: 'onnx', manifest: entry.replace(/(\.(global|local|step))?\.onnx$/, '.json') };
  }
  throw new ModelSourceError(
    `${entry} is not a model file: give a checkpoint (its directory, config.json or model.safetensors) or an ONNX export (its NAME.json manifest)`,
  );
}

/** A checkpoint if config.json is there; else the one ONNX manifest a listing shows. */
async function detectKind(lister: FileLister): Promise<Detected> {
  const names = lister.list ? await lister.list() : undefined;
  if (names === undefined || names.includes(CHECKPOINT_CONFIG_FILE)) {
    return { kind: 'checkpoint', weights: CHECKPOINT_WEIGHTS_FILE };
  }
  if (names.includes('best') || names.includes('checkpoints')) {
    throw new ModelSourceError(
      `${lister.location} is a training run directory: give one of its checkpoints, ${lister.location}/best or ${lister.location}/checkpoints/step-N (the CLI's --model and @megabyte/trainer's resolveModelDirectory pick one for you)`,
    );
  }
  const manifests = names.filter((name) => name.endsWith('.json'));
  if (manifests.length === 1) return { kind: 'onnx', manifest: manifests[0]! };
  throw new ModelSourceError(
    manifests.length === 0
      ? `${lister.location} holds no model: expected config.json and model.safetensors (a checkpoint) or NAME.json with its .onnx files (an ONNX export); it has ${names.join(', ') || 'no files'}`
      : `${lister.location} holds several JSON files (${manifests.join(', ')}) and no config.json: name the ONNX manifest to load`,
  );
}

async function readCheckpoint(
  lister: FileLister,
  weightsName: string,
  options: ReadModelOptions,
): Promise<CheckpointModelFiles> {
  const [configBytes, weights] = await Promise.all([
    lister.read(CHECKPOINT_CONFIG_FILE, options),
    lister.read(weightsName, options),
  ]);
  const missing = [
    configBytes ? undefined : CHECKPOINT_CONFIG_FILE,
    weights ? undefined : weightsName,
  ].filter((name) => name !== undefined);
  if (missing.length > 0) {
    throw new CheckpointError(
      `cannot load ${lister.location}`,
      missing.map((name) => `${name} is missing`),
      {
        hint: 'A checkpoint is a directory with config.json and model.safetensors (as `megabyte train` and saveModel write); an ONNX export is named by its NAME.json.',
      },
    );
  }
  const config = parseCheckpointConfig(
    new TextDecoder().decode(configBytes),
    `${lister.location}/${CHECKPOINT_CONFIG_FILE}`,
  );
  return { kind: 'checkpoint', source: lister.location, config, weights: weights! };
}

async function readOnnx(
  lister: FileLister,
  manifestName: string,
  options: ReadModelOptions,
): Promise<OnnxModelFileSet> {
  const bytes = await lister.read(manifestName, options);
  if (!bytes) throw new ModelSourceError(`${lister.location}: the ONNX manifest ${manifestName} is missing`);
  let manifest: OnnxModelFileSet['manifest'];
  try {
    manifest = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new ModelSourceError(`${manifestName} is not valid JSON (${(error as Error).message})`);
  }
  if (manifest?.format !== ONNX_MANIFEST_FORMAT || typeof manifest.graphs !== 'object') {
    throw new ModelSourceError(
      `${manifestName} is not an ONNX export's manifest (expected "format": "${ONNX_MANIFEST_FORMAT}", as \`megabyte export\` writes)`,
    );
  }
  const present = lister.list ? new Set(await lister.list()) : undefined;
  const roles =
    options.graphs ??
    Object.keys(manifest.graphs).filter((role) => !present || present.has(manifest.graphs[role]!.file));
  if (roles.length === 0) {
    const files = Object.values(manifest.graphs).map((graph) => graph.file);
    throw new ModelSourceError(
      `${lister.location}: none of the graphs ${manifestName} lists (${files.join(', ')}) is there: give them together with the manifest`,
    );
  }
  const unknown = roles.filter((role) => !manifest.graphs[role]);
  if (unknown.length > 0) {
    throw new ModelSourceError(
      `${manifestName} has no ${unknown.join(', ')} graph (it lists ${Object.keys(manifest.graphs).join(', ')})`,
    );
  }
  const graphs: Record<string, Uint8Array> = {};
  await Promise.all(
    roles.map(async (role) => {
      const file = manifest.graphs[role]!.file;
      const graph = await lister.read(file, options);
      if (!graph) {
        throw new ModelSourceError(
          `${lister.location}: the ${role} graph ${file} named by ${manifestName} is missing: copy every file \`megabyte export\` wrote`,
        );
      }
      graphs[role] = graph;
    }),
  );
  return { kind: 'onnx', source: `${lister.location}/${manifestName}`, manifest, graphs };
}

function isLister(source: ModelSource): source is FileLister {
  return (
    typeof (source as FileLister).read === 'function' && typeof (source as FileLister).location === 'string'
  );
}

/** Files in memory; names may carry directories (a dropped folder): the base name counts. */
export function memoryLister(files: ModelFileMap, location = 'the given files'): FileLister {
  const entries: [string, Uint8Array | string][] = Array.isArray(files)
    ? files.map((file) => [file.name, file.bytes])
    : files instanceof Map
      ? [...files]
      : Object.entries(files as Record<string, Uint8Array | string>);
  const byName = new Map(entries.map(([name, bytes]) => [name.slice(name.lastIndexOf('/') + 1), bytes]));
  return {
    location,
    list: async () => [...byName.keys()],
    read: async (name, options) => {
      const content = byName.get(name);
      if (content === undefined) return undefined;
      const bytes = typeof content === 'string' ? new TextEncoder().encode(content) : content;
      options.progress?.({ file: name, loaded: bytes.length, total: bytes.length });
      return bytes;
    },
  };
}

/** The file a URL names, or undefined when it names a directory (ends in / or has no extension). */
export function entryOfUrl(url: URL): string | undefined {
  const last = url.pathname.slice(url.pathname.lastIndexOf('/') + 1);
  return /\.(json|onnx|safetensors)$/.test(last) ? decodeURIComponent(last) : undefined;
}

/** Files next to `url` (in its directory), fetched, through the cache when one is asked for. */
export function urlLister(url: URL, cache: CacheOption | undefined): FileLister {
  const directory = directoryOfUrl(url);
  return {
    location: directory.href.replace(/\/$/, ''),
    read: async (name, options) =>
      (await fetchFile(siblingUrl(name, directory, url), { ...options, cache }))?.bytes,
  };
}

/** The directory a URL's files are in: the URL itself when it names a directory. */
export function directoryOfUrl(url: URL): URL {
  if (entryOfUrl(url) !== undefined) return new URL('.', url);
  return url.pathname.endsWith('/') ? url : new URL(`${url.pathname}/`, url);
}

/**
 * The URL of file `name` in `directory`, with the query of the URL the model was named by: a
 * version (`?v=hash`) or a signed token applies to every file of the model.
 */
export function siblingUrl(name: string, directory: URL, source: URL): URL {
  const url = new URL(encodeURIComponent(name), directory);
  url.search = source.search;
  return url;
}
