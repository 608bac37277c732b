import '@tensorflow/tfjs-backend-cpu';
import { PAD_ID, Rng } from '@megabyte/patching';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { idsTensor } from '../byte-model.js';
import { type AnyModel, createModel } from '../models.js';
import { microMegabyteConfig, microTransformerConfig } from '../testing/index.js';
import { createDecoder } from './decoder.js';
import type { DecoderOptions, IncrementalDecoder } from './incremental-decoder.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const megabyteConfig = microMegabyteConfig({
  contextLength: 32,
  initStd: 0.2,
  global: { byteDim: 8, layers: 2, heads: 2 },
  local: { dim: 16, layers: 2, heads: 2 },
});
const transformerConfig = microTransformerConfig({ contextLength: 32, initStd: 0.2, dim: 16, layers: 2 });

// Four levels: global patches of 8 bytes, middle patches of 4 and 2, local inside those.
const deepConfig = microMegabyteConfig({
  contextLength: 32,
  initStd: 0.2,
  patchSize: 8,
  global: { byteDim: 2, layers: 2, heads: 2 },
  middle: [
    { patchSize: 4, byteDim: 4, layers: 1, heads: 2 },
    { patchSize: 2, byteDim: 4, layers: 2, heads: 2 },
  ],
  local: { dim: 16, layers: 2, heads: 2 },
});

const convolutionalConfig = microMegabyteConfig({
  contextLength: 32,
  initStd: 0.2,
  global: { byteDim: 8, layers: 2, heads: 2, convKernels: [3, 5, 7] },
  local: { dim: 16, layers: 2, heads: 2 },
});

const crossPatchConfig = microMegabyteConfig({
  contextLength: 32,
  initStd: 0.2,
  global: { byteDim: 8, layers: 2, heads: 2 },
  local: { dim: 16, layers: 2, heads: 2, crossPatch: 3 },
});

const learnedPositionsConfig = microMegabyteConfig({
  contextLength: 32,
  initStd: 0.2,
  global: { byteDim: 8, layers: 2, heads: 2 },
  local: { dim: 16, layers: 2, heads: 2, crossPatch: 3, rotary: false },
});

const MODELS = [
  ['MEGABYTE', megabyteConfig],
  ['MEGABYTE with cross-patch attention', crossPatchConfig],
  ['MEGABYTE with cross-patch attention, learned positions only', learnedPositionsConfig],
  ['MEGABYTE with a convolutional patch encoder', convolutionalConfig],
  ['MEGABYTE with four levels', deepConfig],
  ['the baseline', transformerConfig],
] as const;

const randomBytes = (length: number, seed: number) => {
  const rng = new Rng(seed);
  return Array.from({ length }, () => rng.int(256));
};

/** Logits of the byte after `window`, by the full uncached forward pass over it (a pad id stands in for that byte). */
function forwardNext(model: AnyModel, window: number[]): Float32Array {
  return tf.tidy(() => {
    const logits = model.forward(idsTensor([...window, PAD_ID], 1, window.length + 1));
    return logits.dataSync().slice(window.length * 258) as Float32Array;
  });
}

/** Largest difference relative to the reference's scale (at least 1). */
function relativeError(actual: Float32Array, expected: Float32Array): number {
  let difference = 0;
  let scale = 1;
  expected.forEach((value, i) => {
    difference = Math.max(difference, Math.abs(actual[i]! - value));
    scale = Math.max(scale, Math.abs(value));
  });
  return difference / scale;
}

const greedyByte = (logits: Float32Array) => {
  let best = 0;
  for (let id = 1; id < 256; id++) if (logits[id]! > logits[best]!) best = id;
  return best;
};

/**
 * Greedy generation of `steps` bytes that checks, before every byte, the decoder's logits against
 * a full forward pass over the bytes the decoder has in context: bytes windowStart..n-1 of the
 * sequence when the next byte is byte n.
 */
async function checkAgainstForward(
  model: AnyModel,
  prompt: number[],
  steps: number,
  options: DecoderOptions,
) {
  const decoder = createDecoder(model, options);
  const sequence = [...prompt];
  await decoder.prime([prompt]);
  for (let step = 0; step < steps; step++) {
    expect(decoder.length).toBe(sequence.length);
    const window = sequence.slice(decoder.windowStart);
    expect(window.length).toBeLessThan(model.config.contextLength);
    const logits = decoder.logits()[0]!;
    expect(relativeError(logits, forwardNext(model, window)), `byte ${sequence.length}`).toBeLessThan(1e-4);
    const byte = greedyByte(logits);
    sequence.push(byte);
    await decoder.push([byte]);
  }
  const { reencodes, windowStart } = decoder;
  decoder.dispose();
  return { reencodes, windowStart };
}

