import {
  byteLevel,
  levelScope,
  localPatchSize,
  type ModelConfig,
  type ModelConfigInput,
  patchLevels,
  validateConfig,
} from './config.js';

/**
 * One parameter a config implies, as `createModel` names and shapes it (tests check the list against
 * built models): what checkpoints are checked against before a model is built, and what the
 * parameter counts are summed from.
 */
export interface ParameterShape {
  readonly name: string;
  readonly shape: readonly number[];
  /** Its level, outermost 0; the baseline transformer is one level. */
  readonly level: number;
  /**
   * `embedding`: byte and position tables, pads, the start vector (looked up, not multiplied);
   * `transformer`: the blocks and final norm of the level's transformer (a patch level runs it once
   * per patch); `per-byte`: everything else, run once per byte (patch-encoder convolutions,
   * projections from the level above, the head).
   */
  readonly role: 'embedding' | 'transformer' | 'per-byte';
}

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

/** Builds the list of one level: names are `<scope>.<local name>` (no scope for the baseline). */
class LevelShapes {
  constructor(
    private readonly out: ParameterShape[],
    private readonly config: ModelConfig,
    private readonly level: number,
    private readonly scope: string,
  ) {}

  add(name: string, shape: number[], role: ParameterShape['role']): void {
    const full = this.scope === '' ? name : `${this.scope}.${name}`;
    this.out.push({ name: full, shape, level: this.level, role });
  }

  /** A `Linear` of the nn package: weight [in, out], bias [out] when the config has biases. */
  linear(
    name: string,
    from: number,
    to: number,
    role: ParameterShape['role'],
    bias = this.config.bias,
  ): void {
    this.add(`${name}.weight`, [from, to], role);
    if (bias) this.add(`${name}.bias`, [to], role);
  }

  norm(name: string, dim: number): void {
    this.add(`${name}.weight`, [dim], 'transformer');
    if (this.config.norm === 'layernorm') this.add(`${name}.bias`, [dim], 'transformer');
  }

  /** The nn package's `Transformer`: pre-norm blocks, then a final norm. */
  transformer(dim: number, layers: number): void {
    const hidden = Math.round(dim * this.config.mlpRatio);
    for (let i = 0; i < layers; i++) {
      const block = `layers.${i}`;
      this.norm(`${block}.attn_norm`, dim);
      for (const w of ['wq', 'wk', 'wv', 'wo']) this.linear(`${block}.attn.${w}`, dim, dim, 'transformer');
      this.norm(`${block}.mlp_norm`, dim);
      this.linear(`${block}.mlp.up`, dim, hidden, 'transformer');
      this.linear(`${block}.mlp.down`, hidden, dim, 'transformer');
    }
    this.norm('norm', dim);
  }

  /** The output head D -> V; none when tied to the byte embedding. */
  head(dim: number): void {
    if (!this.config.tieHead) this.linear('head', dim, this.config.vocabSize, 'per-byte', false);
  }
}

/**
 * Every parameter a config implies, in the order the model creates them, without building it: a
 * list of names and shapes, so a config of any size costs only its own length here.
 */
export function parameterShapes(input: ModelConfigInput): ParameterShape[] {
  const config = levelsForm(input);
  const out: ParameterShape[] = [];
  const V = config.vocabSize;
  if (config.kind === 'transformer') {
    const { dim } = config;
    const shapes = new LevelShapes(out, config, 0, '');
    shapes.add('embed.bytes.weight', [V, dim], 'embedding');
    shapes.add('embed.positions', [config.contextLength, dim], 'embedding');
    shapes.add('start', [dim], 'embedding');
    shapes.transformer(dim, config.layers);
    shapes.head(dim);
    return out;
  }
  const count = config.levels.length;
  patchLevels(config).forEach((level, i, levels) => {
    const { patchSize: P, byteDim: D, convKernels = [] } = level;
    const shapes = new LevelShapes(out, config, i, levelScope(i, count));
    // Positions over what the level sees: the whole context, or one patch of the level above.
    shapes.add('embed.bytes.weight', [V, D], 'embedding');
    shapes.add(
      'embed.positions',
      [i === 0 ? config.contextLength : levels[i - 1]!.patchSize, D],
      'embedding',
    );
    convKernels.forEach((k, j) => shapes.add(`embed.conv.${j}.weight`, [k * D, D], 'per-byte'));
    shapes.add('pad', [P * D], 'embedding');
    if (i > 0) shapes.linear('project', levels[i - 1]!.byteDim, D, 'per-byte');
    shapes.transformer(P * D, level.layers);
  });
  const { dim } = byteLevel(config);
  const shapes = new LevelShapes(out, config, count - 1, levelScope(count - 1, count));
  shapes.linear('project', patchLevels(config).at(-1)!.byteDim, dim, 'per-byte');
  shapes.add('embed.bytes.weight', [V, dim], 'embedding');
  shapes.add('pad', [dim], 'embedding');
  shapes.add('embed.positions', [localPatchSize(config), dim], 'embedding');
  shapes.transformer(dim, byteLevel(config).layers);
  shapes.head(dim);
  return out;
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
