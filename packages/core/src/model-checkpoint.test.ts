import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { idsTensor } from './byte-model.js';
import {
  CheckpointError,
  type CheckpointTensor,
  decodeCheckpointWeights,
  encodeSafetensors,
  type SafetensorsTensor,
} from './checkpoint/index.js';
import type { ModelConfigInput } from './config.js';
import type { MegabyteModel } from './megabyte-model.js';
import { decodeModel, encodeModel } from './model-checkpoint.js';
import { createModel } from './models.js';
import { microMegabyteConfig, microTransformerConfig } from './testing/index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const ids = Array.from({ length: 16 }, (_, i) => (i * 37) % 256);

describe.each([
  ['MEGABYTE', microMegabyteConfig({ initStd: 0.3 })],
  ['baseline', microTransformerConfig({ initStd: 0.3 })],
] as const)('%s checkpoints', (_, config) => {
  it('round-trip bit-exactly in float32 and give the same logits', async () => {
    const model = createModel(config, { seed: 11 });
    const { configJson, weights } = await encodeModel(model);
    const loaded = decodeModel({ config: JSON.parse(configJson), weights });
    expect(loaded.config).toEqual(model.config);
    const original = model.parameters();
    loaded.parameters().forEach((p, i) => {
      expect(p.name).toBe(original[i]!.name);
      expect(Array.from(p.variable.dataSync())).toEqual(Array.from(original[i]!.variable.dataSync()));
    });
    const logits = (m: typeof model) =>
      tf.tidy(() => Array.from(m.forward(idsTensor(ids, 1, 16)).dataSync()));
    expect(logits(loaded)).toEqual(logits(model));
    model.dispose();
    loaded.dispose();
  });

  it('round-trip in float16 within half precision', async () => {
    const model = createModel(config, { seed: 12 });
    const { configJson, weights } = await encodeModel(model, { dtype: 'float16' });
    const loaded = decodeModel({ config: JSON.parse(configJson), weights });
    const original = model.parameters();
    loaded.parameters().forEach((p, i) => {
      const a = p.variable.dataSync();
      const b = original[i]!.variable.dataSync();
      a.forEach((v, j) => expect(Math.abs(v - b[j]!)).toBeLessThanOrEqual(Math.abs(b[j]!) * 2 ** -11 + 1e-7));
    });
    model.dispose();
    loaded.dispose();
  });
});

