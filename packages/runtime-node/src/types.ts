import type { Runtime } from '@megabyte/core';
import type * as TfCore from '@tensorflow/tfjs-core';

/** A Runtime made by this package, with what `megabyte info` and benchmarks want to print. */
export interface NodeRuntime extends Runtime {
  /**
   * The name it was asked for or picked under. It differs from `backend` for `tensorflow-gpu`,
   * whose tfjs backend is also called `tensorflow`.
   */
  readonly name: string;
  /** The npm package that provides the backend. */
  readonly packageName: string;
  /** That package's version. */
  readonly version: string;
  /** Why this backend runs: asked for explicitly, or what `auto` skipped before it. */
  readonly reason: string;
  /** Present for wasm only: what the WebAssembly build actually runs with. */
  readonly wasm?: WasmState;
}

export interface WasmState {
  readonly simd: boolean;
  /** The XNNPACK thread count the backend reports after initialisation. */
  readonly threads: number;
}

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

/** A backend made active on a tfjs engine, before `createRuntime` adds the reason it was chosen. */
export interface LoadedBackend {
  /** The tfjs-core module the backend registered with: the model must run its ops on this one. */
  readonly tf: typeof TfCore;
  /** The tfjs backend name, as `tf.getBackend()` reports it. */
  readonly backend: string;
  readonly version: string;
  /** One clause on how it runs, e.g. `SIMD on, 1 thread`. */
  readonly details: string;
  readonly wasm?: WasmState;
}

/**
 * One backend `createRuntime` knows how to load. The built-in ones are in `defaultCandidates`;
 * another package (e.g. a WebGPU runtime) plugs in by passing its own candidate in `candidates`.
 */
export interface BackendCandidate {
  /** The name `createRuntime({ backend })` accepts, e.g. `wasm`. */
  readonly name: string;
  /** The npm package that provides it. */
  readonly packageName: string;
  /** Cheap check for `listBackends` and `auto`; must not switch the active backend, never throws. */
  probe(): Promise<BackendStatus>;
  /** Loads and activates the backend; throws `RuntimeUnavailableError` when it cannot run here. */
  load(options: LoadOptions): Promise<LoadedBackend>;
}
