import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  accumulateGradients,
  clipByGlobalNorm,
  disposeGradients,
  globalNorm,
  scaleGradients,
} from './clip.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Reads a scalar tensor and disposes it. */
function read(scalar: tf.Scalar): number {
  const value = scalar.dataSync()[0]!;
  scalar.dispose();
  return value;
}

function grads(): Map<string, tf.Tensor> {
  // Squares sum to 9 + 16 + 144 = 169, so the global norm is 13.
  return new Map([
    ['a', tf.tensor([3, -4])],
    ['b', tf.tensor([[12]])],
  ]);
}

describe('globalNorm', () => {
  it('is the L2 norm of all gradients as one vector', () => {
    const g = grads();
    expect(read(globalNorm(g))).toBeCloseTo(13, 5);
    expect(read(globalNorm({ x: g.get('a')! }))).toBeCloseTo(5, 6);
    expect(read(globalNorm(new Map()))).toBe(0);
    disposeGradients(g);
  });

  it('reports NaN and Infinity', () => {
    const nan = { a: tf.tensor([1, Number.NaN]) };
    const inf = { a: tf.tensor([1, Number.POSITIVE_INFINITY]) };
    expect(read(globalNorm(nan))).toBeNaN();
    expect(read(globalNorm(inf))).toBe(Number.POSITIVE_INFINITY);
    disposeGradients(nan);
    disposeGradients(inf);
  });
});

describe('clipByGlobalNorm', () => {
  it('scales to maxNorm / (norm + 1e-6) when the norm is above maxNorm', () => {
    const g = grads();
    const { grads: clipped, norm } = clipByGlobalNorm(g, 1);
    expect(read(norm)).toBeCloseTo(13, 5);
    expect(read(globalNorm(clipped))).toBeCloseTo(1, 5);
    const scale = 1 / (13 + 1e-6);
    const a = clipped.get('a')!.dataSync();
    expect(a[0]).toBeCloseTo(3 * scale, 7);
    expect(a[1]).toBeCloseTo(-4 * scale, 7);
    expect(clipped.get('b')!.shape).toEqual([1, 1]);
    expect([...g.get('a')!.dataSync()]).toEqual([3, -4]);
    disposeGradients(g);
    disposeGradients(clipped);
  });

  it('leaves gradients under maxNorm untouched, as new tensors', () => {
    const g = grads();
    const { grads: same, norm } = clipByGlobalNorm(g, 20);
    expect(read(norm)).toBeCloseTo(13, 5);
    expect([...same.get('a')!.dataSync()]).toEqual([3, -4]);
    expect([...same.get('b')!.dataSync()]).toEqual([12]);
    disposeGradients(g);
    expect([...same.get('a')!.dataSync()]).toEqual([3, -4]);
    disposeGradients(same);
  });

  it('reports a non-finite norm so the loop can stop', () => {
    const g = { a: tf.tensor([Number.POSITIVE_INFINITY, 1]) };
    const { grads: out, norm } = clipByGlobalNorm(g, 1);
    expect(read(norm)).toBe(Number.POSITIVE_INFINITY);
    // Not scaled: a scale of 0 would turn the infinite gradient into NaN and hide its origin.
    expect([...out.get('a')!.dataSync()]).toEqual([Number.POSITIVE_INFINITY, 1]);
    disposeGradients(g);
    disposeGradients(out);
  });

  it('rejects a maxNorm that is not positive', () => {
    expect(() => clipByGlobalNorm({}, 0)).toThrow('maxNorm must be a finite number > 0, got 0');
  });

  it('does not leak tensors', () => {
    const g = grads();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) {
      const clipped = clipByGlobalNorm(g, i % 2 === 0 ? 1 : 100);
      disposeGradients(clipped.grads);
      clipped.norm.dispose();
      globalNorm(g).dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    disposeGradients(g);
  });
});

describe('scaleGradients', () => {
  it('returns scaled copies and keeps the input', () => {
    const g = grads();
    const half = scaleGradients(g, 0.5);
    expect([...half.get('a')!.dataSync()]).toEqual([1.5, -2]);
    expect([...g.get('a')!.dataSync()]).toEqual([3, -4]);
    expect(() => scaleGradients(g, Number.NaN)).toThrow(/factor/);
    disposeGradients(g);
    disposeGradients(half);
  });
});

describe('accumulateGradients', () => {
  it('sums micro-batches, owning and disposing what it is given', () => {
    const before = tf.memory().numTensors;
    let sum: Map<string, tf.Tensor> | undefined;
    for (let i = 1; i <= 4; i++) {
      const micro: Record<string, tf.Tensor> = { a: tf.tensor([i, -i]) };
      if (i % 2 === 0) micro.b = tf.scalar(10);
      sum = accumulateGradients(sum, micro);
    }
    expect([...sum!.get('a')!.dataSync()]).toEqual([10, -10]);
    expect(sum!.get('b')!.dataSync()[0]).toBe(20);
    expect(tf.memory().numTensors).toBe(before + 2);
    disposeGradients(sum!);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects a shape change without touching the sum', () => {
    const sum = accumulateGradients(undefined, { a: tf.tensor([1, 2]), b: tf.scalar(1) });
    const bad = { b: tf.scalar(5), a: tf.tensor([1, 2, 3]) };
    expect(() => accumulateGradients(sum, bad)).toThrow(
      'gradient "a" has shape [3] but the running sum has [2]',
    );
    expect(sum.get('b')!.dataSync()[0]).toBe(1);
    expect(bad.b.isDisposed).toBe(false);
    disposeGradients(sum);
    disposeGradients(bad);
  });
});
