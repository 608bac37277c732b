/**
 * The checkpoints that python/tests/fixtures holds for the PyTorch twin's parity tests:
 * tiny models made by @megabyte/core with every option the twin must match (three levels,
 * cross-patch attention with and without rotary embeddings, the convolutional encoder, tied head,
 * relu/rmsnorm/bias, the baseline).
 * A large init std makes the logits far from uniform, so that a wrong detail shows. Written by
 * make-python-fixtures.ts.
 */
import type { ModelConfigInput } from '@megabyte/core';

const COMMON = {
  vocabSize: 258,
  mlpRatio: 2,
  activation: 'gelu',
  norm: 'layernorm',
  bias: false,
  dropout: 0,
  initStd: 0.2,
  tieHead: false,
} as const;

export const PYTHON_FIXTURES: Record<string, ModelConfigInput> = {
  'three-levels': {
    ...COMMON,
    kind: 'megabyte',
    contextLength: 32,
    patchSize: 8,
    global: { byteDim: 4, layers: 2, heads: 2 },
    middle: [{ patchSize: 4, byteDim: 4, layers: 1, heads: 2 }],
    local: { dim: 16, layers: 2, heads: 2, crossPatch: 2 },
  },
  'cross-patch': {
    ...COMMON,
    kind: 'megabyte',
    activation: 'relu',
    norm: 'rmsnorm',
    bias: true,
    tieHead: true,
    mlpRatio: 1.5,
    contextLength: 24,
    patchSize: 4,
    global: { byteDim: 6, layers: 1, heads: 3 },
    local: { dim: 12, layers: 2, heads: 2, crossPatch: 3 },
  },
  rotary: {
    ...COMMON,
    kind: 'megabyte',
    contextLength: 24,
    patchSize: 4,
    global: { byteDim: 6, layers: 1, heads: 3 },
    local: { dim: 12, layers: 2, heads: 2, crossPatch: 3, rotary: true },
  },
  conv: {
    ...COMMON,
    kind: 'megabyte',
    bias: true,
    contextLength: 32,
    patchSize: 4,
    global: { byteDim: 4, layers: 1, heads: 2, convKernels: [3, 5] },
    local: { dim: 8, layers: 1, heads: 2 },
  },
  transformer: { ...COMMON, kind: 'transformer', contextLength: 24, dim: 16, layers: 2, heads: 4 },
};
