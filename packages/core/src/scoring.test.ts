import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ModelConfigInput, validateConfig } from './config.js';
import { createModel, idsTensor } from './index.js';
import { scoreBytes, scoreText, type WindowScorer } from './scoring.js';
import { microMegabyteConfig } from './testing/index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A scorer whose surprisal of byte t is the number of bytes before it in its window. */
function contextCounter(config: ModelConfigInput): WindowScorer & { windows: number[][] } {
  const windows: number[][] = [];
  return {
    config: validateConfig(config),
    windows,
    windowSurprisal: async (window) => {
      windows.push(Array.from(window));
      return Float32Array.from(window, (_, t) => t);
    },
  };
}

describe('scoreBytes', () => {
  const config = { ...microMegabyteConfig({}), contextLength: 32 }; // patches of 4

  it('slides over inputs longer than the context, scoring each byte once with the most context', async () => {
    const scorer = contextCounter(config);
    const bytes = Array.from({ length: 80 }, (_, i) => i);
    const { surprisal, bitsPerByte } = await scoreBytes(scorer, bytes, { stride: 16 });
    // windows [0,32) [16,48) [32,64) [48,80): bytes 32.. get 16..31 bytes of context
    expect(scorer.windows.map((w) => [w[0], w.length])).toEqual([
      [0, 32],
      [16, 32],
      [32, 32],
      [48, 32],
    ]);
    expect(Array.from(surprisal.subarray(0, 32))).toEqual(Array.from({ length: 32 }, (_, t) => t));
    expect(Array.from(surprisal.subarray(32))).toEqual(Array.from({ length: 48 }, (_, i) => 16 + (i % 16)));
    expect(bitsPerByte).toBeCloseTo(surprisal.reduce((a, b) => a + b, 0) / 80, 5);
  });

  it('names a stride that is not a whole number of patches', async () => {
    await expect(scoreBytes(contextCounter(config), [1, 2, 3], { stride: 6 })).rejects.toThrow(
      /stride.*multiple of the patch size 4 in 1\.\.32, got 6/,
    );
  });

  it('scores nothing for no bytes', async () => {
    expect(await scoreBytes(contextCounter(config), [])).toMatchObject({ surprisal: new Float32Array(0) });
  });

  it('stops when the signal aborts', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stopped by the user'));
    await expect(scoreBytes(contextCounter(config), [1, 2], { signal: controller.signal })).rejects.toThrow(
      'stopped by the user',
    );
  });

  it("scores a text several contexts long on a tfjs model; the first window matches the model's own nats", async () => {
    const model = createModel(config, { seed: 1 });
    const text = 'The quick brown fox jumps over the lazy dog. '.repeat(3); // 135 bytes, context 32
    const { surprisal, bitsPerByte } = await scoreText(model, text);
    expect(surprisal).toHaveLength(135);
    expect(Number.isFinite(bitsPerByte)).toBe(true);
    const ids = idsTensor(new TextEncoder().encode(text).slice(0, 32), 1, 32);
    const nats = model.nats(ids);
    const expected = Array.from(await nats.data(), (value) => value / Math.LN2);
    tf.dispose([ids, nats]);
    Array.from(surprisal.subarray(0, 32)).forEach((value, t) => expect(value).toBeCloseTo(expected[t]!, 4));
    model.dispose();
  });
});
