import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError, encodeSafetensors } from './checkpoint/index.js';
import { ConfigError, MEGABYTE_PRESETS, presetConfig, validateConfig } from './config.js';
import {
  activationBytes,
  CONFIG_LIMITS,
  configBoundProblems,
  memoryBudget,
  parameterBytes,
  setMemoryBudget,
  trainingMemoryProblems,
} from './config-limits.js';
import { decodeModel, encodeModel } from './model-checkpoint.js';
import { createModel } from './models.js';
import { microMegabyteConfig, microTransformerConfig } from './testing/index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});
afterEach(() => setMemoryBudget(undefined));

function problemsOf(input: unknown): string[] {
  try {
    validateConfig(input);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  return [];
}

// The tiny preset in the legacy form (patchSize, global, local), whose fields these cases override.
const { levels: _levels, ...tinyCommon } = MEGABYTE_PRESETS.tiny;
const tiny = {
  ...tinyCommon,
  patchSize: 4,
  global: { byteDim: 32, layers: 4, heads: 4 },
  local: { dim: 128, layers: 2, heads: 4 },
};

describe('config upper bounds', () => {
  it('accept every preset and each field at its limit where the config is otherwise small', () => {
    for (const name of ['tiny', 'small', 'base', 'image-tiny', 'audio-tiny', 'long', 'transformer-tiny'])
      expect(problemsOf(presetConfig(name))).toEqual([]);
    expect(
      problemsOf({ ...tiny, vocabSize: CONFIG_LIMITS.vocabSize, global: { ...tiny.global, layers: 1 } }),
    ).toEqual([]);
    expect(
      problemsOf({ ...tiny, global: { ...tiny.global, layers: CONFIG_LIMITS.layers, byteDim: 1 } }),
    ).toEqual([]);
    expect(problemsOf({ ...tiny, local: { ...tiny.local, dim: 4 * 1024, heads: 4 } })).toEqual([]);
  });

  it.each([
    [
      { ...tiny, global: { ...tiny.global, layers: 1_000_000 } },
      /^global\.layers: 1000000 is more than the limit of 1024; use fewer layers$/,
    ],
    [
      { ...tiny, global: { ...tiny.global, layers: CONFIG_LIMITS.layers + 1 } },
      /^global\.layers: 1025 is more than the limit of 1024/,
    ],
    [
      { ...tiny, global: { ...tiny.global, byteDim: 1_000_000 } },
      /^global\.byteDim: the level's width 4 x 1000000 = 4000000 is more than the limit of 65536/,
    ],
    [{ ...tiny, vocabSize: 1e9 }, /^vocabSize: 1000000000 is more than the limit of 65536/],
    [
      { ...tiny, contextLength: 2 ** 30 },
      /^contextLength: 1073741824 is more than the limit of 16777216; use a shorter context$/,
    ],
    [
      { ...tiny, local: { ...tiny.local, dim: 65_540, heads: 4 } },
      /^local\.dim: the level's width 65540 is more than the limit of 65536/,
    ],
    [{ ...tiny, mlpRatio: 1000 }, /^mlpRatio: 1000 is more than the limit of 64/],
    [
      { ...tiny, middle: [{ patchSize: 2, byteDim: 8, layers: 5000, heads: 2 }] },
      /^middle\[0\]\.layers: 5000 is more than the limit/,
    ],
    [
      { ...tiny, global: { ...tiny.global, convKernels: [3, 100_000] } },
      /^global\.convKernels\[1\]: 100000 is more than the limit of 1024/,
    ],
    [{ ...presetConfig('transformer-tiny'), layers: 2000 }, /^layers: 2000 is more than the limit of 1024/],
  ])('refuse a field past its limit, naming field, value and limit (%#)', (config, message) => {
    expect(problemsOf(config).some((p) => message.test(p))).toBe(true);
  });

  it('configBoundProblems accepts every field exactly at its limit (the memory budget is checked apart)', () => {
    const atLimits = {
      ...tiny,
      vocabSize: CONFIG_LIMITS.vocabSize,
      contextLength: CONFIG_LIMITS.contextLength,
      mlpRatio: CONFIG_LIMITS.mlpRatio,
      global: {
        byteDim: CONFIG_LIMITS.width / 4,
        layers: CONFIG_LIMITS.layers,
        heads: CONFIG_LIMITS.heads,
        convKernels: [CONFIG_LIMITS.convKernel],
      },
      local: { dim: CONFIG_LIMITS.width, layers: CONFIG_LIMITS.layers, heads: CONFIG_LIMITS.heads },
    };
    expect(configBoundProblems(atLimits)).toEqual([]);
    expect(problemsOf(atLimits).join('\n')).toMatch(/more than the memory budget/);
  });

  it('reads the levels form of a config as well as the legacy one', () => {
    const levels = {
      kind: 'megabyte',
      vocabSize: 258,
      contextLength: 256,
      mlpRatio: 4,
      levels: [
        { patchSize: 16, byteDim: 1e6, layers: 2, heads: 2 },
        { patchSize: 4, byteDim: 8, layers: 2000, heads: 2 },
        { dim: 128, layers: 2, heads: 2000 },
      ],
    };
    expect(configBoundProblems(levels)).toEqual([
      "levels[0].byteDim: the level's width 16 x 1000000 = 16000000 is more than the limit of 65536; use a smaller byteDim",
      'levels[1].layers: 2000 is more than the limit of 1024; use fewer layers',
      'levels[2].heads: 2000 is more than the limit of 1024; use fewer heads',
    ]);
  });

  it('names the patch size when it is past the context (no "Invalid typed array length")', () => {
    const problems = problemsOf({ ...tiny, patchSize: 1e9 });
    expect(problems.join('\n')).toMatch(/contextLength: 256 must be a multiple of patchSize 1000000000/);
  });

  it('refuses a config whose parameters exceed the memory budget, naming size, budget and part', () => {
    const config = { ...tiny, local: { dim: 2048, layers: 32, heads: 8 } };
    const bytes = parameterBytes(validateConfig(config));
    expect(bytes).toBeGreaterThan(2 ** 30);
    setMemoryBudget(2 ** 30);
    expect(memoryBudget()).toBe(2 ** 30);
    const [problem] = problemsOf(config);
    expect(problem).toMatch(
      /parameters take \d+\.\d GiB, more than the memory budget of 1\.0 GiB: reduce the layers or width of the local/,
    );
  });

  it('refuses a training batch whose activations exceed the budget and says which batch fits', () => {
    const config = presetConfig('tiny');
    expect(activationBytes(config, 2)).toBe(2 * activationBytes(config, 1));
    expect(trainingMemoryProblems(config, 8)).toEqual([]);
    const [problem] = trainingMemoryProblems(config, 1_000_000);
    const fits = Math.floor((memoryBudget() - 4 * parameterBytes(config)) / activationBytes(config, 1));
    expect(problem).toContain(`use --batch ${fits} or less`);
    expect(problem).toMatch(/more than the memory budget of 8\.0 GiB/);
  });
});

describe('a checkpoint is checked against its config before a model is built', () => {
  it('refuses a config far larger than the weights from the header, building nothing', async () => {
    const model = createModel(microMegabyteConfig(), { seed: 1 });
    const { weights } = await encodeModel(model);
    model.dispose();
    const huge = { ...microMegabyteConfig(), global: { ...microMegabyteConfig().global, layers: 1000 } };
    let error: unknown;
    const { kernels } = await tf.profile(() => {
      try {
        decodeModel({ config: huge, weights }, 'runs/x/best');
      } catch (caught) {
        error = caught;
      }
    });
    expect((error as Error).message).toMatch(
      /^cannot load runs\/x\/best\/model\.safetensors: its tensors do not fit config\.json \(the model needs 2117904 parameters in 10022 tensors, the file holds 8016 in 32\): 9990 problems:\n {2}- missing: global\.layers\.1\.attn_norm\.weight \(expected \[16\]\)/,
    );
    expect(kernels).toEqual([]); // building a model runs a kernel per parameter
  });

  it.each([
    ['NaN', Number.NaN],
    ['infinity', Number.POSITIVE_INFINITY],
  ])('names every tensor holding %s, with the file', async (_, value) => {
    const model = createModel(microTransformerConfig(), { seed: 1 });
    const { configJson } = await encodeModel(model);
    const poisoned = model.parameters().at(-1)!.name;
    const tensors = new Map(
      await Promise.all(
        model.parameters().map(async (p) => {
          const data = (await p.variable.data()) as Float32Array;
          if (p.name === poisoned) data[3] = value;
          return [p.name, { dtype: 'F32' as const, shape: p.variable.shape, data }] as const;
        }),
      ),
    );
    model.dispose();
    const before = tf.memory().numTensors;
    let error: unknown;
    try {
      decodeModel({ config: JSON.parse(configJson), weights: encodeSafetensors(tensors) }, '/m');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toMatch(
      /^cannot load \/m\/model\.safetensors: its weights are not finite: tensor \S+ \[[\d,]+\] has 1 NaN or infinite value/,
    );
    expect((error as Error).message).toContain(`tensor ${poisoned} `);
    expect(tf.memory().numTensors).toBe(before);
  });
});
