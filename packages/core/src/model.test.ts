import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { patchLevel } from '@megabyte/global';
import { checkGradients } from '@megabyte/nn/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { referenceLogits } from '../test/reference-forward.js';
import {
  ConfigError,
  createModel,
  idsTensor,
  MEGABYTE_PRESETS,
  type MegabyteModel,
  type ModelConfigInput,
  parameterBreakdown,
  presetConfig,
  sequenceNats,
  TRANSFORMER_PRESETS,
  validateConfig,
} from './index.js';
import { microMegabyteConfig, microTransformerConfig } from './testing/index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const microMegabyte = microMegabyteConfig({ initStd: 0.5, global: { byteDim: 4, layers: 2, heads: 2 } });
const microTransformer = microTransformerConfig({ initStd: 0.5, layers: 2 });
// Three levels: global patches of 8 bytes, middle patches of 4 (two per global patch), local inside those.
const microThreeLevel = microMegabyteConfig({
  initStd: 0.5,
  patchSize: 8,
  global: { byteDim: 2, layers: 1, heads: 2 },
  middle: [{ patchSize: 4, byteDim: 4, layers: 1, heads: 2 }],
});
// The convolutional patch encoder: its receptive field (2 + 4 bytes back) reaches two patches back.
const microConvolutional = microMegabyteConfig({
  initStd: 0.5,
  global: { byteDim: 4, layers: 1, heads: 2, convKernels: [3, 5] },
});
// Cross-patch attention: each local layer also sees the last 2 positions of the previous patch.
const microCrossPatch = microMegabyteConfig({
  initStd: 0.5,
  local: { dim: 8, layers: 2, heads: 2, crossPatch: 2 },
});
// Cross-patch attention with learned positions only (what format-1 checkpoints mean).
const microCrossPatchLearned = microMegabyteConfig({
  initStd: 0.5,
  local: { dim: 8, layers: 2, heads: 2, crossPatch: 2, rotary: false },
});
// Four levels, down to local patches of 2 bytes.
const microFourLevel = microMegabyteConfig({
  initStd: 0.5,
  patchSize: 8,
  global: { byteDim: 2, layers: 1, heads: 2 },
  middle: [
    { patchSize: 4, byteDim: 2, layers: 1, heads: 2 },
    { patchSize: 2, byteDim: 4, layers: 1, heads: 2 },
  ],
});

const randomIds = (n: number, seed: number) =>
  Array.from({ length: n }, (_, i) => (seed * 131 + i * 97 + ((i * i) % 7)) % 256);

function logitsOf(model: ReturnType<typeof createModel>, ids: number[]): number[][] {
  return tf.tidy(() => model.forward(idsTensor(ids, 1, ids.length)).arraySync()[0]!);
}

const maxDiff = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));

