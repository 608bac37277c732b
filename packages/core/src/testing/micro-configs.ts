import type { LegacyMegabyteConfig, ModelConfigInput, TransformerConfig } from '../config.js';

/**
 * Model configs for tests: a few thousand parameters, fast on the cpu backend, yet with every part
 * of the model present (several patches, several heads). Override what a test needs.
 */
const COMMON = {
  vocabSize: 258,
  contextLength: 16,
  mlpRatio: 2,
  activation: 'gelu',
  norm: 'layernorm',
  bias: false,
  dropout: 0,
  initStd: 0.02,
  tieHead: false,
} as const;

/** In the legacy form (patchSize, global, middle, local), which every reader still accepts and tests override field by field. */
export function microMegabyteConfig(
  overrides: Partial<Omit<LegacyMegabyteConfig, 'kind'>> = {},
): LegacyMegabyteConfig {
  return {
    ...COMMON,
    kind: 'megabyte',
    patchSize: 4,
    global: { byteDim: 4, layers: 1, heads: 2 },
    local: { dim: 8, layers: 1, heads: 2 },
    ...overrides,
  };
}

export function microTransformerConfig(
  overrides: Partial<Omit<TransformerConfig, 'kind'>> = {},
): TransformerConfig {
  return { ...COMMON, kind: 'transformer', dim: 8, layers: 1, heads: 2, ...overrides };
}

/**
 * Tiny models that together cover every option that changes a model's graph: two layers per
 * level, rmsnorm with ReLU, biases and a tied head at P = 2, the convolutional patch encoder, three
 * levels, cross-patch attention, and the baseline. For tests that compare two executors (tfjs and
 * ONNX Runtime) option by option.
 */
export function graphOptionConfigs(initStd: number = COMMON.initStd): Record<string, ModelConfigInput> {
  return {
    megabyte: microMegabyteConfig({
      initStd,
      global: { byteDim: 4, layers: 2, heads: 2 },
      local: { dim: 8, layers: 2, heads: 2 },
    }),
    'rmsnorm relu bias tied': microMegabyteConfig({
      initStd,
      patchSize: 2,
      norm: 'rmsnorm',
      activation: 'relu',
      bias: true,
      tieHead: true,
    }),
    'conv encoder': microMegabyteConfig({
      initStd,
      global: { byteDim: 4, layers: 1, heads: 2, convKernels: [3, 4] },
    }),
    '3 levels, cross-patch': microMegabyteConfig({
      initStd,
      contextLength: 32,
      patchSize: 8,
      global: { byteDim: 2, layers: 1, heads: 2 },
      middle: [{ patchSize: 4, byteDim: 4, layers: 1, heads: 2 }],
      local: { dim: 8, layers: 2, heads: 2, crossPatch: 2 },
    }),
    'cross-patch, learned positions only': microMegabyteConfig({
      initStd,
      local: { dim: 8, layers: 2, heads: 2, crossPatch: 2, rotary: false },
    }),
    transformer: microTransformerConfig({ initStd, layers: 2 }),
  };
}
