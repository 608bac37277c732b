import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { type ByteModel, createModel, idsTensor } from '@megabyte/core';
import { microMegabyteConfig, microTransformerConfig } from '@megabyte/core/testing';
import { encodeText } from '@megabyte/patching';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVALUATION_MODES, evaluateStream } from './evaluate.js';

// A large init std makes the predictions depend clearly on the context, so scoring a byte from the
// wrong window or position shows up as a different number.
const MICRO = microMegabyteConfig({ dropout: 0.1, initStd: 0.5 });
const BASELINE = microTransformerConfig({ initStd: 0.5 });
const T = MICRO.contextLength;
const P = MICRO.patchSize;

/** About three windows of text, not a whole number of windows or patches. */
const IDS = Int32Array.from(
  encodeText('Strided inference scores each byte twice; keep the better one!').subarray(0, 3 * T + 5),
);

let model: ByteModel;

beforeAll(async () => {
  await tf.setBackend('cpu');
  model = createModel(MICRO, { seed: 3 });
});

afterAll(() => {
  model.dispose();
});

/** -log2 p(ids[start + p]) for every position p of the window [start, start + length), from one forward pass. */
function windowSurprisal(m: ByteModel, ids: Int32Array, start: number, length: number): Float32Array {
  return tf.tidy(() => {
    const window = ids.subarray(start, start + length);
    const logProbs = tf.reshape(tf.logSoftmax(m.forward(idsTensor(window, 1, length))), [length, -1]);
    const values = logProbs.arraySync() as number[][];
    return Float32Array.from(window, (id, p) => -values[p]![id]! / Math.LN2);
  });
}

/** The surprisal of every byte taken from the window `source(x)` = its start, computed directly. */
function direct(m: ByteModel, ids: Int32Array, source: (x: number) => number): Float32Array {
  const out = new Float32Array(ids.length);
  const cache = new Map<number, Float32Array>();
  for (let x = 0; x < ids.length; x++) {
    const start = source(x);
    expect(x - start).toBeGreaterThanOrEqual(0);
    expect(x - start).toBeLessThan(T);
    if (!cache.has(start)) {
      cache.set(start, windowSurprisal(m, ids, start, Math.min(T, ids.length - start)));
    }
    out[x] = cache.get(start)![x - start]!;
  }
  return out;
}

function expectClose(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  const worst = actual.reduce((max, value, i) => Math.max(max, Math.abs(value - expected[i]!)), 0);
  expect(worst).toBeLessThan(1e-4);
}

function mean(values: Float32Array): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