describe('config', () => {
  it('names every wrong field and why', () => {
    const bad = {
      ...microMegabyte,
      contextLength: 18,
      global: { byteDim: 4, layers: 0, heads: 3 },
      norm: 'batchnorm',
    };
    try {
      validateConfig(bad);
      expect.fail('should throw');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const problems = (error as ConfigError).problems.join('\n');
      expect(problems).toMatch(/contextLength: 18 must be a multiple of patchSize 4/);
      expect(problems).toMatch(/global\.layers: expected an integer >= 1, got 0/);
      expect(problems).toMatch(/global\.heads: 3 heads must divide the width 16/);
      expect(problems).toMatch(/norm: expected "layernorm" or "rmsnorm", got "batchnorm"/);
    }
    expect(() => validateConfig({ ...microMegabyte, local: undefined })).toThrow(
      /local: expected an object, got nothing/,
    );
    expect(() => presetConfig('huge')).toThrow(/unknown preset "huge": known presets are tiny, small, base/);
  });

  it('names every wrong middle level and why', () => {
    const bad = {
      ...microThreeLevel,
      middle: [
        { patchSize: 3, byteDim: 4, layers: 1, heads: 2 },
        { patchSize: 8, byteDim: 0, layers: 1, heads: 2 },
        'level',
      ],
    };
    const problems = (() => {
      try {
        validateConfig(bad);
      } catch (error) {
        return (error as ConfigError).problems.join('\n');
      }
      return '';
    })();
    expect(problems).toMatch(
      /middle\[0\]\.patchSize: 3 must be smaller than the patch of the level above \(8\) and divide it/,
    );
    expect(problems).toMatch(/middle\[1\]\.byteDim: expected an integer >= 1, got 0/);
    expect(problems).toMatch(
      /middle\[1\]\.patchSize: 8 must be smaller than the patch of the level above \(3\)/,
    );
    expect(problems).toMatch(/middle\[2\]: expected an object, got "level"/);
    expect(() => validateConfig({ ...microThreeLevel, middle: {} })).toThrow(
      /middle: expected a list of levels/,
    );
  });

  it('accepts every preset', () => {
    for (const config of [...Object.values(MEGABYTE_PRESETS), ...Object.values(TRANSFORMER_PRESETS)]) {
      expect(validateConfig(config)).toEqual(config);
    }
  });

  it('counts parameters exactly as built, for every variant', () => {
    const variants: ModelConfigInput[] = [
      microMegabyte,
      { ...microMegabyte, bias: true, tieHead: true, norm: 'rmsnorm' },
      microTransformer,
      { ...microTransformer, bias: true, tieHead: true },
      MEGABYTE_PRESETS.tiny,
      TRANSFORMER_PRESETS.tiny,
      microThreeLevel,
      { ...microFourLevel, bias: true, tieHead: true },
      microConvolutional,
      microCrossPatch,
    ];
    for (const config of variants) {
      const model = createModel(config);
      const built = model.parameters().reduce((sum, p) => sum + p.variable.size, 0);
      expect(parameterBreakdown(config).total).toBe(built);
      model.dispose();
    }
    // the benchmark model of ANCHORS.md: 20.8M parameters
    expect(parameterBreakdown(MEGABYTE_PRESETS.small).total / 1e6).toBeCloseTo(20.8, 1);
  });

  it('names parameters hierarchically', () => {
    const model = createModel(microMegabyte);
    const names = model.parameters().map((p) => p.name);
    expect(names).toContain('global.layers.1.attn.wq.weight');
    expect(names).toContain('global.pad');
    expect(names).toContain('local.project.weight');
    expect(names).toContain('local.pad');
    expect(names).toContain('local.head.weight');
    model.dispose();
    const deep = createModel(microThreeLevel);
    const deepNames = deep.parameters().map((p) => p.name);
    for (const name of [
      'middle.0.pad',
      'middle.0.project.weight',
      'middle.0.embed.positions',
      'middle.0.layers.0.attn.wq.weight',
    ])
      expect(deepNames).toContain(name);
    deep.dispose();
  });
});

