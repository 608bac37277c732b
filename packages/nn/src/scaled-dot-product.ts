import * as tf from '@tensorflow/tfjs-core';
import { blockwiseCausalAttention } from './blockwise-attention.js';
import { type Dropout, NO_DROPOUT } from './dropout.js';
import { matMul } from './matmul.js';

/**
 * The fused kernel `causalAttention` runs where the active backend registers one (e.g.
 * `@megabyte/runtime-webgpu`). Inputs `{ q, k, v }`, attribute `{ past }`, outputs
 * `[out [B, H, T, Dh], logsumexp [B, H, T]]`: the second one is for the gradient.
 */
export const CAUSAL_ATTENTION_KERNEL = 'MegabyteCausalAttention';

export interface CausalAttentionOptions {
  /** Cached positions before the T new ones: query t sees keys 0 .. past + t. */
  readonly past?: number | undefined;
  /** Dropout on the attention probabilities (training only). */
  readonly dropout?: Dropout | undefined;
  /** Additive mask [B, 1, 1, past + T] (0 or a large negative) of keys that whole rows must not see. */
  readonly keyMask?: tf.Tensor4D | undefined;
}

/** Large enough that exp() of it is exactly zero in float32, finite so fully masked rows stay finite. */
const MASKED = -1e9;

/**
 * softmax(q k^T / sqrt(Dh) + causal mask) v, one head at a time.
 * q [B, H, T, Dh], k and v [B, H, past + T, Dh] -> [B, H, T, Dh].
 *
 * Runs the backend's fused kernel when it has one and the call needs nothing the kernel lacks
 * (attention dropout); otherwise the composite below, which every backend can run, or for long
 * sequences its blockwise form, which never holds the whole score matrix.
 */
export function causalAttention(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  options: CausalAttentionOptions = {},
): tf.Tensor4D {
  const { past = 0, dropout = NO_DROPOUT, keyMask } = options;
  const [batch, heads, length, headDim] = q.shape;
  const expected = [batch, heads, past + length, headDim];
  for (const [name, x] of [
    ['k', k],
    ['v', v],
  ] as const) {
    if (x.shape.some((size, i) => size !== expected[i])) {
      throw new Error(
        `causalAttention: ${name} has shape [${x.shape}], expected [${expected}] (q [${q.shape}] after ${past} cached positions)`,
      );
    }
  }
  if (dropout.rate === 0 && keyMask === undefined && hasKernel(CAUSAL_ATTENTION_KERNEL)) {
    const [out, logsumexp] = tf.engine().runKernel(
      CAUSAL_ATTENTION_KERNEL,
      { q, k, v },
      {
        past,
      },
    ) as tf.Tensor[];
    logsumexp!.dispose(); // the kernel's gradient keeps its own copy
    return out as tf.Tensor4D;
  }
  if (
    dropout.rate === 0 &&
    keyMask === undefined &&
    batch * heads * length * (past + length) > BLOCKWISE_ABOVE
  ) {
    return blockwiseCausalAttention(q, k, v, past);
  }
  return compositeCausalAttention(q, k, v, past, dropout, keyMask);
}

/**
 * Score entries (B * H * T * (past + T)) above which attention goes block by block instead of
 * holding the whole score matrix: 2^24 floats, 64 MiB per copy, of which the composite keeps several.
 */
const BLOCKWISE_ABOVE = 2 ** 24;

/** The same attention from tfjs ops: what `causalAttention` runs without a fused kernel. */
export function compositeCausalAttention(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  past = 0,
  dropout: Dropout = NO_DROPOUT,
  keyMask?: tf.Tensor4D,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [, , length, headDim] = q.shape;
    const scores = tf.mul(matMul(q, k, false, true), 1 / Math.sqrt(headDim)); // [B, H, T, S+T]
    let masked = tf.add(scores, causalMask(length, past));
    if (keyMask) masked = tf.add(masked, keyMask);
    const probs = dropout.apply(tf.softmax(masked));
    return matMul(probs, v) as tf.Tensor4D; // [B, H, T, Dh]
  });
}

/** [T, past+T] additive mask: query i (absolute position past+i) sees keys j <= past+i. */
export function causalMask(length: number, past: number): tf.Tensor2D {
  const width = past + length;
  const mask = new Float32Array(length * width);
  for (let i = 0; i < length; i++) {
    mask.fill(MASKED, i * width + past + i + 1, (i + 1) * width);
  }
  return tf.tensor2d(mask, [length, width]);
}

/** Whether the active backend registers `kernelName` (a fused kernel of some runtime). */
export function hasKernel(kernelName: string): boolean {
  return tf.getKernel(kernelName, tf.getBackend()) != null;
}
