import * as tf from '@tensorflow/tfjs-core';
import { Linear } from './linear.js';
import type { ParameterStore } from './parameters.js';

export type Activation = 'gelu' | 'relu';

export interface MlpOptions {
  readonly dim: number;
  readonly hiddenDim: number;
  readonly activation: Activation;
  readonly bias: boolean;
  readonly std: number;
  /** Std of the output projection (scaled down by depth for residual branches). */
  readonly outputStd: number;
}

/** Linear -> activation -> Linear. */
export class Mlp {
  readonly up: Linear;
  readonly down: Linear;

  constructor(
    store: ParameterStore,
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
    return tf.tidy(() => {
      const hidden = this.up.apply(x);
      return this.down.apply(this.options.activation === 'gelu' ? gelu(hidden) : tf.relu(hidden));
    });
  }
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/**
 * GELU, tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). The tanh form is used because
 * every tfjs backend has Tanh and its gradient, while Erf is missing on some.
 */
export function gelu<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => {
    const cube = tf.mul(tf.mul(x, x), x); // tf.pow's gradient also differentiates the exponent, at a cost
    const inner = tf.mul(tf.add(x, tf.mul(cube, 0.044715)), SQRT_2_OVER_PI);
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1)) as T;
  });
}
