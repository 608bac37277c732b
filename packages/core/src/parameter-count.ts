import { localPatchSize, type MegabyteConfig, type ModelConfig } from './config.js';

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

export function parameterBreakdown(config: ModelConfig): ParameterBreakdown {
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
  const { vocabSize: V, contextLength: T, patchSize: P } = config;
  const { byteDim } = config.global;
  const localDim = config.local.dim;
  const projection = (from: number, to: number) => from * to + (config.bias ? to : 0);
  // Byte embeddings, positions over what the level sees, and the pad patch.
  let embeddings = V * byteDim + T * byteDim + P * byteDim;
  const convolutions = (config.global.convKernels ?? []).reduce((sum, k) => sum + k * byteDim * byteDim, 0);
  const global = convolutions + transformerParameters(P * byteDim, config.global.layers, config);
  let middle = 0;
  let above = { patchSize: P, byteDim };
  for (const level of config.middle ?? []) {
    embeddings += V * level.byteDim + above.patchSize * level.byteDim + level.patchSize * level.byteDim;
    middle +=
      projection(above.byteDim, level.byteDim) +
      transformerParameters(level.patchSize * level.byteDim, level.layers, config);
    above = level;
  }
  embeddings += V * localDim + localDim + localPatchSize(config) * localDim;
  const local =
    projection(above.byteDim, localDim) +
    transformerParameters(localDim, config.local.layers, config) +
    (config.tieHead ? 0 : localDim * V);
  return { embeddings, global, middle, local, total: embeddings + global + middle + local };
}

/**
 * Forward FLOPs per byte, about 2 * (m_global / P + m_local) with m the non-embedding parameters
 * (the paper's estimate; attention's T-dependent term is left out). Each middle level adds its
 * own parameters over its own patch size.
 */
export function flopsPerByte(config: ModelConfig): number {
  const parts = parameterBreakdown(config);
  if (config.kind === 'transformer') return 2 * parts.local;
  // The convolutions of the patch encoder run once per byte, the global transformer once per patch.
  const convolutions = (config.global.convKernels ?? []).reduce(
    (sum, k) => sum + k * config.global.byteDim ** 2,
    0,
  );
  let perByte = convolutions + (parts.global - convolutions) / config.patchSize + parts.local;
  let above = { patchSize: config.patchSize, byteDim: config.global.byteDim };
  for (const level of config.middle ?? []) {
    // The projection runs once per byte; the transformer once per patch of the level.
    perByte += above.byteDim * level.byteDim + (config.bias ? level.byteDim : 0);
    perByte += transformerParameters(level.patchSize * level.byteDim, level.layers, config) / level.patchSize;
    above = level;
  }
  return 2 * perByte;
}
