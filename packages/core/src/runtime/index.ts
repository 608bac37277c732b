export {
  type BackendCandidate,
  type BackendChoice,
  type BackendStatus,
  type LoadedBackend,
  type LoadedBackendInfo,
  type LoadOptions,
  RuntimeUnavailableError,
  UnknownBackendError,
  type WasmState,
} from './backend-candidate.js';
export type { Runtime } from './runtime.js';
export {
  type BackendSelection,
  probeBackend,
  type SelectBackendOptions,
  type SkippedBackend,
  selectBackend,
} from './select-backend.js';
