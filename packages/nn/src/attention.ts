import * as tf from '@tensorflow/tfjs-core';
import type { Dropout } from './dropout.js';
import type { KVCache } from './kv-cache.js';
import { Linear } from './linear.js';
import type { ParameterStore } from './parameters.js';
import { causalAttention } from './scaled-dot-product.js';

export { causalMask } from './scaled-dot-product.js';

export interface AttentionOptions {
  readonly dim: number;
  readonly heads: number;
  readonly bias: boolean;
  readonly std: number;
  /** Std of the output projection (scaled down by depth for residual branches). */
  readonly outputStd: number;
}

/** What one attention call may use beyond its input. */
export interface AttentionContext {
  /** Keys/values of earlier positions; the new ones are appended to it. */
  readonly cache?: KVCache | undefined;
  readonly dropout?: Dropout;
}

/** Multi-head self-attention in which position t attends to positions <= t. */
export class CausalSelfAttention {
  readonly wq: Linear;
  readonly wk: Linear;
  readonly wv: Linear;
  readonly wo: Linear;
  readonly headDim: number;

  constructor(
    store: ParameterStore,
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
    return tf.tidy(() => {
      const [batch, length] = x.shape;
      const q = this.splitHeads(this.wq.apply(x)); // [B, H, T, Dh]
      let k = this.splitHeads(this.wk.apply(x)); // [B, H, T, Dh]
      let v = this.splitHeads(this.wv.apply(x));
      const past = context.cache?.length ?? 0;
      if (context.cache) ({ keys: k, values: v } = context.cache.append(k, v)); // [B, H, S+T, Dh]
      const heads = causalAttention(q, k, v, { past, dropout: context.dropout }); // [B, H, T, Dh]
      const merged: tf.Tensor3D = tf.reshape(tf.transpose(heads, [0, 2, 1, 3]), [
        batch,
        length,
        this.options.dim,
      ]);
      return this.wo.apply(merged);
    });
  }

  /** [B, T, D] -> [B, H, T, Dh] */
  private splitHeads(x: tf.Tensor3D): tf.Tensor4D {
    const [batch, length] = x.shape;
    return tf.transpose(tf.reshape(x, [batch, length, this.options.heads, this.headDim]), [0, 2, 1, 3]);
  }
}