describe.each(MODELS)('the incremental decoder of %s', (_, config) => {
  const model = createModel(config, { seed: 3 });

  it.each([0, 3, 5])(
    'matches the full forward pass at every byte from a prompt of %i bytes, past the context',
    async (promptLength) => {
      const { reencodes, windowStart } = await checkAgainstForward(
        model,
        randomBytes(promptLength, 1),
        40,
        {},
      );
      // The sequence crossed the 32-byte context once; the window slid by half of it.
      expect(reencodes).toBe(1);
      expect(windowStart).toBe(16);
    },
  );

  it.each([1, 'whole context'] as const)('slides by %s', async (slide) => {
    const patches = config.contextLength / (config.kind === 'megabyte' ? config.patchSize : 1);
    await checkAgainstForward(model, randomBytes(6, 2), 40, { slide: slide === 1 ? 1 : patches });
  });

  it('primes a prompt longer than the context to the window that feeding it byte by byte reaches', async () => {
    const prompt = randomBytes(75, 4);
    const primed = createDecoder(model);
    await primed.prime([prompt]);
    const fed = createDecoder(model);
    await fed.prime([prompt.slice(0, 3)]);
    for (const byte of prompt.slice(3)) await fed.push([byte]);
    expect(primed.windowStart).toBe(fed.windowStart);
    expect(primed.windowStart).toBe(48); // the window slid at 32, 48, 64 and 80 would be next
    expect(relativeError(primed.logits()[0]!, fed.logits()[0]!)).toBeLessThan(1e-4);
    expect(relativeError(primed.logits()[0]!, forwardNext(model, prompt.slice(48)))).toBeLessThan(1e-4);
    primed.dispose();
    fed.dispose();
  });

  it('decodes a batch in lockstep like each sequence alone, and drops rows', async () => {
    const prompts = [randomBytes(6, 5), randomBytes(6, 6), randomBytes(6, 7)];
    const pushed = [randomBytes(30, 8), randomBytes(30, 9), randomBytes(30, 10)];
    const batch = createDecoder(model);
    await batch.prime(prompts);
    const alone: IncrementalDecoder[] = [];
    for (const prompt of prompts) {
      const decoder = createDecoder(model);
      await decoder.prime([prompt]);
      alone.push(decoder);
    }
    let rows = [0, 1, 2];
    for (let step = 0; step < 30; step++) {
      rows.forEach((sequence, row) =>
        expect(relativeError(batch.logits()[row]!, alone[sequence]!.logits()[0]!)).toBeLessThan(1e-4),
      );
      if (step === 10) {
        rows = [0, 2];
        batch.keepRows([0, 2]);
      }
      await batch.push(rows.map((sequence) => pushed[sequence]![step]!));
      for (const sequence of rows) await alone[sequence]!.push([pushed[sequence]![step]!]);
    }
    expect(batch.batchSize).toBe(2);
    batch.dispose();
    for (const decoder of alone) decoder.dispose();
  });

  it('gives the same logits without the cache', async () => {
    const cached = createDecoder(model);
    const uncached = createDecoder(model, { cache: false });
    const bytes = randomBytes(45, 11);
    await cached.prime([bytes.slice(0, 5)]);
    await uncached.prime([bytes.slice(0, 5)]);
    for (const byte of bytes.slice(5)) {
      expect(relativeError(cached.logits()[0]!, uncached.logits()[0]!)).toBeLessThan(1e-4);
      await cached.push([byte]);
      await uncached.push([byte]);
    }
    cached.dispose();
    uncached.dispose();
  });

  it('keeps a constant number of tensors while decoding and frees them all on dispose', async () => {
    const before = tf.memory().numTensors;
    const decoder = createDecoder(model);
    await decoder.prime([randomBytes(5, 12), randomBytes(5, 13)]);
    const held = tf.memory().numTensors;
    for (let step = 0; step < 40; step++) {
      await decoder.push([step, 255 - step]);
      expect(tf.memory().numTensors).toBe(held);
    }
    decoder.keepRows([1]);
    await decoder.push([7]);
    decoder.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects bad input with errors that say what is wrong', async () => {
    const decoder = createDecoder(model);
    await expect(decoder.prime([])).rejects.toThrow('expected at least one prompt');
    await expect(decoder.prime([[1, 2], [3]])).rejects.toThrow('prompt 1 has 1 ids, prompt 0 has 2');
    await expect(decoder.prime([[1, 300]])).rejects.toThrow('id 300 (prompt 0, index 1) is outside');
    await expect(decoder.push([1])).rejects.toThrow('call prime first');
    await decoder.prime([[1], [2]]);
    await expect(decoder.push([1])).rejects.toThrow('one id per sequence (2), got 1');
    expect(() => decoder.keepRows([2])).toThrow('row 2 is not in 0..1');
    expect(() => createDecoder(model, { slide: 0 })).toThrow('"slide"');
    decoder.dispose();
  });
});
