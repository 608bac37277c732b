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
  /** Rows are consecutive patches: each also attends to the end of the row before it. */
  readonly crossPatch?: CrossPatch | undefined;
}

/**
 * The paper's cross-patch attention for a model run on every patch as a batch row: each row also
 * sees the keys and values of the last `positions` positions of the row before it, unless it is
 * the first patch of its sequence. Rows are patches in order, `patchesPerSequence` per sequence;
 * `firstRow` is the index of the first given row in that numbering (when rows come in chunks).
 */
export interface CrossPatch {
  readonly positions: number;
  readonly patchesPerSequence: number;
  readonly firstRow?: number;
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
      let past = context.cache?.length ?? 0;
      if (context.cache) ({ keys: k, values: v } = context.cache.append(k, v)); // [B, H, S+T, Dh]
      let keyMask: tf.Tensor4D | undefined;
      if (context.crossPatch) {
        ({ keys: k, values: v, keyMask } = withPreviousRow(k, v, context.crossPatch)); // [B, H, r+T, Dh]
        past = context.crossPatch.positions;
      }
      const heads = causalAttention(q, k, v, { past, dropout: context.dropout, keyMask }); // [B, H, T, Dh]
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

/**
 * Keys and values [R, H, T, Dh] with the last r positions of the row before prepended to each row
 * -> [R, H, r+T, Dh], and the mask that hides those r from rows that start a sequence.
 */
function withPreviousRow(
  keys: tf.Tensor4D,
  values: tf.Tensor4D,
  crossPatch: CrossPatch,
): { keys: tf.Tensor4D; values: tf.Tensor4D; keyMask: tf.Tensor4D } {
  const { positions: r, patchesPerSequence, firstRow = 0 } = crossPatch;
  const [rows, heads, length, headDim] = keys.shape;
  if (r < 1 || r > length)
    throw new Error(`cross-patch attention: positions must be in 1..${length}, got ${r}`);
  const previous = (x: tf.Tensor4D) => {
    const tail = tf.slice(x, [0, 0, length - r, 0], [rows - 1, heads, r, headDim]); // rows 0..R-2
    const shifted = tf.concat([tf.zeros([1, heads, r, headDim]), tail], 0); // row i gets row i-1's tail
    return tf.concat([shifted, x], 2) as tf.Tensor4D;
  };
  const mask = new Float32Array(rows * (r + length));
  for (let row = 0; row < rows; row++) {
    // The first given row has no row before it here; a sequence's first patch has none at all.
    if (row === 0 || (firstRow + row) % patchesPerSequence === 0)
      mask.fill(-1e9, row * (r + length), row * (r + length) + r);
  }
  return {
    keys: previous(keys),
    values: previous(values),
    keyMask: tf.tensor4d(mask, [rows, 1, 1, r + length]),
  };
}
