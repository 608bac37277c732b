import * as tf from '@tensorflow/tfjs-core';
import { linear } from './blocks.js';
import type { ParameterStore } from './parameters.js';

export interface LinearOptions {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly bias: boolean;
  /** Standard deviation of the weight initialisation. */
  readonly std: number;
}

/** y = x W + b over the last axis, for inputs of any rank. */
export class Linear {
  readonly weight: tf.Variable; // [in, out]
  readonly bias: tf.Variable | undefined; // [out]

  constructor(
    private readonly store: ParameterStore,
    readonly options: LinearOptions,
  ) {
    this.weight = store.add(
      'weight',
      [options.inFeatures, options.outFeatures],
      { kind: 'normal', std: options.std },
      { decay: true },
    );
    this.bias = options.bias
      ? store.add('bias', [options.outFeatures], { kind: 'zeros' }, { decay: false })
      : undefined;
  }

  apply<T extends tf.Tensor>(x: T): T {
    return tf.tidy(() => linear(this.store.ops(), this.store.prefix, x, this.options.bias) as T);
  }
}
