import * as tf from '@tensorflow/tfjs-core';
import '@megabyte/nn/gradients';
import { relativeError } from '@megabyte/core/testing';
import { matMul } from '@megabyte/nn';
import { describe, expect, it } from 'vitest';
import { createRuntime } from './index.js';

/** Product and both gradients of sum(matMul(a, b) * w), read back to arrays; 256^3 per matrix takes the loop. */
function productAndGradients(transposeB: boolean, multiply: typeof matMul): Float32Array[] {
  return tf.tidy(() => {
    const a = tf.randomNormal([2, 1, 256, 256], 0, 1, 'float32', 1);
    const b = tf.randomNormal([2, 1, 256, 256], 0, 1, 'float32', 2);
    const w = tf.randomNormal([2, 1, 256, 256], 0, 1, 'float32', 3);
    const f = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(multiply(x, y, false, transposeB), w));
    const [da, db] = tf.grads(f)([a, b]);
    return [multiply(a, b, false, transposeB), da!, db!].map((t) => t.dataSync() as Float32Array);
  });
}

describe('matMul on wasm (explicit transposes, large batched products matrix by matrix)', () => {
  it.each([false, true])(
    'matches tf.matMul on cpu, with its gradients (transposeB %s)',
    async (transposeB) => {
      await createRuntime({ backend: 'cpu' });
      const reference = productAndGradients(transposeB, (x, y, ta, tb) => tf.matMul(x, y, ta, tb));
      await createRuntime({ backend: 'wasm' });
      const measured = productAndGradients(transposeB, matMul);
      measured.forEach((values, i) => expect(relativeError(values, reference[i]!)).toBeLessThan(1e-5));
    },
  );
});
