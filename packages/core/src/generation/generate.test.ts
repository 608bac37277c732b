import '@tensorflow/tfjs-backend-cpu';
import { BOUNDARY_ID, decodeText, encodeText } from '@megabyte/patching';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { MegabyteModel } from '../megabyte-model.js';
import { type AnyModel, createModel } from '../models.js';
import { microMegabyteConfig, microTransformerConfig } from '../testing/index.js';
import { createDecoder } from './decoder.js';
import {
  type DecoderSource,
  type GenerateOptions,
  generate,
  generateBatch,
  generateText,
  utf8Chunks,
} from './generate.js';
import type { DecoderOptions } from './incremental-decoder.js';

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

async function collect(bytes: AsyncIterable<number>): Promise<number[]> {
  const out: number[] = [];
  for await (const byte of bytes) out.push(byte);
  return out;
}

const run = (model: AnyModel, options: GenerateOptions) => collect(generate(model, options));

describe.each([
  ['MEGABYTE', megabyteConfig],
  ['the baseline', transformerConfig],
] as const)('generate with %s', (_, config) => {
  const model = createModel(config, { seed: 5 });

  it('gives the same greedy bytes with and without the cache, past the context', async () => {
    for (const prompt of ['', 'abc', 'hello']) {
      const options = { prompt, maxBytes: 40, temperature: 0 };
      const cached = await run(model, options);
      expect(cached).toHaveLength(40);
      expect(await run(model, { ...options, cache: false })).toEqual(cached);
    }
  });

  it('generates a batch of prompts of different lengths like each prompt alone', async () => {
    const prompts = ['', 'abc', 'a prompt longer than the 32-byte context'];
    for (const options of [
      { maxBytes: 40, temperature: 0 },
      { maxBytes: 40, temperature: 0.8, topP: 0.95, seed: 7 },
    ]) {
      const batch = await generateBatch(model, prompts, options);
      for (const [i, prompt] of prompts.entries()) {
        const seed = options.seed === undefined ? undefined : options.seed + i;
        expect(Array.from(batch[i]!), `prompt ${i}`).toEqual(await run(model, { ...options, prompt, seed }));
      }
    }
  });

  it('runs on any decoder source (e.g. an ONNX Runtime model) with the options it is given', async () => {
    const seen: DecoderOptions[] = [];
    const source: DecoderSource = {
      config: model.config,
      createDecoder: (options) => {
        seen.push(options);
        return createDecoder(model, options);
      },
    };
    const options = { prompt: 'ab', maxBytes: 30, temperature: 0.9, seed: 4, slide: 2 };
    expect(await collect(generate(source, options))).toEqual(await run(model, options));
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ slide: 2 });
    expect(await generateBatch(source, ['a', 'bc'], { maxBytes: 5, seed: 1 })).toEqual(
      await generateBatch(model, ['a', 'bc'], { maxBytes: 5, seed: 1 }),
    );
  });

  it('reproduces a sampled output from its seed', async () => {
    const options = { prompt: 'seed', maxBytes: 30, temperature: 1, topK: 50, seed: 11 };
    const first = await run(model, options);
    expect(await run(model, options)).toEqual(first);
    expect(await run(model, { ...options, seed: 12 })).not.toEqual(first);
  });

  it('stops at a stop sequence without emitting it', async () => {
    const full = await run(model, { prompt: 'xy', maxBytes: 30, temperature: 0 });
    const stop = Uint8Array.from(full.slice(10, 13));
    const first = full.findIndex((_, i) => stop.every((byte, j) => full[i + j] === byte));
    expect(await run(model, { prompt: 'xy', maxBytes: 30, temperature: 0, stop: [stop] })).toEqual(
      full.slice(0, first),
    );
    // A stop that only starts like the output (its last byte differs) holds bytes back but loses none.
    const nearMiss = Uint8Array.from([...full.slice(20, 22), (full[22]! + 1) % 256]);
    const found = full.some((_, i) => nearMiss.every((byte, j) => full[i + j] === byte));
    expect(found).toBe(false);
    expect(await run(model, { prompt: 'xy', maxBytes: 30, temperature: 0, stop: [nearMiss] })).toEqual(full);
  });

  it('aborts through its AbortSignal and frees every tensor', async () => {
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    const seen: number[] = [];
    const options = {
      maxBytes: 100,
      seed: 1,
      signal: controller.signal,
      onToken: (byte: number) => {
        seen.push(byte);
        if (seen.length === 5) controller.abort();
      },
    };
    await expect(run(model, options)).rejects.toThrow(/abort/i);
    expect(seen).toHaveLength(5);
    expect(tf.memory().numTensors).toBe(before);

    await expect(generateBatch(model, ['a', 'b'], { signal: AbortSignal.abort() })).rejects.toThrow(/abort/i);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('lets a timer abort a long generation', async () => {
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    const out: number[] = [];
    setTimeout(() => controller.abort(), 50);
    await expect(
      (async () => {
        for await (const byte of generate(model, { maxBytes: 100_000, signal: controller.signal }))
          out.push(byte);
      })(),
    ).rejects.toThrow(/abort/i);
    expect(out.length).toBeLessThan(100_000);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('leaks no tensor across a generation, a batch, or a loop left early', async () => {
    const before = tf.memory().numTensors;
    await run(model, { prompt: 'leak', maxBytes: 50 });
    await generateBatch(model, ['', 'a', 'abcdefgh'], { maxBytes: 20, stop: ['e'] });
    for await (const _ of generate(model, { maxBytes: 50 })) break;
    expect(tf.memory().numTensors).toBe(before);
  });

  it('checks its options when called, naming the option', () => {
    expect(() => generate(model, { maxBytes: -1 })).toThrow('"maxBytes"');
    expect(() => generate(model, { stop: [''] })).toThrow('"stop[0]"');
    expect(() => generate(model, { topP: 2 })).toThrow('"topP"');
    expect(() => generate(model, { slide: 100 })).toThrow('"slide"');
    expect(() => generate(model, { prompt: Int32Array.of(65, 258) })).toThrow(
      '"prompt": id 258 at index 1 is outside',
    );
    return expect(generateBatch(model, ['ok', Int32Array.of(-1)])).rejects.toThrow('"prompts[1]"');
  });
});

/**
 * Rewires a model so that its logits no longer depend on the input and `id` always wins: the
 * local model's final norm outputs a constant vector of ones, and the head column of `id` is large.
 */
function alwaysPredicts(model: MegabyteModel, id: number): void {
  const parameter = (name: string) => model.parameters().find((p) => p.name === name)!.variable;
  const gain = parameter('local.norm.weight');
  gain.assign(tf.zerosLike(gain));
  const bias = parameter('local.norm.bias');
  bias.assign(tf.onesLike(bias));
  const head = parameter('local.head.weight');
  const column = tf.tidy(() => tf.mul(tf.oneHot([id], head.shape[1]!), 100));
  head.assign(tf.add(head, column));
  column.dispose();
}

describe('special ids', () => {
  it('ends at a document boundary with stopAtBoundary and never emits special ids otherwise', async () => {
    const model = createModel(megabyteConfig, { seed: 5 }) as MegabyteModel;
    alwaysPredicts(model, BOUNDARY_ID);
    expect(await run(model, { maxBytes: 10, temperature: 0, stopAtBoundary: true })).toEqual([]);
    const bytes = await run(model, { maxBytes: 10, temperature: 1, seed: 2 });
    expect(bytes).toHaveLength(10);
    expect(bytes.every((byte) => byte < 256)).toBe(true);
    model.dispose();
  });
});

describe('text', () => {
  const text = 'héllo wörld: € 𝄞 ok';

  it('splits a byte stream into chunks of whole characters', async () => {
    async function* oneByteAtATime() {
      for (const byte of encodeText(text)) yield byte;
    }
    const chunks: string[] = [];
    for await (const chunk of utf8Chunks(oneByteAtATime())) chunks.push(chunk);
    expect(chunks.join('')).toBe(text);
    expect(chunks.some((chunk) => chunk.includes('\ufffd'))).toBe(false);
    expect(chunks).toContain('𝄞');
  });

  it('streams generated text that decodes like the generated bytes', async () => {
    const model = createModel(megabyteConfig, { seed: 8 });
    const options = { prompt: text, maxBytes: 60, seed: 3 };
    const bytes = await run(model, options);
    const chunks: string[] = [];
    for await (const chunk of generateText(model, options)) chunks.push(chunk);
    expect(chunks.join('')).toBe(decodeText(Uint8Array.from(bytes)));
    model.dispose();
  });
});
