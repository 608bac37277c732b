// tfjs-core first (see onnx-model.test.ts: one tfjs-core module instance under vitest).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import {
  createDecoder,
  createModel,
  type GenerationModel,
  generate,
  idsTensor,
  type ModelConfigInput,
} from '@megabyte/core';
import {
  microMegabyteConfig,
  microTransformerConfig,
  relativeError,
  sampleIds,
} from '@megabyte/core/testing';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { exportModel } from './export.js';
import { OnnxModel } from './onnx-model.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** float32 rounding: ONNX Runtime and tfjs sum in different orders. */
const TOLERANCE = 1e-5;

// initStd 0.5 keeps the logits far from uniform, so a wrong detail shows in them and greedy
// decoding meets no near-ties. Contexts of 16 or 32 bytes: generation slides the window.
const CONFIGS: Record<string, ModelConfigInput> = {
  '2 levels': microMegabyteConfig({ initStd: 0.5, global: { byteDim: 4, layers: 2, heads: 2 } }),
  '3 levels': microMegabyteConfig({
    initStd: 0.5,
    contextLength: 32,
    patchSize: 8,
    global: { byteDim: 2, layers: 1, heads: 2 },
    middle: [{ patchSize: 4, byteDim: 4, layers: 2, heads: 2 }],
  }),
  '4 levels': microMegabyteConfig({
    initStd: 0.5,
    contextLength: 32,
    patchSize: 8,
    bias: true,
    global: { byteDim: 2, layers: 1, heads: 2 },
    middle: [
      { patchSize: 4, byteDim: 2, layers: 1, heads: 2 },
      { patchSize: 2, byteDim: 4, layers: 1, heads: 2 },
    ],
  }),
  'cross-patch': microMegabyteConfig({
    initStd: 0.5,
    local: { dim: 8, layers: 2, heads: 2, crossPatch: 2 },
  }),
  'cross-patch, 3 levels, relu': microMegabyteConfig({
    initStd: 0.5,
    contextLength: 32,
    patchSize: 8,
    activation: 'relu',
    global: { byteDim: 2, layers: 1, heads: 2 },
    middle: [{ patchSize: 4, byteDim: 4, layers: 1, heads: 2 }],
    local: { dim: 8, layers: 2, heads: 2, crossPatch: 3 },
  }),
  'cross-patch, learned positions only': microMegabyteConfig({
    initStd: 0.5,
    local: { dim: 8, layers: 2, heads: 2, crossPatch: 2, rotary: false },
  }),
  'conv encoder': microMegabyteConfig({
    initStd: 0.5,
    global: { byteDim: 4, layers: 1, heads: 2, convKernels: [3, 5] },
  }),
  'tied head, rmsnorm': microMegabyteConfig({ initStd: 0.5, tieHead: true, norm: 'rmsnorm' }),
  baseline: microTransformerConfig({ initStd: 0.5, layers: 2, tieHead: true }),
};

async function collect(model: GenerationModel, options: Parameters<typeof generate>[1]): Promise<number[]> {
  const bytes: number[] = [];
  for await (const byte of generate(model, options)) bytes.push(byte);
  return bytes;
}

describe.each(Object.entries(CONFIGS))('every config exports to ONNX: %s', (_name, config) => {
  const model = createModel(config, { seed: 5 });
  let onnx: OnnxModel;
  beforeAll(async () => {
    const { manifest, graphs } = exportModel(model);
    onnx = await OnnxModel.load(ort, { manifest: JSON.stringify(manifest), graphs });
  });

  it('scores like the tfjs forward, to float32 rounding', async () => {
    const length = model.config.contextLength;
    for (const [batch, n] of [
      [2, length],
      [1, length - 3],
    ] as const) {
      const ids = sampleIds(batch, n, n);
      const expected = tf.tidy(() => model.forward(idsTensor(ids, batch, n)).dataSync());
      expect(relativeError(await onnx.forward(ids, batch), expected)).toBeLessThan(TOLERANCE);
    }
  });

  it('decodes like the tfjs decoder at every step, with the step graph of every level', async () => {
    const config = model.config;
    const expectedRoles =
      config.kind === 'transformer'
        ? ['scoring', 'step']
        : ['scoring', 'global', ...config.levels.slice(1, -1).map((_, i) => `middle.${i}`), 'local'];
    expect(Object.keys(onnx.manifest.graphs)).toEqual(expectedRoles);
    const prompts = [sampleIds(1, 5, 1), sampleIds(1, 5, 2)];
    const pushes = Array.from({ length: config.contextLength + 8 }, (_, i) => [
      (i * 37) % 256,
      (i * 11 + 5) % 256,
    ]);
    const tfjs = createDecoder(model);
    const ort = onnx.createDecoder();
    await tfjs.prime(prompts);
    await ort.prime(prompts);
    for (const ids of [undefined, ...pushes]) {
      if (ids) {
        await tfjs.push(ids);
        await ort.push(ids);
      }
      tfjs.logits().forEach((row, r) => expect(relativeError(ort.logits()[r]!, row)).toBeLessThan(TOLERANCE));
    }
    expect(ort.reencodes).toBeGreaterThan(0); // the window slid and was encoded again
    tfjs.dispose();
    ort.dispose();
  });

  it('generates the bytes tfjs generates, greedy and sampled, past the context', async () => {
    const maxBytes = model.config.contextLength + 12; // the window slides at least once
    for (const options of [
      { prompt: 'ab', maxBytes, temperature: 0 },
      { prompt: 'ab', maxBytes, temperature: 0.9, topK: 40, seed: 11 },
    ]) {
      const expected = await collect(model, options);
      expect(expected).toHaveLength(maxBytes);
      expect(await collect(onnx, options)).toEqual(expected);
    }
  });
});
