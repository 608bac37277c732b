import {
  type BackendCandidate,
  type BackendChoice,
  type BackendStatus,
  probeBackend,
  selectBackend,
} from '@megabyte/core';
import { cpuCandidate } from './cpu-backend.js';
import { tfjsNodeCandidate } from './tfjs-node-backend.js';
import type { NodeRuntime } from './types.js';
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
  readonly backend?: BackendChoice<BuiltinBackendName | (string & {})>;
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
 * Loads a tfjs backend, makes it the active one and returns the Runtime the model runs on. The
 * choice itself is @megabyte/core's `selectBackend`, which the browser demo uses too.
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
  const { candidate, loaded, reason, description } = await selectBackend(candidates, {
    backend,
    ...(threads !== undefined && { threads }),
    log,
  });
  if (threads !== undefined && loaded.wasm === undefined) {
    log(`${candidate.name}: threads=${threads} ignored: only the wasm backend takes a thread count`);
  }
  log(`runtime: ${description}`);
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
  return Promise.all(candidates.map(async (c) => ({ name: c.name, ...(await probeBackend(c)) })));
}
