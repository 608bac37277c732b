import type * as tfCore from '@tensorflow/tfjs-core';

/** The tfjs instance in use, with its backend already initialised. Runtime packages make one. */
export interface Runtime {
  /** The tfjs-core module whose engine runs the model. */
  readonly tf: typeof tfCore;
  /** The tfjs backend name, e.g. `cpu`, `wasm`, `webgpu`, `tensorflow`. */
  readonly backend: string;
  /** One line for people: what runs the model and why it was chosen. */
  readonly description: string;
}