describe.each([
  ['MEGABYTE', microMegabyte],
  ['MEGABYTE, three levels', microThreeLevel],
  ['MEGABYTE, four levels', microFourLevel],
  ['MEGABYTE with a convolutional patch encoder', microConvolutional],
  ['MEGABYTE with cross-patch attention', microCrossPatch],
  ['MEGABYTE with cross-patch attention, learned positions only', microCrossPatchLearned],
  ['baseline transformer', microTransformer],
] as const)('%s', (_, config) => {
  it('matches a forward pass computed from the equations in plain JavaScript', () => {
    const model = createModel(config, { seed: 3 });
    const ids = randomIds(14, 1); // not a whole number of patches
    const logits = logitsOf(model, ids);
    const expected = referenceLogits(config, model.parameters(), ids);
    logits.forEach((row, t) => expect(maxDiff(row, expected[t]!), `position ${t}`).toBeLessThan(1e-4));
    model.dispose();
  });

  it('is causal: changing byte t changes no prediction at positions <= t', () => {
    const model = createModel(config, { seed: 4 });
    const ids = randomIds(16, 2);
    const base = logitsOf(model, ids);
    for (const t of [0, 2, 3, 4, 9, 15]) {
      const changed = [...ids];
      changed[t] = (changed[t]! + 128) % 256;
      const logits = logitsOf(model, changed);
      for (let s = 0; s < 16; s++) {
        const diff = maxDiff(logits[s]!, base[s]!);
        if (s <= t) expect(diff, `position ${s}, change at ${t}`).toBe(0);
        else if (s === t + 1) expect(diff, `position ${s}, change at ${t}`).toBeGreaterThan(1e-6);
      }
    }
    model.dispose();
  });

  it('gives real bytes the same logits whatever right padding follows', () => {
    const model = createModel(config, { seed: 5 });
    const ids = randomIds(16, 3);
    const full = logitsOf(model, ids);
    for (const length of [1, 5, 7, 13]) {
      const prefix = logitsOf(model, ids.slice(0, length));
      prefix.forEach((row, t) => expect(maxDiff(row, full[t]!)).toBeLessThan(1e-5));
    }
    // explicit padding ids at the end change nothing before them either
    const padded = logitsOf(model, [...ids.slice(0, 10), 256, 256, 256, 256, 256, 256]);
    padded.slice(0, 10).forEach((row, t) => expect(maxDiff(row, full[t]!)).toBeLessThan(1e-5));
    model.dispose();
  });

  it('has gradients that match finite differences', () => {
    const model = createModel({ ...config, initStd: 0.3 }, { seed: 6 });
    const ids = idsTensor([...randomIds(12, 4), ...randomIds(12, 5)], 2, 12);
    // float32 finite differences carry ~1e-4 of absolute noise here, hence the 5e-3 floor
    const result = checkGradients(() => model.loss(ids), model.parameters(), {
      probesPerVariable: 2,
      epsilon: 5e-3,
      floor: 5e-3,
    });
    expect(result.maxRelativeError).toBeLessThan(3e-2);
    expect(result.probes.filter((p) => Math.abs(p.analytic) > 1e-2).length).toBeGreaterThan(5);
    ids.dispose();
    model.dispose();
  });

  it('leaks no tensors across forward and backward passes', () => {
    const model = createModel(config, { seed: 7 });
    const ids = idsTensor(randomIds(32, 6), 2, 16);
    const step = () => {
      const { value, grads } = tf.variableGrads(
        () => model.loss(ids),
        model.parameters().map((p) => p.variable),
      );
      value.dispose();
      tf.dispose(Object.values(grads));
    };
    step();
    const before = tf.memory().numTensors;
    step();
    step();
    expect(tf.memory().numTensors).toBe(before);
    ids.dispose();
    model.dispose();
  });

  it('gives per-byte nats equal to the cross-entropy of its logits, also in chunks of the local level', () => {
    const model = createModel(config, { seed: 12 });
    const ids = idsTensor([...randomIds(16, 13), ...randomIds(16, 14), ...randomIds(16, 15)], 3, 16);
    const direct = tf.tidy(() => Array.from(sequenceNats(model.forward(ids), ids).dataSync()));
    for (const chunkBytes of [undefined, 1, 4, 12]) {
      const nats = tf.tidy(() => Array.from(model.nats(ids, { chunkBytes }).dataSync()));
      expect(nats.length).toBe(3 * 16);
      expect(maxDiff(nats, direct), `chunks of ${chunkBytes}`).toBeLessThan(1e-5);
    }
    expect(tf.tidy(() => model.nats(idsTensor(randomIds(7, 1), 1, 7)).shape)).toEqual([1, 7]);
    ids.dispose();
    model.dispose();
  });

  it('masks padding out of the loss', () => {
    const model = createModel(config, { seed: 8 });
    const ids = randomIds(10, 7);
    const short = tf.tidy(() => model.loss(idsTensor(ids, 1, 10)).dataSync()[0]!);
    const padded = tf.tidy(() => model.loss(idsTensor([...ids, 256, 256, 256], 1, 13)).dataSync()[0]!);
    expect(padded).toBeCloseTo(short, 5);
    model.dispose();
  });
});

