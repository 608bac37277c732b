import * as tf from '@tensorflow/tfjs-core';
import type { ParameterStore } from './parameters.js';

export type NormKind = 'layernorm' | 'rmsnorm';

export interface Norm {
  apply<T extends tf.Tensor>(x: T): T;
}

const EPSILON = 1e-5;

/** LayerNorm over the last axis, with a learned gain and bias. */
export class LayerNorm implements Norm {
  readonly gain: tf.Variable;
  readonly bias: tf.Variable;

  constructor(store: ParameterStore, dim: number) {
    this.gain = store.add('weight', [dim], { kind: 'ones' }, { decay: false });
    this.bias = store.add('bias', [dim], { kind: 'zeros' }, { decay: false });
  }

  apply<T extends tf.Tensor>(x: T): T {
    return tf.tidy(() => {
      const { mean, variance } = tf.moments(x, -1, true);
      const normalised = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, EPSILON)));
      return tf.add(tf.mul(normalised, this.gain), this.bias) as T;
    });
  }
}

/** RMSNorm over the last axis: no centring and no bias. */
export class RMSNorm implements Norm {
  readonly gain: tf.Variable;

  constructor(store: ParameterStore, dim: number) {
    this.gain = store.add('weight', [dim], { kind: 'ones' }, { decay: false });
  }

  apply<T extends tf.Tensor>(x: T): T {
    return tf.tidy(() => {
      const meanSquare = tf.mean(tf.square(x), -1, true);
      return tf.mul(tf.mul(x, tf.rsqrt(tf.add(meanSquare, EPSILON))), this.gain) as T;
    });
  }
}

export function createNorm(kind: NormKind, store: ParameterStore, dim: number): Norm {
  return kind === 'layernorm' ? new LayerNorm(store, dim) : new RMSNorm(store, dim);
}
