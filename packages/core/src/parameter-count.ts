import {
  byteLevel,
  localPatchSize,
  type MegabyteConfig,
  type ModelConfig,
  type ModelConfigInput,
  patchLevels,
  validateConfig,
} from './config.js';

/** Parameters by part, computed from the config alone (tests check it against built models). */
export interface ParameterBreakdown {
  /** Byte and position embeddings, pads and the start vector. */
  readonly embeddings: number;
  /** Non-embedding parameters of the global model (its transformer and patch-encoder convolutions); 0 for the baseline. */
  readonly global: number;
  /** Non-embedding parameters of the middle levels of a deeper hierarchy (projections included); 0 for two levels. */
  readonly middle: number;
  /** Non-embedding parameters of the local model, or of the whole baseline transformer, head included. */
  readonly local: number;
  readonly total: number;
}

function transformerParameters(dim: number, layers: number, config: ModelConfig): number {
  const hidden = Math.round(dim * config.mlpRatio);
  const norm = config.norm === 'layernorm' ? 2 * dim : dim;
  const bias = config.bias ? 1 : 0;
  const attention = 4 * (dim * dim + bias * dim);
  const mlp = dim * hidden + bias * hidden + hidden * dim + bias * dim;
  return layers * (attention + mlp + 2 * norm) + norm;
}

/** Parameters of a model by part, from its config in any form. */
export function parameterBreakdown(input: ModelConfigInput): ParameterBreakdown {
  const config = levelsForm(input);
  const { vocabSize: V, contextLength: T } = config;
  if (config.kind === 'transformer') {
    const { dim } = config;
    const embeddings = V * dim + T * dim + dim;
    const local = transformerParameters(dim, config.layers, config) + (config.tieHead ? 0 : dim * V);
    return { embeddings, global: 0, middle: 0, local, total: embeddings + local };
  }
  return megabyteBreakdown(config);
}

function megabyteBreakdown(config: MegabyteConfig): ParameterBreakdown {
  const { vocabSize: V, contextLength: T } = config;
  let embeddings = 0;
  const perLevel = patchLevels(config).map((level, i, levels) => {
    const { patchSize: P, byteDim: D } = level;
    const span = i === 0 ? T : levels[i - 1]!.patchSize;
    // Byte embeddings, positions over what the level sees, and the pad patch.
    embeddings += V * D + span * D + P * D;
    return patchLevelParameters(config, i) + transformerParameters(P * D, level.layers, config);
  });
  const [global = 0, ...middle] = perLevel;
  const { dim, layers } = byteLevel(config);
  embeddings += V * dim + dim + localPatchSize(config) * dim;
  const local =
    projection(config, patchLevels(config).at(-1)!.byteDim, dim) +
    transformerParameters(dim, layers, config) +
    (config.tieHead ? 0 : dim * V);
  const middleTotal = middle.reduce((sum, n) => sum + n, 0);
  return { embeddings, global, middle: middleTotal, local, total: embeddings + global + middleTotal + local };
}

/** A linear map's weights (and bias). */
function projection(config: ModelConfig, from: number, to: number): number {
  return from * to + (config.bias ? to : 0);
}

/**
 * What patch level i has besides its transformer and embeddings, all of it run once per byte:
 * the patch encoder's convolutions, or below the outermost level the projection of the parent's
 * per-byte slices.
 */
function patchLevelParameters(config: MegabyteConfig, i: number): number {
  const levels = patchLevels(config);
  const { byteDim: D, convKernels = [] } = levels[i]!;
  const convolutions = convKernels.reduce((sum, k) => sum + k * D * D, 0);
  return convolutions + (i > 0 ? projection(config, levels[i - 1]!.byteDim, D) : 0);
}

/**
 * Forward FLOPs per byte, about 2 * (m_global / P + m_local) with m the non-embedding parameters
 * (the paper's estimate; attention's T-dependent term is left out). Each middle level adds its
 * own parameters over its own patch size.
 */
export function flopsPerByte(input: ModelConfigInput): number {
  const config = levelsForm(input);
  const parts = parameterBreakdown(config);
  if (config.kind === 'transformer') return 2 * parts.local;
  // Convolutions and projections run once per byte, each level's transformer once per patch.
  const perByte = patchLevels(config).reduce(
    (sum, level, i) =>
      sum +
      patchLevelParameters(config, i) +
      transformerParameters(level.patchSize * level.byteDim, level.layers, config) / level.patchSize,
    0,
  );
  return 2 * (perByte + parts.local);
}

/**
 * A config in the form the counts read: as given when it is already one (validation itself counts
 * the parameters of the config it builds), else read from the legacy form by `validateConfig`.
 */
function levelsForm(input: ModelConfigInput): ModelConfig {
  return input.kind === 'transformer' || 'levels' in input ? input : validateConfig(input);
}
