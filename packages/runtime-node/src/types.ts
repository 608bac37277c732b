import type { Runtime, WasmState } from '@megabyte/core';

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
