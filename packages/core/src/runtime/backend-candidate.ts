import type * as TfCore from '@tensorflow/tfjs-core';

// The contract between whoever picks a backend (`selectBackend`: the CLI, the web worker) and the
// packages that provide one (runtime-node's cpu, wasm and tfjs-node; runtime-webgpu's WebGPU).
// Browser-safe: nothing here loads a backend.

/** What a caller asks for: a candidate's name, or `auto` for the fastest one that loads here. */
export type BackendChoice<Name extends string = string> = 'auto' | Name;

/** Whether a backend can be loaded here, found without making it the active backend. */
export interface BackendStatus {
  readonly available: boolean;
  /** One short clause for people, e.g. `@tensorflow/tfjs-node is not installed`. */
  readonly reason: string;
  /**
   * Set when the backend works but `auto` should prefer the next one, and why: e.g. WebGPU on a
   * software adapter (SwiftShader) runs slower than wasm on the same CPU. Asking by name still loads it.
   */
  readonly passOver?: string;
}

export interface LoadOptions {
  /** wasm: XNNPACK thread count; other backends ignore it. */
  readonly threads?: number;
  readonly log: (line: string) => void;
}

export interface WasmState {
  readonly simd: boolean;
  /** The XNNPACK thread count the backend reports after initialisation. */
  readonly threads: number;
}

/** What any loaded backend says about itself, whatever it runs (tfjs, onnxruntime). */
export interface LoadedBackendInfo {
  /** The name the engine knows it by, e.g. tfjs's `tf.getBackend()` or an execution provider. */
  readonly backend: string;
  /** The version of the candidate's package. */
  readonly version: string;
  /** One clause on how it runs, e.g. `SIMD on, 1 thread`. */
  readonly details: string;
}

/** A tfjs backend made active on a tfjs engine. */
export interface LoadedBackend extends LoadedBackendInfo {
  /** The tfjs-core module the backend registered with: the model must run its ops on this one. */
  readonly tf: typeof TfCore;
  readonly wasm?: WasmState;
}

/**
 * One backend that `selectBackend` can load. Runtime packages provide them (runtime-node's
 * `defaultCandidates`, runtime-webgpu's `webgpuCandidate`); a list of them, fastest first, is
 * what `auto` tries in order.
 */
export interface BackendCandidate<Loaded extends LoadedBackendInfo = LoadedBackend> {
  /** The name a caller asks for, e.g. `wasm`. */
  readonly name: string;
  /** The npm package that provides it. */
  readonly packageName: string;
  /** Cheap check for listings and `auto`; must not switch the active backend, never throws. */
  probe(): Promise<BackendStatus>;
  /** Loads and activates the backend; throws (e.g. `RuntimeUnavailableError`) when it cannot run here. */
  load(options: LoadOptions): Promise<Loaded>;
}

/** A backend that cannot run in this process: not installed, failed to load, or failed to start. */
export class RuntimeUnavailableError extends Error {
  override readonly name: string = 'RuntimeUnavailableError';

  constructor(
    /** The backend name that was asked for, e.g. `tensorflow-gpu`. */
    readonly backend: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A backend name that no candidate has. */
export class UnknownBackendError extends Error {
  override readonly name = 'UnknownBackendError';

  constructor(
    readonly backend: string,
    readonly accepted: readonly string[],
  ) {
    super(`Unknown backend '${backend}': expected one of ${accepted.map((n) => `'${n}'`).join(', ')}.`);
  }
}
