import type { LegacyMegabyteConfig, TransformerConfig } from '../config.js';

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
