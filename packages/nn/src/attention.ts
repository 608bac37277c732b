import * as tf from '@tensorflow/tfjs-core';
import { attention, type CrossPatch as CrossPatchOf } from './blocks.js';
import type { Dropout } from './dropout.js';
import type { KVCache } from './kv-cache.js';
import { Linear } from './linear.js';
import type { ParameterStore } from './parameters.js';

export { causalMask } from './scaled-dot-product.js';

export interface AttentionOptions {
  readonly dim: number;
  readonly heads: number;
  readonly bias: boolean;
  readonly std: number;
  /** Std of the output projection (scaled down by depth for residual branches). */
  readonly outputStd: number;
}

/** The paper's cross-patch attention over tfjs tensors (see `CrossPatch` in blocks.ts). */
export type CrossPatch = CrossPatchOf<number>;

/** What one attention call may use beyond its input. */
export interface AttentionContext {
  /** Keys/values of earlier positions; the new ones are appended to it. */
  readonly cache?: KVCache | undefined;
  readonly dropout?: Dropout;
  /** Rows are consecutive patches: each also attends to the end of the row before it. */
  readonly crossPatch?: CrossPatch | undefined;
}

/** Multi-head self-attention in which position t attends to positions <= t (see `attention` in blocks.ts). */
export class CausalSelfAttention {
  readonly wq: Linear;
  readonly wk: Linear;
  readonly wv: Linear;
  readonly wo: Linear;
  readonly headDim: number;

  constructor(
    private readonly store: ParameterStore,
    readonly options: AttentionOptions,
  ) {
    const { dim, heads, bias, std } = options;
    if (dim % heads !== 0) throw new Error(`attention: heads (${heads}) must divide the width (${dim})`);
    this.headDim = dim / heads;
    const projection = { inFeatures: dim, outFeatures: dim, bias };
    this.wq = new Linear(store.scope('wq'), { ...projection, std });
    this.wk = new Linear(store.scope('wk'), { ...projection, std });
    this.wv = new Linear(store.scope('wv'), { ...projection, std });
    this.wo = new Linear(store.scope('wo'), { ...projection, std: options.outputStd });
  }

  /** x [B, T, D] -> [B, T, D]. With a cache, the T positions follow the S cached ones. */
  apply(x: tf.Tensor3D, context: AttentionContext = {}): tf.Tensor3D {
    return tf.tidy(
      () =>
        attention(
          this.store.ops(context.dropout),
          this.options,
          this.store.prefix,
          x,
          context.cache,
          context.crossPatch,
        ) as tf.Tensor3D,
    );
  }
}
