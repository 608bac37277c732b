import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { idsTensor } from './byte-model.js';
import { CheckpointError } from './checkpoint/index.js';
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