describe('loading a checkpoint that does not fit', () => {
  it('reports every mismatch at once and builds nothing', async () => {
    const model = createModel(microMegabyteConfig(), { seed: 1 });
    const { weights } = await encodeModel(model);
    const before = tf.memory().numTensors;
    const wider = microMegabyteConfig({ local: { dim: 16, layers: 2, heads: 2 } });
    let error: unknown;
    try {
      decodeModel({ config: wider, weights });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(CheckpointError);
    const problems = (error as CheckpointError).problems.join('\n');
    expect(problems).toMatch(/local\.head\.weight: expected \[16,258\], file has \[8,258\]/);
    expect(problems).toMatch(/missing: local\.layers\.1\./);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('reads format 1 cross-patch attention without rotary embeddings and format 2 with them by default', async () => {
    const config = microMegabyteConfig({ local: { dim: 8, layers: 1, heads: 2, crossPatch: 2 } });
    const model = createModel(config, { seed: 1 }) as MegabyteModel;
    expect(model.spec.byteLevel.stack.rotary).toEqual({ positions: 6 }); // r + P keys at most
    const { weights } = await encodeModel(model);
    const rotaryOf = (formatVersion: number) => {
      const loaded = decodeModel({ config: { ...config, formatVersion }, weights }) as MegabyteModel;
      const rotary = loaded.spec.byteLevel.stack.rotary !== undefined;
      loaded.dispose();
      return rotary;
    };
    expect(rotaryOf(1)).toBe(false);
    expect(rotaryOf(2)).toBe(true);
    model.dispose();
  });

  it('names config problems as checkpoint problems', async () => {
    const model = createModel(microMegabyteConfig(), { seed: 1 });
    const { weights } = await encodeModel(model);
    expect(() =>
      decodeModel({ config: { ...microMegabyteConfig(), patchSize: 0 }, weights }, 'models/x'),
    ).toThrow(/cannot load models\/x: config\.json is not a valid model config/);
    expect(() => decodeModel({ config: { ...microMegabyteConfig(), formatVersion: 99 }, weights })).toThrow(
      /formatVersion 99/,
    );
    model.dispose();
  });
});

/** The tensors of a freshly built model, as a safetensors writer takes them. */
async function modelTensors(config: ModelConfigInput): Promise<Map<string, SafetensorsTensor>> {
  const model = createModel(config, { seed: 3 });
  const tensors = new Map<string, SafetensorsTensor>();
  for (const p of model.parameters()) {
    tensors.set(p.name, {
      dtype: 'F32',
      shape: p.variable.shape,
      data: (await p.variable.data()) as Float32Array,
    });
  }
  model.dispose();
  return tensors;
}

/** What `fn` throws, and how many tfjs kernels it ran on the way (building a model runs one per parameter). */
async function refusal(fn: () => unknown): Promise<{ error: CheckpointError; kernels: number }> {
  let error: unknown;
  const { kernels } = await tf.profile(() => {
    try {
      fn();
    } catch (caught) {
      error = caught;
    }
  });
  expect(error).toBeInstanceOf(CheckpointError);
  return { error: error as CheckpointError, kernels: kernels.length };
}

describe('the safetensors header is checked against the config before any model is built', () => {
  it('names the file, every tensor of the wrong shape or dtype, missing or extra, and the fix', async () => {
    const tensors = await modelTensors(microMegabyteConfig());
    // Transposed: the same number of values, so only the shape tells.
    const bytes = tensors.get('local.embed.bytes.weight')!;
    tensors.set('local.embed.bytes.weight', { ...bytes, shape: [8, 258] } as SafetensorsTensor);
    tensors.set('local.pad', { dtype: 'I32', shape: [8], data: new Int32Array(8) });
    tensors.delete('global.norm.weight');
    tensors.set('local.extra', { dtype: 'F32', shape: [3], data: new Float32Array(3) });
    const weights = encodeSafetensors(tensors);
    const { error, kernels } = await refusal(() =>
      decodeModel({ config: microMegabyteConfig(), weights }, '/runs/a/best'),
    );
    expect(kernels).toBe(0);
    expect(error.message).toMatch(
      /^cannot load \/runs\/a\/best\/model\.safetensors: its tensors do not fit config\.json \(the model needs \d+ parameters in \d+ tensors, the file holds \d+ in \d+\): 4 problems:/,
    );
    expect(error.problems).toEqual([
      'local.embed.bytes.weight: expected [258,8], file has [8,258]',
      'tensor local.pad is I32, but parameters must be F32, F16, BF16 or F64',
      'missing: global.norm.weight (expected [16])',
      'unexpected: local.extra [3]',
    ]);
    expect(error.hint).toMatch(/load the weights with the config\.json saved next to them/);
  });

  it('refuses a config of 1.6e9 parameters against a file of a few thousand at the cost of the header', async () => {
    const { weights } = await encodeModel(createModel(microMegabyteConfig(), { seed: 1 }));
    // Global width 8 x 512 = 4096, 12 layers: 6.4 GB of float32 if it were built.
    const huge = microMegabyteConfig({
      contextLength: 8192,
      patchSize: 8,
      global: { byteDim: 512, layers: 12, heads: 16 },
    });
    const buffers = process.memoryUsage().arrayBuffers;
    const { error, kernels } = await refusal(() => decodeModel({ config: huge, weights }, '/m'));
    expect(kernels).toBe(0);
    expect(process.memoryUsage().arrayBuffers - buffers).toBeLessThan(64 * 1024 ** 2);
    expect(error.problems).toContain('global.embed.bytes.weight: expected [258,512], file has [258,4]');
    expect(error.problems).toContain('global.layers.0.mlp.up.weight: expected [4096,8192], file has [16,32]');
  });
});

describe('every checkpoint in the repository loads each parameter exactly as stored', () => {
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
  it.each([
    'packages/model-default',
    'models/image-tiny',
    'packages/trainer/test/fixtures/two-level/checkpoints/step-0000004',
    'packages/trainer/test/fixtures/three-level/checkpoints/step-0000004',
    'python/tests/fixtures/conv',
    'python/tests/fixtures/cross-patch',
    'python/tests/fixtures/three-levels',
    'python/tests/fixtures/transformer',
  ])('%s', (dir) => {
    const config = JSON.parse(readFileSync(join(repo, dir, 'config.json'), 'utf8'));
    const weights = new Uint8Array(readFileSync(join(repo, dir, 'model.safetensors')));
    const stored: Map<string, CheckpointTensor> = decodeCheckpointWeights(weights);
    const model = decodeModel({ config, weights }, dir);
    const names = model.parameters().map((p) => p.name);
    expect(names.sort()).toEqual([...stored.keys()].sort());
    for (const p of model.parameters()) {
      expect(p.variable.dataSync()).toEqual(stored.get(p.name)!.data);
    }
    model.dispose();
  });
});
