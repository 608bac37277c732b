import type { MegabyteConfig, ModelConfig } from './config.js';

/** Parameters by part, computed from the config alone (tests check it against built models). */
export interface ParameterBreakdown {
  /** Byte and position embeddings, pads and the start vector. */
  readonly embeddings: number;
  /** Non-embedding parameters of the global model (the transformer); 0 for the baseline. */
  readonly global: number;
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
    return { embeddings, global: 0, local, total: embeddings + local };
  }
  return megabyteBreakdown(config);
}

function megabyteBreakdown(config: MegabyteConfig): ParameterBreakdown {
  const { vocabSize: V, contextLength: T, patchSize: P } = config;
  const { byteDim } = config.global;
  const localDim = config.local.dim;
  const embeddings = V * byteDim + T * byteDim + P * byteDim + V * localDim + localDim + P * localDim;
  const global = transformerParameters(P * byteDim, config.global.layers, config);
  const projection = byteDim * localDim + (config.bias ? localDim : 0);
  const local =
    projection +
    transformerParameters(localDim, config.local.layers, config) +
    (config.tieHead ? 0 : localDim * V);
  return { embeddings, global, local, total: embeddings + global + local };
}

/**
 * Forward FLOPs per byte, about 2 * (m_global / P + m_local) with m the non-embedding parameters
 * (the paper's estimate; attention's T-dependent term is left out).
 */
export function flopsPerByte(config: ModelConfig): number {
  const parts = parameterBreakdown(config);
  if (config.kind === 'transformer') return 2 * parts.local;
  return 2 * (parts.global / config.patchSize + parts.local);
}
