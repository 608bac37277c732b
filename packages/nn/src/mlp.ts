import * as tf from '@tensorflow/tfjs-core';
import { type Activation, mlp } from './blocks.js';
import { Linear } from './linear.js';
import type { ParameterStore } from './parameters.js';

export type { Activation } from './blocks.js';

export interface MlpOptions {
  readonly dim: number;
  readonly hiddenDim: number;
  readonly activation: Activation;
  readonly bias: boolean;
  readonly std: number;
  /** Std of the output projection (scaled down by depth for residual branches). */
  readonly outputStd: number;
}

/** Linear -> activation -> Linear (see `mlp` in blocks.ts). */
export class Mlp {
  readonly up: Linear;
  readonly down: Linear;

  constructor(
    private readonly store: ParameterStore,
    readonly options: MlpOptions,
  ) {
    const { dim, hiddenDim, bias } = options;
    this.up = new Linear(store.scope('up'), {
      inFeatures: dim,
      outFeatures: hiddenDim,
      bias,
      std: options.std,
    });
    this.down = new Linear(store.scope('down'), {
      inFeatures: hiddenDim,
      outFeatures: dim,
      bias,
      std: options.outputStd,
    });
  }

  apply<T extends tf.Tensor>(x: T): T {
    return tf.tidy(() => mlp(this.store.ops(), this.options, this.store.prefix, x) as T);
  }
}
