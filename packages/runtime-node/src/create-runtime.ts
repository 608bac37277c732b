import { cpuCandidate } from './cpu-backend.js';
import { errorMessage, RuntimeUnavailableError, UnknownBackendError } from './errors.js';
import { tfjsNodeCandidate } from './tfjs-node-backend.js';
import type { BackendCandidate, BackendStatus, LoadedBackend, NodeRuntime } from './types.js';
import { wasmCandidate } from './wasm-backend.js';

export type BuiltinBackendName = 'cpu' | 'wasm' | 'tensorflow' | 'tensorflow-gpu';

/** The built-in backends, fastest first: the order `auto` tries them in. */
export const defaultCandidates: readonly BackendCandidate[] = [
  tfjsNodeCandidate({ gpu: true }),
  tfjsNodeCandidate({ gpu: false }),
  wasmCandidate,
  cpuCandidate,
];

export interface CreateRuntimeOptions {
  /** A candidate's name, or `auto` (the default) for the fastest candidate that loads here. */
  readonly backend?: 'auto' | BuiltinBackendName | (string & {});
  /** wasm only: XNNPACK threads. Node runs tfjs-backend-wasm single-threaded whatever this says. */
  readonly threads?: number;
  /** Receives one line per decision: what `auto` skipped and why, and what was picked. */
  readonly log?: (line: string) => void;
  /**
   * The backends `backend` may name and `auto` tries, fastest first; defaults to
   * `defaultCandidates`. The extension point for backends from other packages, e.g.
   * `[webgpuCandidate, ...defaultCandidates]`.
   */
  readonly candidates?: readonly BackendCandidate[];
}

/**
 * Loads a tfjs backend, makes it the active one and returns the Runtime the model runs on.
 *
 * Create one Runtime per process, before making any tensor. A tfjs backend is global to its
 * engine: creating another Runtime switches every holder of the previous one to the new backend,
 * and tensors made before the switch live on the old backend's memory until tfjs copies them
 * over on first use, which is slow and keeps both copies alive.
 */
export async function createRuntime(options: CreateRuntimeOptions = {}): Promise<NodeRuntime> {
  const { backend = 'auto', threads, log = () => {}, candidates = defaultCandidates } = options;
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) {
    throw new RangeError(`createRuntime: threads must be a positive integer, got ${threads}.`);
  }
  const runtime =
    backend === 'auto'
      ? await pickFastest(candidates, threads, log)
      : await loadNamed(backend, candidates, threads, log);
  if (threads !== undefined && runtime.wasm === undefined) {
    log(`${runtime.name}: threads=${threads} ignored: only the wasm backend takes a thread count`);
  }
  log(`runtime: ${runtime.description}`);
  return runtime;
}

async function loadNamed(
  name: string,
  candidates: readonly BackendCandidate[],
  threads: number | undefined,
  log: (line: string) => void,
): Promise<NodeRuntime> {
  const candidate = candidates.find((c) => c.name === name);
  if (!candidate) throw new UnknownBackendError(name, ['auto', ...candidates.map((c) => c.name)]);
  const loaded = await candidate.load({ threads, log });
  return toRuntime(candidate, loaded, 'asked for by name');
}

async function pickFastest(
  candidates: readonly BackendCandidate[],
  threads: number | undefined,
  log: (line: string) => void,
): Promise<NodeRuntime> {
  const skipped: string[] = [];
  const skip = (candidate: BackendCandidate, why: string) => {
    skipped.push(`${candidate.name}: ${why}`);
    log(`auto: skipping ${candidate.name}: ${why}`);
  };
  for (const candidate of candidates) {
    const status = await safeProbe(candidate);
    if (!status.available || status.passOver !== undefined) {
      skip(candidate, status.passOver ?? status.reason);
      continue;
    }
    try {
      const loaded = await candidate.load({ threads, log });
      const reason =
        skipped.length === 0
          ? 'picked by auto: the fastest backend'
          : `picked by auto: the fastest that loads here (skipped ${skipped.join('; ')})`;
      return toRuntime(candidate, loaded, reason);
    } catch (error) {
      // Candidates from other packages throw their own error types; auto's job is to find one that works.
      skip(candidate, errorMessage(error));
    }
  }
  throw new RuntimeUnavailableError('auto', `No backend could be loaded: ${skipped.join('; ')}.`);
}

function toRuntime(candidate: BackendCandidate, loaded: LoadedBackend, reason: string): NodeRuntime {
  const label =
    loaded.backend === candidate.name
      ? candidate.name
      : `${candidate.name} (tfjs backend '${loaded.backend}')`;
  const description = `${label}: ${candidate.packageName} ${loaded.version}, ${loaded.details}; ${reason}`;
  return {
    tf: loaded.tf,
    backend: loaded.backend,
    description,
    name: candidate.name,
    packageName: candidate.packageName,
    version: loaded.version,
    reason,
    ...(loaded.wasm && { wasm: loaded.wasm }),
  };
}

async function safeProbe(candidate: BackendCandidate): Promise<BackendStatus> {
  try {
    return await candidate.probe();
  } catch (error) {
    return { available: false, reason: `checking it failed: ${errorMessage(error)}` };
  }
}

export interface BackendListing extends BackendStatus {
  readonly name: string;
}

/**
 * What each candidate's status is here, for `megabyte info`. Loads nothing native and leaves the
 * active backend alone (wasm is imported to read its SIMD support, which only registers it).
 */
export async function listBackends(
  options: Pick<CreateRuntimeOptions, 'candidates'> = {},
): Promise<BackendListing[]> {
  const { candidates = defaultCandidates } = options;
  return Promise.all(candidates.map(async (c) => ({ name: c.name, ...(await safeProbe(c)) })));
}
