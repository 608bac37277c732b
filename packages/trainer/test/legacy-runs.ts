/** The configs, data and options of the committed legacy run directories (see make-legacy-runs.ts). */
export const LEGACY_TEXT = 'the quick brown fox jumps over the lazy dog; 0123456789. '.repeat(6);

export const LEGACY_TRAINING = { batchSize: 2, steps: 8, warmupSteps: 1, seed: 5 } as const;

/** Config JSON in the form written before the `levels` list: patchSize, global, middle, local. */
export const LEGACY_RUNS = {
  'two-level': {
    kind: 'megabyte',
    vocabSize: 258,
    contextLength: 16,
    mlpRatio: 2,
    activation: 'gelu',
    norm: 'layernorm',
    bias: false,
    dropout: 0.1,
    initStd: 0.02,
    tieHead: true,
    patchSize: 4,
    global: { byteDim: 4, layers: 1, heads: 2, convKernels: [3] },
    local: { dim: 8, layers: 1, heads: 2 },
  },
  'three-level': {
    kind: 'megabyte',
    vocabSize: 258,
    contextLength: 32,
    mlpRatio: 2,
    activation: 'relu',
    norm: 'rmsnorm',
    bias: true,
    dropout: 0,
    initStd: 0.02,
    tieHead: false,
    patchSize: 8,
    global: { byteDim: 2, layers: 1, heads: 2 },
    middle: [{ patchSize: 4, byteDim: 4, layers: 1, heads: 2 }],
    local: { dim: 8, layers: 1, heads: 2, crossPatch: 2 },
  },
} as const;
