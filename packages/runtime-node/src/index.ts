// The backend contract lives in @megabyte/core (browser-safe); it is re-exported here so that
// Node callers find everything about runtimes in one import.
export type {
  BackendCandidate,
  BackendStatus,
  LoadedBackend,
  LoadOptions,
  WasmState,
} from '@megabyte/core';
export { RuntimeUnavailableError, UnknownBackendError } from '@megabyte/core';
export { cpuCandidate } from './cpu-backend.js';
export {
  type BackendListing,
  type BuiltinBackendName,
  type CreateRuntimeOptions,
  createRuntime,
  defaultCandidates,
  listBackends,
} from './create-runtime.js';
export { type TfjsNodeCandidateOptions, tfjsNodeCandidate } from './tfjs-node-backend.js';
export type { NodeRuntime } from './types.js';
export { wasmCandidate } from './wasm-backend.js';
