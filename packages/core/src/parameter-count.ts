import { type ModelConfig, type ModelConfigInput, patchLevels, validateConfig } from './config.js';
import { type ModelParameter, modelParameters } from './model-definition.js';

/** One parameter a config implies (see `modelParameters`): name, shape, level and role. */
export type ParameterShape = ModelParameter;

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

/**
 * Every parameter a config in any form implies, in the order the model creates them, without
 * building it: a list of names and shapes, so a config of any size costs only its own length here.
 */
export function parameterShapes(input: ModelConfigInput): ParameterShape[] {
  return modelParameters(levelsForm(input));
}

function elements(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/** Parameters of a model by part, from its config in any form. */
export function parameterBreakdown(input: ModelConfigInput): ParameterBreakdown {
  const config = levelsForm(input);
  const last = config.kind === 'transformer' ? 0 : config.levels.length - 1;
  const parts = { embeddings: 0, global: 0, middle: 0, local: 0 };
  for (const { shape, level, role } of parameterShapes(config)) {
    const part =
      role === 'embedding' ? 'embeddings' : level === last ? 'local' : level === 0 ? 'global' : 'middle';
    parts[part] += elements(shape);
  }
  return { ...parts, total: parts.embeddings + parts.global + parts.middle + parts.local };
}

/**
 * Forward FLOPs per byte, about 2 * (m_global / P + m_local) with m the non-embedding parameters
 * (the paper's estimate; attention's T-dependent term is left out). Each middle level adds its
 * own parameters over its own patch size.
 */
export function flopsPerByte(input: ModelConfigInput): number {
  const config = levelsForm(input);
  if (config.kind === 'transformer') return 2 * parameterBreakdown(config).local;
  // Per level: what runs once per byte, and the transformer, which a patch level runs once per patch.
  const levels = config.levels.map(() => ({ perByte: 0, transformer: 0 }));
  for (const { shape, level, role } of parameterShapes(config)) {
    if (role !== 'embedding')
      levels[level]![role === 'transformer' ? 'transformer' : 'perByte'] += elements(shape);
  }
  const local = levels.pop()!;
  const perByte = levels.reduce(
    (sum, { perByte, transformer }, i) => sum + perByte + transformer / patchLevels(config)[i]!.patchSize,
    0,
  );
  return 2 * (perByte + local.perByte + local.transformer);
}

/**
 * A config in the form the counts read: as given when it is already one (validation itself counts
 * the parameters of the config it builds), else read from the legacy form by `validateConfig`.
 */
function levelsForm(input: ModelConfigInput): ModelConfig {
  return input.kind === 'transformer' || 'levels' in input ? input : validateConfig(input);
}
