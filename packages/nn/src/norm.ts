import * as tf from '@tensorflow/tfjs-core';
import { type NormKind, norm } from './blocks.js';
import type { ParameterStore } from './parameters.js';

export type { NormKind } from './blocks.js';

export interface Norm {
  apply<T extends tf.Tensor>(x: T): T;
}

/** LayerNorm over the last axis, with a learned gain and bias. */
export class LayerNorm implements Norm {
  readonly gain: tf.Variable;
  readonly bias: tf.Variable;

  constructor(
    private readonly store: ParameterStore,
    dim: number,
  ) {
    this.gain = store.add('weight', [dim], { kind: 'ones' }, { decay: false });
    this.bias = store.add('bias', [dim], { kind: 'zeros' }, { decay: false });
  }

  apply<T extends tf.Tensor>(x: T): T {
    return tf.tidy(() => norm(this.store.ops(), 'layernorm', this.store.prefix, x) as T);
  }
}

/** RMSNorm over the last axis: no centring and no bias. */
export class RMSNorm implements Norm {
  readonly gain: tf.Variable;

  constructor(
    private readonly store: ParameterStore,
    dim: number,
  ) {
    this.gain = store.add('weight', [dim], { kind: 'ones' }, { decay: false });
  }

  apply<T extends tf.Tensor>(x: T): T {
    return tf.tidy(() => norm(this.store.ops(), 'rmsnorm', this.store.prefix, x) as T);
  }
}

export function createNorm(kind: NormKind, store: ParameterStore, dim: number): Norm {
  return kind === 'layernorm' ? new LayerNorm(store, dim) : new RMSNorm(store, dim);
}
