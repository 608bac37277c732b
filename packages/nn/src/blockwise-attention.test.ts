import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import './register-gradients.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { blockwiseCausalAttention } from './blockwise-attention.js';
import { compositeCausalAttention } from './scaled-dot-product.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Largest difference relative to the reference's largest magnitude. */
function relative(actual: tf.Tensor, expected: tf.Tensor): number {
  const a = actual.dataSync();
  const b = expected.dataSync();
  let difference = 0;
  let scale = 1e-12;
  b.forEach((value, i) => {
    difference = Math.max(difference, Math.abs(a[i]! - value));
    scale = Math.max(scale, Math.abs(value));
  });
  return difference / scale;
}

function inputs(length: number, past: number, seed: number): tf.Tensor4D[] {
  const shape = (n: number) => [2, 3, n, 4] as [number, number, number, number];
  return [
    tf.randomNormal(shape(length), 0, 1, 'float32', seed),
    tf.randomNormal(shape(past + length), 0, 1, 'float32', seed + 1),
    tf.randomNormal(shape(past + length), 0, 1, 'float32', seed + 2),
  ];
}

describe('blockwise causal attention', () => {
  // Blocks that divide the length, that do not, one block for all, and past keys from a cache.
  it.each([
    [12, 0, 4],
    [11, 0, 3],
    [7, 0, 16],
    [9, 5, 4],
  ])('equals the composite, values and gradients: T %i, past %i, blocks of %i', (length, past, block) => {
    const [q, k, v] = inputs(length, past, length * 10 + past);
    // A random upstream gradient, so that every output element matters.
    const upstream = tf.randomNormal([2, 3, length, 4], 0, 1, 'float32', 99);
    const loss = (f: typeof compositeCausalAttention) => (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
      tf.sum(tf.mul(f(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, past), upstream));
    const blockwise = (a: tf.Tensor4D, b: tf.Tensor4D, c: tf.Tensor4D, p = 0) =>
      blockwiseCausalAttention(a, b, c, p, block);

    const expected = compositeCausalAttention(q!, k!, v!, past);
    const actual = blockwise(q!, k!, v!, past);
    expect(relative(actual, expected)).toBeLessThan(1e-5);

    const expectedGrads = tf.grads(loss(compositeCausalAttention))([q!, k!, v!]);
    const actualGrads = tf.grads(loss(blockwise))([q!, k!, v!]);
    expectedGrads.forEach((g, i) => expect(relative(actualGrads[i]!, g), `gradient ${i}`).toBeLessThan(1e-5));
    tf.dispose([q!, k!, v!, upstream, expected, actual, ...expectedGrads, ...actualGrads]);
  });

  it('never makes a tensor as large as the score matrix, forward or backward, and leaks nothing', async () => {
    const length = 256;
    const [q, k, v] = inputs(length, 0, 7);
    /** Elements of the largest tensor any kernel outputs while the gradients are computed. */
    const largest = async (f: typeof compositeCausalAttention) => {
      let grads: tf.Tensor[] = [];
      const info = await tf.profile(() => {
        grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
          tf.sum(f(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, 0)),
        )([q!, k!, v!]);
        return grads;
      });
      tf.dispose(grads);
      return Math.max(
        ...info.kernels.flatMap((kernel) => kernel.outputShapes.map((s) => s.reduce((a, b) => a * b, 1))),
      );
    };
    const before = tf.memory().numTensors;
    const scores = 2 * 3 * length * length;
    expect(await largest(compositeCausalAttention)).toBe(scores);
    // Blocks of 32: one block of scores is 1/64 of the matrix; the largest tensors left are [B, H, T, Dh].
    expect(await largest((a, b, c) => blockwiseCausalAttention(a, b, c, 0, 32))).toBeLessThanOrEqual(
      scores / 64,
    );
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([q!, k!, v!]);
  });
});