describe('evaluateStream', () => {
  it('windows: scores every id exactly once, as a forward pass over each window does', async () => {
    const result = await evaluateStream(model, IDS, { batchSize: 2 });
    expect(result.mode).toBe('windows');
    expect(result.bytes).toBe(IDS.length);
    expect(result.surprisal.some(Number.isNaN)).toBe(false);
    expect(result.costMultiple).toBe(1);
    expectClose(
      result.surprisal,
      direct(model, IDS, (x) => Math.floor(x / T) * T),
    );
    expect(result.bitsPerByte).toBeCloseTo(mean(result.surprisal), 5);
    // The context matters in this model: the score is not a property of the byte alone.
    const shifted = await evaluateStream(model, IDS.subarray(1));
    expect(Math.abs(shifted.surprisal[T - 1]! - result.surprisal[T]!)).toBeGreaterThan(1e-3);
  });

  it('gives the same result whatever the batch size, and reports progress', async () => {
    const progress: Array<[number, number]> = [];
    const one = await evaluateStream(model, IDS, {
      batchSize: 1,
      onProgress: (done, total) => progress.push([done, total]),
    });
    const all = await evaluateStream(model, IDS, { batchSize: 8 });
    expectClose(one.surprisal, all.surprisal);
    expect(progress).toEqual([
      [1, 4],
      [2, 4],
      [3, 4],
      [4, 4],
    ]);
  });

  it('sliding with stride = T equals windows', async () => {
    const windows = await evaluateStream(model, IDS, { mode: 'windows' });
    const sliding = await evaluateStream(model, IDS, { mode: 'sliding', stride: T });
    expectClose(sliding.surprisal, windows.surprisal);
    expect(sliding.costMultiple).toBe(1);
  });

  it('sliding with a smaller stride gives every byte after the first window at least T - stride of context', async () => {
    const stride = 4;
    const result = await evaluateStream(model, IDS, { mode: 'sliding', stride });
    expect(result.surprisal.some(Number.isNaN)).toBe(false);
    // Byte x >= T comes from the window that starts at k * stride with x in its last `stride` positions.
    const source = (x: number) => (x < T ? 0 : (Math.floor((x - T) / stride) + 1) * stride);
    for (let x = T; x < IDS.length; x++) expect(x - source(x)).toBeGreaterThanOrEqual(T - stride);
    expectClose(result.surprisal, direct(model, IDS, source));
    // About T / stride forward positions per byte (less on a stream this short: the first window is shared).
    expect(result.costMultiple).toBeGreaterThan(3);
    expect(result.costMultiple).toBeLessThanOrEqual(T / stride);
    const long = Int32Array.from({ length: 40 * T }, (_, i) => IDS[i % IDS.length]!);
    const longCost = (await evaluateStream(model, long, { mode: 'sliding', stride, batchSize: 32 }))
      .costMultiple;
    expect(longCost).toBeGreaterThan(0.95 * (T / stride));
    expect(longCost).toBeLessThanOrEqual(T / stride);
  });

  it('sliding defaults to a stride of T / 2', async () => {
    const byDefault = await evaluateStream(model, IDS, { mode: 'sliding' });
    const half = await evaluateStream(model, IDS, { mode: 'sliding', stride: T / 2 });
    expectClose(byDefault.surprisal, half.surprisal);
  });

  // Pass 1: windows at 0, T, 2T, ...; pass 2: windows at P/2, P/2 + T, ... The first P/2 bytes
  // exist only in pass 1.
  const firstPassOf = (x: number) => Math.floor(x / T) * T;
  const secondPassOf = (x: number) => P / 2 + Math.floor((x - P / 2) / T) * T;

  it.each([
    ['strided', 'the first half', (x: number) => x % P < P / 2],
    ['strided-late', 'the second half', (x: number) => x % P >= P / 2 || x < P / 2],
  ] as const)(
    '%s: each byte comes from the pass in which it sits in %s of its patch',
    async (mode, _, inFirstPass) => {
      const half = P / 2;
      const result = await evaluateStream(model, IDS, { mode, batchSize: 3 });
      expect(result.mode).toBe(mode);
      expect(result.surprisal.some(Number.isNaN)).toBe(false);
      const source = (x: number) => {
        if (inFirstPass(x)) return firstPassOf(x);
        const second = secondPassOf(x);
        // Where it sits in its patch of the pass it is taken from.
        const position = (x - second) % P;
        expect(mode === 'strided' ? position < half : position >= half).toBe(true);
        return second;
      };
      expectClose(result.surprisal, direct(model, IDS, source));
      expect(result.bitsPerByte).toBeCloseTo(mean(result.surprisal), 5);
      // Two passes over the stream, each window computed once.
      expect(result.costMultiple).toBeGreaterThan(1.8);
      expect(result.costMultiple).toBeLessThanOrEqual(2);
      // And the result differs from plain windows: half the bytes come from the shifted pass.
      const windows = await evaluateStream(model, IDS);
      expect(Math.abs(windows.bitsPerByte - result.bitsPerByte)).toBeGreaterThan(1e-4);
    },
  );

  it("strided takes the first P/2 bytes of each patch of the first pass, as the paper's rule says", async () => {
    const result = await evaluateStream(model, IDS, { mode: 'strided' });
    const firstPassOnly = direct(model, IDS, firstPassOf);
    for (let x = 0; x < IDS.length; x++)
      if (x % P < P / 2) expect(result.surprisal[x]).toBeCloseTo(firstPassOnly[x]!, 5);
  });

  it('works on the baseline transformer in windows and sliding modes', async () => {
    const baseline = createModel(BASELINE, { seed: 1 });
    try {
      const windows = await evaluateStream(baseline, IDS);
      expectClose(
        windows.surprisal,
        direct(baseline, IDS, (x) => Math.floor(x / T) * T),
      );
      const sliding = await evaluateStream(baseline, IDS, { mode: 'sliding', stride: 8 });
      expect(sliding.surprisal.some(Number.isNaN)).toBe(false);
    } finally {
      baseline.dispose();
    }
  });

  it('does not leak tensors', async () => {
    await evaluateStream(model, IDS, { mode: 'strided' });
    const before = tf.memory().numTensors;
    for (const mode of EVALUATION_MODES) await evaluateStream(model, IDS, { mode });
    expect(tf.memory().numTensors).toBe(before);
  });

  describe('errors', () => {
    it('rejects empty data', async () => {
      await expect(evaluateStream(model, new Int32Array(0))).rejects.toThrow(/the data to score is empty/);
    });

    it('rejects a bad sliding stride, naming the allowed range', async () => {
      for (const stride of [0, -1, 2.5, T + 1]) {
        await expect(evaluateStream(model, IDS, { mode: 'sliding', stride })).rejects.toThrow(
          new RegExp(`stride must be an integer in 1\\.\\.${T}, got ${stride}`),
        );
      }
    });

    it('rejects strided inference on the baseline transformer', async () => {
      const baseline = createModel(BASELINE, { seed: 1 });
      try {
        await expect(evaluateStream(baseline, IDS, { mode: 'strided' })).rejects.toThrow(
          /needs a patch model/,
        );
      } finally {
        baseline.dispose();
      }
    });
  });
});
