import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelConfigInput } from './config.js';
import { createModel } from './models.js';
import { parameterBreakdown, parameterShapes } from './parameter-count.js';
import { graphOptionConfigs, microMegabyteConfig } from './testing/index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/**
 * Every structure a model can have (the executors' shared list: two layers per level, P = 2, the
 * convolutional encoder, three levels with cross-patch attention, the baseline) and four levels,
 * each crossed with every option that adds, drops or resizes a parameter: biases, the norm, a tied
 * head, and an MLP ratio whose hidden width is rounded.
 */
function variants(): [string, ModelConfigInput][] {
  const structures: Record<string, ModelConfigInput> = {
    ...graphOptionConfigs(),
    '4 levels, cross-patch': microMegabyteConfig({
      contextLength: 32,
      patchSize: 8,
      global: { byteDim: 2, layers: 1, heads: 2 },
      middle: [
        { patchSize: 4, byteDim: 2, layers: 2, heads: 2 },
        { patchSize: 2, byteDim: 4, layers: 1, heads: 2 },
      ],
      local: { dim: 8, layers: 2, heads: 2, crossPatch: 1 },
    }),
  };
  const out: [string, ModelConfigInput][] = [];
  for (const [name, structure] of Object.entries(structures))
    for (const bias of [false, true])
      for (const norm of ['layernorm', 'rmsnorm'] as const)
        for (const tieHead of [false, true])
          for (const mlpRatio of [2, 1.3])
            out.push([
              `${name}; bias ${bias}, ${norm}, tied ${tieHead}, mlpRatio ${mlpRatio}`,
              { ...structure, bias, norm, tieHead, mlpRatio },
            ]);
  return out;
}

describe('parameterShapes lists what createModel builds, without building it', () => {
  it.each(variants())('%s', (_, config) => {
    const model = createModel(config);
    const built = model.parameters().map((p) => ({ name: p.name, shape: p.variable.shape }));
    const total = built.reduce((sum, p) => sum + p.shape.reduce((n, d) => n * d, 1), 0);
    model.dispose();
    // Same names and shapes in the same order: what a checkpoint's header is checked against.
    expect(parameterShapes(config).map(({ name, shape }) => ({ name, shape }))).toEqual(built);
    expect(parameterBreakdown(config).total).toBe(total);
  });

  it('lists a config of a billion parameters at once, allocating no tensor', () => {
    const huge = microMegabyteConfig({
      contextLength: 8192,
      patchSize: 8,
      global: { byteDim: 512, layers: 12, heads: 16 },
    });
    const before = tf.memory().numTensors;
    const shapes = parameterShapes(huge);
    expect(tf.memory().numTensors).toBe(before);
    // 12 global blocks of width 4096: 4 attention maps 4096 x 4096, MLP maps 4096 x 8192 and back,
    // two layer norms of 2 x 4096; then the final norm. 1.6e9 parameters, 6.4 GB if built.
    expect(parameterBreakdown(huge).global).toBe(12 * (8 * 4096 * 4096 + 4 * 4096) + 2 * 4096);
    expect(shapes.find((p) => p.name === 'global.layers.11.mlp.up.weight')?.shape).toEqual([4096, 8192]);
  });
});
