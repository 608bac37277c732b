export { cpuCandidate } from './cpu-backend.js';
export {
  type BackendListing,
  type BuiltinBackendName,
  type CreateRuntimeOptions,
  createRuntime,
  defaultCandidates,
  listBackends,
} from './create-runtime.js';
export { RuntimeUnavailableError, UnknownBackendError } from './errors.js';
export { type TfjsNodeCandidateOptions, tfjsNodeCandidate } from './tfjs-node-backend.js';
export type {
  BackendCandidate,
  BackendStatus,
  LoadedBackend,
  LoadOptions,
  NodeRuntime,
  WasmState,
} from './types.js';
export { wasmCandidate } from './wasm-backend.js';
