import * as tf from '@tensorflow/tfjs-core';
import { type Dropout, NO_DROPOUT } from './dropout.js';
import { lookup } from './embedding.js';
import { matMul } from './matmul.js';
import type { AttentionFrame, Ops } from './ops.js';
import { causalAttention } from './scaled-dot-product.js';

const NORM_EPSILON = 1e-5;
/** Large enough that exp() of it is exactly zero in float32, as in the causal mask. */
const MASKED = -1e9;

/**
 * The tfjs executor of the model's definition: each op runs eagerly on the active backend, with
 * the backend's fast paths (see `matMul`, `lookup`, `causalAttention`). Sizes are numbers.
 * Callers run it inside `tf.tidy`.
 */
export class TfjsOps implements Ops<tf.Tensor, number> {
  /**
   * @param weights a parameter by its checkpoint name
   * @param dropoutMasks dropout for a training pass, on the blocks' outputs and on attention
   */
  constructor(
    private readonly weights: (name: string) => tf.Tensor,
    private readonly dropoutMasks: Dropout = NO_DROPOUT,
  ) {}

  weight(name: string): tf.Tensor {
    return this.weights(name);
  }

  size(x: tf.Tensor, axis: number): number {
    return x.shape[axis]!;
  }

  plus(a: number, b: number): number {
    return a + b;
  }

  minus(a: number, b: number): number {
    return a - b;
  }

  times(a: number, b: number): number {
    return a * b;
  }

  over(a: number, b: number): number {
    return a / b;
  }

  isZero(a: number): number {
    return a === 0 ? 1 : 0;
  }

  add(a: tf.Tensor, b: tf.Tensor | number): tf.Tensor {
    return tf.add(a, b);
  }

  mul(a: tf.Tensor, b: tf.Tensor | number): tf.Tensor {
    return tf.mul(a, b);
  }

  tanh(x: tf.Tensor): tf.Tensor {
    return tf.tanh(x);
  }

  relu(x: tf.Tensor): tf.Tensor {
    return tf.relu(x);
  }

  dropout(x: tf.Tensor): tf.Tensor {
    return this.dropoutMasks.apply(x);
  }

  /** As a 2-D product over the flattened leading axes when b is a matrix (one call, on every backend). */
  matMul(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
    if (b.rank !== 2 || a.rank === 2) return matMul(a, b);
    const [inFeatures, outFeatures] = b.shape as [number, number];
    const flat = matMul(tf.reshape(a, [-1, inFeatures]), b); // [N, out]
    return tf.reshape(flat, [...a.shape.slice(0, -1), outFeatures]);
  }

  matMulTransposed(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
    const [count, dim] = b.shape as [number, number];
    const flat = matMul(tf.reshape(a, [-1, dim]), b, false, true); // [N, count]
    return tf.reshape(flat, [...a.shape.slice(0, -1), count]);
  }

  layerNorm(x: tf.Tensor, gain: tf.Tensor, bias: tf.Tensor): tf.Tensor {
    const { mean, variance } = tf.moments(x, -1, true);
    const normalised = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, NORM_EPSILON)));
    return tf.add(tf.mul(normalised, gain), bias);
  }

  rmsNorm(x: tf.Tensor, gain: tf.Tensor): tf.Tensor {
    const meanSquare = tf.mean(tf.square(x), -1, true);
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(meanSquare, NORM_EPSILON))), gain);
  }

  /** `headDim` is q's last axis here, where the kernels read it. */
  causalAttention(
    q: tf.Tensor,
    k: tf.Tensor,
    v: tf.Tensor,
    _headDim: number,
    frame: AttentionFrame<tf.Tensor, number>,
  ): tf.Tensor {
    return causalAttention(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, {
      past: frame.past,
      dropout: this.dropoutMasks,
      keyMask: frame.keyMask as tf.Tensor4D | undefined,
    });
  }

  sequenceStartMask(
    rowsLike: tf.Tensor,
    perSequence: number,
    firstRow: number,
    hidden: number,
    keys: number,
  ): tf.Tensor {
    const rows = rowsLike.shape[0]!;
    const mask = new Float32Array(rows * keys);
    for (let row = 0; row < rows; row++) {
      if (row === 0 || (firstRow + row) % perSequence === 0)
        mask.fill(MASKED, row * keys, row * keys + hidden);
    }
    return tf.tensor4d(mask, [rows, 1, 1, keys]);
  }

  gather(table: tf.Tensor, ids: tf.Tensor): tf.Tensor {
    const vectors = lookup(table as tf.Tensor2D, tf.reshape(ids, [-1])); // [N, D]
    return tf.reshape(vectors, [...ids.shape, table.shape[1]!]);
  }

  reshape(x: tf.Tensor, shape: readonly number[]): tf.Tensor {
    return tf.reshape(
      x,
      shape.map((size, axis) => (size === 0 ? x.shape[axis]! : size)),
    );
  }

  transpose(x: tf.Tensor, perm: readonly number[]): tf.Tensor {
    return tf.transpose(x, [...perm]);
  }

  /** Empty parts (a pad patch left out, no new patches) are skipped: not every backend concatenates them. */
  concat(xs: readonly tf.Tensor[], axis: number): tf.Tensor {
    const parts = xs.filter((x) => x.size > 0);
    if (parts.length === 0) return tf.concat([...xs], axis);
    return parts.length === 1 ? parts[0]! : tf.concat(parts, axis);
  }

  slice(x: tf.Tensor, axis: number, start: number, end?: number): tf.Tensor {
    const size = x.shape[axis]!;
    const from = start < 0 ? Math.max(0, size + start) : Math.min(start, size);
    const to = end === undefined ? size : end < 0 ? Math.max(0, size + end) : Math.min(end, size);
    const begin = x.shape.map((_, i) => (i === axis ? from : 0));
    const sizes = x.shape.map((s, i) => (i === axis ? Math.max(0, to - from) : s));
    return tf.slice(x, begin, sizes);
  }

  padFront(x: tf.Tensor, before: number): tf.Tensor {
    return tf.pad(x, [
      [0, 0],
      [before, 0],
      [0, 0],
    ]);
  }

  zeros(shape: readonly number[]): tf.Tensor {
    return tf.zeros([...shape]);
  }

  constant(values: Float32Array, shape: readonly number[]): tf.Tensor {
    return tf.tensor(values, [...shape], 'float32');
  }

  repeatRows(vector: tf.Tensor, rows: number): tf.Tensor {
    return tf.tile(tf.reshape(vector, [1, 1, vector.size]), [rows, 1, 1]);
  }

  whereZero(position: number, atStart: tf.Tensor, elsewhere: tf.Tensor): tf.Tensor {
    return position === 0 ? atStart : elsewhere;
  }
}
