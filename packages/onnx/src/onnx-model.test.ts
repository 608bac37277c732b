// tfjs-core first, fenced off by the side-effect import so that import sorting keeps it first:
// under vitest, importing @megabyte/core before it leaves two tfjs-core module instances
// disagreeing about the Tensor class (x.cast() then fails with "opHandler is null").
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import {
  type AnyModel,
  createDecoder,
  createModel,
  type GenerationModel,
  generate,
  generateBatch,
  idsTensor,
  type ModelConfigInput,
} from '@megabyte/core';
import {
  microMegabyteConfig,
  microTransformerConfig,
  relativeError,
  sampleIds,
} from '@megabyte/core/testing';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { beforeAll, describe, expect, it } from 'vitest';
import { exportModel } from './export.js';
import { type ExecutionProvider, OnnxModel } from './onnx-model.js';
import type { OrtModule } from './ort-types.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
  ortWeb.env.wasm.numThreads = 1;
});

const RUNTIMES: readonly { name: string; ort: OrtModule; provider: ExecutionProvider }[] = [
  { name: 'onnxruntime-node (cpu)', ort: ortNode, provider: 'cpu' },
  { name: 'onnxruntime-web (wasm, in Node)', ort: ortWeb, provider: 'wasm' },
];

const TOLERANCE = 1e-4;

/** Random tiny models covering every option that changes the graph. */
const CONFIGS: Record<string, ModelConfigInput> = {
  megabyte: microMegabyteConfig({
    initStd: 0.2,
    global: { byteDim: 4, layers: 2, heads: 2 },
    local: { dim: 8, layers: 2, heads: 2 },
  }),
  'megabyte rmsnorm relu bias tied': microMegabyteConfig({
    initStd: 0.2,
    patchSize: 2,
    norm: 'rmsnorm',
    activation: 'relu',
    bias: true,
    tieHead: true,
  }),
  'megabyte conv encoder': microMegabyteConfig({
    initStd: 0.2,
    global: { byteDim: 4, layers: 1, heads: 2, convKernels: [3, 4] },
  }),
  transformer: microTransformerConfig({ initStd: 0.2, layers: 2 }),
  'transformer rmsnorm relu bias tied': microTransformerConfig({
    initStd: 0.2,
    norm: 'rmsnorm',
    activation: 'relu',
    bias: true,
    tieHead: true,
  }),
};

async function onnxOf(model: AnyModel, ort: OrtModule, provider: ExecutionProvider): Promise<OnnxModel> {
  const { manifest, graphs } = exportModel(model);
  return OnnxModel.load(ort, { manifest: JSON.stringify(manifest), graphs }, { executionProvider: provider });
}

async function collect(model: GenerationModel, options: Parameters<typeof generate>[1]): Promise<number[]> {
  const bytes: number[] = [];
  for await (const byte of generate(model, options)) bytes.push(byte);
  return bytes;
}

/** tfjs and ONNX decoders fed the same bytes: their logits after every step. */
async function decoderLogits(
  source: AnyModel | OnnxModel,
  prompts: number[][],
  pushes: number[][],
): Promise<Float32Array[][]> {
  const decoder = source instanceof OnnxModel ? source.createDecoder() : createDecoder(source);
  const out: Float32Array[][] = [];
  await decoder.prime(prompts);
  out.push([...decoder.logits()]);
  for (const ids of pushes) {
    await decoder.push(ids);
    out.push([...decoder.logits()]);
  }
  decoder.dispose();
  return out;
}

for (const runtime of RUNTIMES) {
  describe(`ONNX export on ${runtime.name}`, () => {
    for (const [name, config] of Object.entries(CONFIGS)) {
      describe(name, () => {
        const model = createModel(config, { seed: 3 });
        let onnx: OnnxModel;
        beforeAll(async () => {
          onnx = await onnxOf(model, runtime.ort, runtime.provider);
        });

        it('scoring logits equal the tfjs forward (whole patches and a ragged length)', async () => {
          for (const [batch, length] of [
            [2, 16],
            [3, 7],
            [1, 1],
          ] as const) {
            const ids = sampleIds(batch, length, length);
            const expected = tf.tidy(() => model.forward(idsTensor(ids, batch, length)).dataSync());
            const actual = await onnx.forward(ids, batch);
            expect(relativeError(actual, expected)).toBeLessThan(TOLERANCE);
          }
        });

        it('decoder logits equal the tfjs decoder at every step, across window slides', async () => {
          const prompts = [sampleIds(1, 5, 1), sampleIds(1, 5, 2)];
          const pushes = Array.from({ length: 30 }, (_, i) => [(i * 37) % 256, (i * 11 + 5) % 256]);
          const expected = await decoderLogits(model, prompts, pushes);
          const actual = await decoderLogits(onnx, prompts, pushes);
          expected.forEach((step, i) =>
            step.forEach((row, r) => expect(relativeError(actual[i]![r]!, row)).toBeLessThan(TOLERANCE)),
          );
        });

        it('generates the same bytes as tfjs with a fixed seed (cached, uncached, batched)', async () => {
          const options = { prompt: 'ab', maxBytes: 40, temperature: 0.8, topK: 50, seed: 7 };
          const expected = await collect(model, options);
          expect(await collect(onnx, options)).toEqual(expected);
          expect(await collect(onnx, { ...options, cache: false, maxBytes: 12 })).toEqual(
            expected.slice(0, 12),
          );
          const long = { ...options, prompt: 'a prompt longer than the 16-byte context' };
          expect(await collect(onnx, long)).toEqual(await collect(model, long));
          const prompts = ['a', 'bcdef', ''];
          const batchOptions = { maxBytes: 24, temperature: 1, seed: 3, stop: ['z'] };
          expect(await generateBatch(onnx, prompts, batchOptions)).toEqual(
            await generateBatch(model, prompts, batchOptions),
          );
        });
      });
    }
  });
}

describe('scoreBytes', () => {
  it('gives per-byte surprisal whose mean is the tfjs bits per byte within one window', async () => {
    const model = createModel(CONFIGS.megabyte!, { seed: 1 });
    const onnx = await onnxOf(model, ortNode, 'cpu');
    const bytes = Uint8Array.from(sampleIds(1, 16, 9));
    const { bitsPerByte, surprisal } = await onnx.scoreBytes(bytes);
    expect(surprisal).toHaveLength(16);
    const ids = idsTensor(bytes, 1, 16);
    expect(bitsPerByte).toBeCloseTo(await model.bitsPerByte(ids), 4);
    ids.dispose();
  });

  it('scores inputs longer than the context in sliding windows', async () => {
    const model = createModel(CONFIGS.transformer!, { seed: 1 });
    const onnx = await onnxOf(model, ortNode, 'cpu');
    const bytes = Uint8Array.from(sampleIds(1, 40, 2));
    const { surprisal } = await onnx.scoreBytes(bytes, { stride: 8 });
    // Byte 20 is scored in the window [8, 24), after the 12 bytes before it there.
    const window = await onnx.forward(Array.from(bytes.subarray(8, 24)), 1);
    const logits = window.subarray(12 * 258, 13 * 258);
    const max = Math.max(...logits);
    const logSum = Math.log(logits.reduce((sum, x) => sum + Math.exp(x - max), 0)) + max;
    expect(surprisal[20]).toBeCloseTo((logSum - logits[bytes[20]!]!) / Math.LN2, 4);
    expect(surprisal.every((s) => Number.isFinite(s) && s > 0)).toBe(true);
    await expect(onnx.scoreBytes(bytes, { stride: 0 })).rejects.toThrow(/stride/);
  });
});