describe('MEGABYTE shifts', () => {
  it('keeps the global output for patch k independent of every byte in patches >= k', () => {
    const model = createModel(microMegabyte, { seed: 9 }) as MegabyteModel;
    const ids = randomIds(16, 8);
    const global = model.spec.patchLevels[0]!;
    const globalOf = (x: number[]) =>
      tf.tidy(() => (patchLevel(model.ops(), global, idsTensor(x, 1, 16)) as tf.Tensor3D).arraySync()[0]!);
    const base = globalOf(ids);
    for (const k of [0, 1, 2, 3]) {
      const changed = ids.map((v, t) => (t >= k * 4 ? (v + 1) % 256 : v));
      const out = globalOf(changed);
      for (let j = 0; j <= k; j++)
        expect(maxDiff(out[j]!, base[j]!), `patch ${j}, change from patch ${k}`).toBe(0);
      if (k < 3) expect(maxDiff(out[k + 1]!, base[k + 1]!)).toBeGreaterThan(1e-6);
    }
    model.dispose();
  });

  it('keeps the middle output for patch j independent of every byte from patch j on', () => {
    const model = createModel(microThreeLevel, { seed: 11 }) as MegabyteModel;
    const ids = randomIds(16, 9);
    // Middle outputs of every 4-byte patch: [2 global patches x 2 middle patches].
    const middleOf = (x: number[]) =>
      tf.tidy(() => {
        const input = idsTensor(x, 1, 16);
        const [global, middle] = model.spec.patchLevels;
        const ops = model.ops();
        const out = patchLevel(ops, middle!, tf.reshape(input, [2, 8]), patchLevel(ops, global!, input));
        return out.arraySync() as number[][][];
      });
    const base = middleOf(ids);
    for (const from of [4, 8, 12]) {
      const changed = ids.map((v, t) => (t >= from ? (v + 1) % 256 : v));
      const out = middleOf(changed);
      for (let t = 0; t < 16; t += 4) {
        const [row, j] = [Math.floor(t / 8), (t % 8) / 4];
        const diff = maxDiff(out[row]![j]!, base[row]![j]!);
        // Patch t..t+3 sees bytes before t only: earlier bytes of its parent patch and, through the global model, earlier parents.
        if (t <= from) expect(diff, `middle patch at ${t}, change from ${from}`).toBe(0);
        else expect(diff, `middle patch at ${t}, change from ${from}`).toBeGreaterThan(1e-6);
      }
    }
    model.dispose();
  });

  it('lets cross-patch attention see the previous patch only: the first patch is as without it', () => {
    const crossing = createModel(microCrossPatchLearned, { seed: 14 });
    const plain = createModel({
      ...microCrossPatchLearned,
      local: { ...microCrossPatchLearned.local, crossPatch: 0 },
    });
    crossing.parameters().forEach((p, i) => plain.parameters()[i]!.variable.assign(p.variable));
    const ids = randomIds(16, 10);
    const [a, b] = [logitsOf(crossing, ids), logitsOf(plain, ids)];
    for (let t = 0; t < 4; t++) expect(maxDiff(a[t]!, b[t]!), `position ${t}`).toBeLessThan(1e-6);
    for (let t = 4; t < 16; t++) expect(maxDiff(a[t]!, b[t]!), `position ${t}`).toBeGreaterThan(1e-6);
    crossing.dispose();
    plain.dispose();
  });

  it('gives the first byte of the sequence a prediction from the pads alone', () => {
    const model = createModel(microMegabyte, { seed: 10 });
    const a = logitsOf(model, [1, 2, 3, 4, 5]);
    const b = logitsOf(model, [200, 100, 3, 4, 5]);
    expect(maxDiff(a[0]!, b[0]!)).toBe(0);
    model.dispose();
  });

  it('rejects sequences longer than the context with a clear error', () => {
    const model = createModel(microMegabyte);
    expect(() => model.forward(idsTensor(randomIds(20, 1), 1, 20))).toThrow(
      /20 bytes is longer than the model's context of 16/,
    );
    model.dispose();
  });
});
