import type { Activation, NormKind } from '@megabyte/nn/definition';
import { VOCAB_SIZE } from '@megabyte/patching';
import { configBoundProblems, parameterMemoryProblems } from './config-limits.js';

/** What both model kinds share. */
interface CommonConfig {
  /** Byte ids 0..255 plus special ids (padding, document boundary). */
  readonly vocabSize: number;
  /** T: the longest sequence, in bytes, that the model sees at once. */
  readonly contextLength: number;
  /** MLP hidden width as a multiple of the model width. */
  readonly mlpRatio: number;
  readonly activation: Activation;
  readonly norm: NormKind;
  /** Biases in linear layers. */
  readonly bias: boolean;
  readonly dropout: number;
  /** Std of the truncated-normal initialisation. */
  readonly initStd: number;
  /** Output head tied to the (local) byte embedding. */
  readonly tieHead: boolean;
}

export interface StageConfig {
  readonly layers: number;
  readonly heads: number;
}

/**
 * A patch level: a transformer over patches of `patchSize` bytes (the paper's global model when it
 * is the outermost level). Its width is patchSize * byteDim.
 */
export interface PatchLevelConfig extends StageConfig {
  /** Bytes per patch; it divides the patch of the level above and is smaller. */
  readonly patchSize: number;
  /** The embedding width of one byte (D_G for the global model). */
  readonly byteDim: number;
  /**
   * The paper's convolutional patch encoder, outermost level only: kernel sizes (e.g. [3, 5, 7])
   * of residual causal convolutions over the byte embeddings before they are grouped into patches.
   */
  readonly convKernels?: readonly number[];
}

/** The byte (local) level: a transformer of width `dim` inside each patch of the level above. */
export interface ByteLevelConfig extends StageConfig {
  readonly dim: number;
  /**
   * The paper's cross-patch attention: every layer also attends to the last `crossPatch`
   * positions of the previous patch. 0 or absent: off.
   */
  readonly crossPatch?: number;
  /**
   * Rotary position embeddings (RoPE) in the byte level's attention, as the paper's cross-patch
   * attention has them: queries and keys are turned by their positions, so a key of the previous
   * patch sits before the patch instead of sharing a position with one of its bytes. When absent:
   * on with cross-patch attention, off without (checkpoints of format 1 meant off).
   */
  readonly rotary?: boolean;
}

export type LevelConfig = PatchLevelConfig | ByteLevelConfig;

export interface MegabyteConfig extends CommonConfig {
  readonly kind: 'megabyte';
  /**
   * The hierarchy, outermost first: one or more patch levels, then the byte level. The paper's
   * model is [global, local]; each further patch level runs inside a patch of the one above.
   */
  readonly levels: readonly [...PatchLevelConfig[], ByteLevelConfig];
}

/**
 * The form configs had before `levels` (still read, and what old checkpoints hold): the global
 * level's patch size at the top, `middle` levels between global and local.
 */
export interface LegacyMegabyteConfig extends CommonConfig {
  readonly kind: 'megabyte';
  readonly patchSize: number;
  readonly global: StageConfig & { readonly byteDim: number; readonly convKernels?: readonly number[] };
  readonly middle?: readonly (StageConfig & { readonly patchSize: number; readonly byteDim: number })[];
  readonly local: ByteLevelConfig;
}

/** The patch levels of a config, outermost first. */
export function patchLevels(config: MegabyteConfig): readonly PatchLevelConfig[] {
  return config.levels.slice(0, -1) as PatchLevelConfig[];
}

/** The byte (local) level of a config. */
export function byteLevel(config: MegabyteConfig): ByteLevelConfig {
  return config.levels.at(-1) as ByteLevelConfig;
}

/** Patch sizes of every level above the byte level, outermost (the global model's) first. */
export function levelPatchSizes(config: MegabyteConfig): number[] {
  return patchLevels(config).map((level) => level.patchSize);
}

/** The bytes the local model runs over at once: the patch of the level just above it. */
export function localPatchSize(config: MegabyteConfig): number {
  return levelPatchSizes(config).at(-1)!;
}

/**
 * The parameter-name scope of level i of n, as checkpoints have always named them: `global`,
 * `middle.<i-1>`, `local`.
 */
export function levelScope(index: number, count: number): string {
  if (index === 0) return 'global';
  return index === count - 1 ? 'local' : `middle.${index - 1}`;
}

/** The baseline: a plain byte-level decoder-only transformer built from the same blocks. */
export interface TransformerConfig extends CommonConfig {
  readonly kind: 'transformer';
  readonly dim: number;
  readonly layers: number;
  readonly heads: number;
}

export type ModelConfig = MegabyteConfig | TransformerConfig;

/** What `validateConfig` and `createModel` read: either MEGABYTE form, or the baseline. */
export type ModelConfigInput = ModelConfig | LegacyMegabyteConfig;

const COMMON_DEFAULTS = {
  vocabSize: VOCAB_SIZE,
  mlpRatio: 4,
  activation: 'gelu',
  norm: 'layernorm',
  bias: false,
  dropout: 0,
  initStd: 0.02,
  tieHead: false,
} as const satisfies Partial<CommonConfig>;

export const MEGABYTE_PRESETS = {
  /** Trains usefully on two CPU cores in minutes. */
  tiny: {
    ...COMMON_DEFAULTS,
    kind: 'megabyte',
    contextLength: 256,
    levels: [
      { patchSize: 4, byteDim: 32, layers: 4, heads: 4 },
      { dim: 128, layers: 2, heads: 4 },
    ],
  },
  /** The benchmark model of ANCHORS.md: global 6 x 512 (P=8, D_G=64), local 2 x 256, context 2048. */
  small: {
    ...COMMON_DEFAULTS,
    kind: 'megabyte',
    contextLength: 2048,
    levels: [
      { patchSize: 8, byteDim: 64, layers: 6, heads: 8 },
      { dim: 256, layers: 2, heads: 4 },
    ],
  },
  base: {
    ...COMMON_DEFAULTS,
    kind: 'megabyte',
    contextLength: 8192,
    dropout: 0.1,
    levels: [
      { patchSize: 8, byteDim: 128, layers: 12, heads: 16 },
      { dim: 512, layers: 4, heads: 8 },
    ],
  },
  /**
   * 32 x 32 RGB images in patch scan with 4 x 4 blocks: one patch (P = 48) is one block and the
   * context is one whole image (3072 bytes, 64 patches). Small enough to train in minutes on wasm.
   */
  'image-tiny': {
    ...COMMON_DEFAULTS,
    kind: 'megabyte',
    contextLength: 3072,
    levels: [
      { patchSize: 48, byteDim: 4, layers: 4, heads: 4 },
      { dim: 64, layers: 2, heads: 4 },
    ],
  },
  /** 8 kHz mu-law audio: a quarter of a second of context (2048 samples) in patches of 1 ms. */
  'audio-tiny': {
    ...COMMON_DEFAULTS,
    kind: 'megabyte',
    contextLength: 2048,
    levels: [
      { patchSize: 8, byteDim: 16, layers: 4, heads: 4 },
      { dim: 64, layers: 2, heads: 4 },
    ],
  },
  /**
   * Three levels over a million bytes: a global model over 2,048 patches of 512 bytes, a middle
   * level over the 16 patches of 32 bytes inside each, and the local model inside those.
   */
  long: {
    ...COMMON_DEFAULTS,
    kind: 'megabyte',
    contextLength: 1_048_576,
    levels: [
      { patchSize: 512, byteDim: 1, layers: 4, heads: 8 },
      { patchSize: 32, byteDim: 8, layers: 2, heads: 4 },
      { dim: 128, layers: 2, heads: 4 },
    ],
  },
} as const satisfies Record<string, MegabyteConfig>;

/** Baselines of about the same parameter count as the MEGABYTE preset of the same name. */
export const TRANSFORMER_PRESETS = {
  tiny: { ...COMMON_DEFAULTS, kind: 'transformer', contextLength: 256, dim: 128, layers: 6, heads: 4 },
  small: { ...COMMON_DEFAULTS, kind: 'transformer', contextLength: 2048, dim: 512, layers: 8, heads: 8 },
  base: {
    ...COMMON_DEFAULTS,
    kind: 'transformer',
    contextLength: 8192,
    dim: 1024,
    layers: 12,
    heads: 16,
    dropout: 0.1,
  },
  'image-tiny': {
    ...COMMON_DEFAULTS,
    kind: 'transformer',
    contextLength: 3072,
    dim: 128,
    layers: 6,
    heads: 4,
  },
  'audio-tiny': {
    ...COMMON_DEFAULTS,
    kind: 'transformer',
    contextLength: 2048,
    dim: 128,
    layers: 6,
    heads: 4,
  },
} as const satisfies Record<string, TransformerConfig>;

export type PresetName = keyof typeof MEGABYTE_PRESETS;
export const PRESET_NAMES = Object.keys(MEGABYTE_PRESETS) as PresetName[];

/** A preset by name: `tiny`, `small`, `base`, `image-tiny`, `audio-tiny`, or the baseline's `transformer-tiny` etc. */
export function presetConfig(name: string): ModelConfig {
  const baseline = name.startsWith('transformer-') ? name.slice('transformer-'.length) : undefined;
  const table: Record<string, ModelConfig> = baseline === undefined ? MEGABYTE_PRESETS : TRANSFORMER_PRESETS;
  const config = table[baseline ?? name];
  if (!config) {
    const known = [...PRESET_NAMES, ...Object.keys(TRANSFORMER_PRESETS).map((n) => `transformer-${n}`)].join(
      ', ',
    );
    throw new ConfigError([`unknown preset "${name}": known presets are ${known}`]);
  }
  return config;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid model config:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Checks a config read from anywhere (a JSON file, user input) and returns it typed, filling
 * defaults for optional fields. Every problem is reported at once, naming the field.
 */
export function validateConfig(input: unknown): ModelConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ConfigError([`a model config must be a JSON object, got ${describe(input)}`]);
  }
  const raw = input as Record<string, unknown>;
  const problems: string[] = [];
  const kind = raw.kind ?? 'megabyte';
  if (kind !== 'megabyte' && kind !== 'transformer') {
    throw new ConfigError([`kind: expected "megabyte" or "transformer", got ${describe(kind)}`]);
  }
  const merged = { ...COMMON_DEFAULTS, ...raw, kind } as Record<string, unknown>;
  const integer = (path: string, value: unknown, min = 1) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      problems.push(`${path}: expected an integer >= ${min}, got ${describe(value)}`);
      return false;
    }
    return true;
  };
  integer('vocabSize', merged.vocabSize, 256);
  integer('contextLength', merged.contextLength);
  if (typeof merged.mlpRatio !== 'number' || !(merged.mlpRatio > 0))
    problems.push(`mlpRatio: expected a number > 0, got ${describe(merged.mlpRatio)}`);
  if (merged.activation !== 'gelu' && merged.activation !== 'relu')
    problems.push(`activation: expected "gelu" or "relu", got ${describe(merged.activation)}`);
  if (merged.norm !== 'layernorm' && merged.norm !== 'rmsnorm')
    problems.push(`norm: expected "layernorm" or "rmsnorm", got ${describe(merged.norm)}`);
  if (typeof merged.bias !== 'boolean')
    problems.push(`bias: expected true or false, got ${describe(merged.bias)}`);
  if (typeof merged.tieHead !== 'boolean')
    problems.push(`tieHead: expected true or false, got ${describe(merged.tieHead)}`);
  if (typeof merged.dropout !== 'number' || merged.dropout < 0 || merged.dropout >= 1)
    problems.push(`dropout: expected a number in [0, 1), got ${describe(merged.dropout)}`);
  if (typeof merged.initStd !== 'number' || !(merged.initStd > 0))
    problems.push(`initStd: expected a number > 0, got ${describe(merged.initStd)}`);

  const headsDivide = (path: string, width: number, heads: unknown) => {
    if (integer(`${path}.heads`, heads) && width % (heads as number) !== 0) {
      problems.push(`${path}.heads: ${heads} heads must divide the width ${width}`);
    }
  };

  if (kind === 'transformer') {
    integer('layers', merged.layers);
    if (integer('dim', merged.dim)) headsDivide('transformer', merged.dim as number, merged.heads);
    return withinLimits(merged, problems, () => merged as unknown as ModelConfig);
  }

  const levels = readLevels(merged, problems);
  let above: number | undefined; // the patch of the level above, once known
  levels?.forEach((level, i) => {
    if (!level) {
      above = undefined; // unreadable: its problem is listed, and the levels below cannot be checked against it
      return;
    }
    const { path, fields } = level;
    const last = i === levels.length - 1;
    for (const name of Object.keys(level.written)) {
      if (!level.known.includes(name)) {
        problems.push(
          `${path}.${name}: not an option of ${last ? 'the byte level' : 'a patch level'} (its options: ${level.known.join(', ')})`,
        );
      }
    }
    integer(`${path}.layers`, fields.layers);
    if (last) {
      if (integer(`${path}.dim`, fields.dim)) headsDivide(path, fields.dim as number, fields.heads);
      const cross = fields.crossPatch;
      if (
        cross !== undefined &&
        integer(`${path}.crossPatch`, cross, 0) &&
        above !== undefined &&
        (cross as number) > above
      )
        problems.push(`${path}.crossPatch: ${cross} is more than the local patch of ${above} bytes`);
      if (fields.rotary !== undefined && typeof fields.rotary !== 'boolean')
        problems.push(`${path}.rotary: expected true or false, got ${describe(fields.rotary)}`);
      if (fields.rotary === true && typeof fields.dim === 'number' && typeof fields.heads === 'number') {
        const headDim = fields.dim / fields.heads;
        if (headDim % 2 !== 0)
          problems.push(
            `${path}.rotary: rotary embeddings turn pairs of a head's ${headDim} dimensions; make dim / heads even`,
          );
      }
      return;
    }
    const patchSize = fields.patchSize;
    const patchOk = integer(level.patchPath, patchSize);
    const byteDimOk = integer(`${path}.byteDim`, fields.byteDim);
    if (
      patchOk &&
      i === 0 &&
      typeof merged.contextLength === 'number' &&
      merged.contextLength % (patchSize as number) !== 0
    )
      problems.push(
        `contextLength: ${merged.contextLength} must be a multiple of ${level.patchPath} ${patchSize}`,
      );
    if (
      patchOk &&
      i > 0 &&
      above !== undefined &&
      ((patchSize as number) >= above || above % (patchSize as number) !== 0)
    )
      problems.push(
        `${level.patchPath}: ${patchSize} must be smaller than the patch of the level above (${above}) and divide it`,
      );
    if (patchOk && byteDimOk)
      headsDivide(path, (patchSize as number) * (fields.byteDim as number), fields.heads);
    if (fields.convKernels !== undefined) {
      const kernels = fields.convKernels;
      if (i > 0)
        problems.push(`${path}.convKernels: only the outermost level has the convolutional patch encoder`);
      else if (!Array.isArray(kernels))
        problems.push(`${path}.convKernels: expected a list of kernel sizes, got ${describe(kernels)}`);
      else kernels.forEach((k, j) => integer(`${path}.convKernels[${j}]`, k, 2));
    }
    above = patchOk && (i === 0 || above !== undefined) ? (patchSize as number) : undefined;
  });

  return withinLimits(merged, problems, () => {
    const { patchSize: _p, global: _g, middle: _m, local: _l, levels: _levels, ...common } = merged;
    const canonical = levels!.map((level, i) => canonicalLevel(level!, i === levels!.length - 1));
    return { ...common, levels: canonical } as unknown as ModelConfig;
  });
}

/**
 * The config `build` makes, once the type checks found no problem and the fields are within their
 * upper bounds; the memory estimate only runs for an otherwise valid config.
 */
function withinLimits(
  merged: Record<string, unknown>,
  problems: string[],
  build: () => ModelConfig,
): ModelConfig {
  problems.push(...configBoundProblems(merged));
  if (problems.length > 0) throw new ConfigError(problems);
  const config = build();
  const memory = parameterMemoryProblems(config);
  if (memory.length > 0) throw new ConfigError(memory);
  return config;
}

const PATCH_LEVEL_OPTIONS = ['patchSize', 'byteDim', 'layers', 'heads', 'convKernels'];
const BYTE_LEVEL_OPTIONS = ['dim', 'layers', 'heads', 'crossPatch', 'rotary'];
/** In the legacy form the global level's patch size sits at the top, and only it has convolutions. */
const LEGACY_GLOBAL_OPTIONS = ['byteDim', 'layers', 'heads', 'convKernels'];
const LEGACY_MIDDLE_OPTIONS = ['patchSize', 'byteDim', 'layers', 'heads'];

/** One level as written, with the names that point at it in error messages. */
interface RawLevel {
  /** `levels[1]`, or in the legacy form `global`, `middle[0]`, `local`. */
  readonly path: string;
  /** Where its patch size is written: `levels[0].patchSize`, or the legacy top-level `patchSize`. */
  readonly patchPath: string;
  /** Its options with the patch size, wherever that is written. */
  readonly fields: Record<string, unknown>;
  /** The options as written in its own object, and the ones that object may hold. */
  readonly written: Record<string, unknown>;
  readonly known: readonly string[];
}

/**
 * The levels of a MEGABYTE config, outermost first, from either form: `levels`, or the legacy
 * `patchSize` + `global` + `middle` + `local`. A level that is not an object is undefined, and
 * the whole list when it cannot be read; their problems are pushed.
 */
function readLevels(
  merged: Record<string, unknown>,
  problems: string[],
): (RawLevel | undefined)[] | undefined {
  const legacyKeys = ['patchSize', 'global', 'middle', 'local'].filter((key) => merged[key] !== undefined);
  if (merged.levels !== undefined) {
    if (legacyKeys.length > 0) {
      problems.push(
        `levels: give the hierarchy either as "levels" or in the older form (patchSize, global, middle, local), not both (this config also has ${legacyKeys.join(', ')})`,
      );
      return undefined;
    }
    const levels = merged.levels;
    if (!Array.isArray(levels) || levels.length < 2) {
      problems.push(
        `levels: expected a list of at least 2 levels (patch levels, outermost first, then the byte level), got ${describe(levels)}`,
      );
      return undefined;
    }
    const read = levels.map((fields: unknown, i) => {
      const path = `levels[${i}]`;
      if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
        problems.push(`${path}: expected an object, got ${describe(fields)}`);
        return undefined;
      }
      const written = fields as Record<string, unknown>;
      const known = i === levels.length - 1 ? BYTE_LEVEL_OPTIONS : PATCH_LEVEL_OPTIONS;
      return { path, patchPath: `${path}.patchSize`, fields: written, written, known };
    });
    return read;
  }
  const section = (name: string): Record<string, unknown> | undefined => {
    const value = merged[name];
    if (typeof value !== 'object' || value === null) {
      problems.push(`${name}: expected an object, got ${describe(value)}`);
      return undefined;
    }
    return value as Record<string, unknown>;
  };
  const global = section('global');
  const local = section('local');
  let middle: unknown[] = [];
  if (merged.middle !== undefined) {
    if (Array.isArray(merged.middle)) middle = merged.middle;
    else problems.push(`middle: expected a list of levels, got ${describe(merged.middle)}`);
  }
  const middleLevels = middle.map((fields, i) => {
    const path = `middle[${i}]`;
    if (typeof fields !== 'object' || fields === null) {
      problems.push(`${path}: expected an object, got ${describe(fields)}`);
      return undefined;
    }
    const written = fields as Record<string, unknown>;
    return { path, patchPath: `${path}.patchSize`, fields: written, written, known: LEGACY_MIDDLE_OPTIONS };
  });
  return [
    global && {
      path: 'global',
      patchPath: 'patchSize',
      fields: { ...global, patchSize: merged.patchSize },
      written: global,
      known: LEGACY_GLOBAL_OPTIONS,
    },
    ...middleLevels,
    local && {
      path: 'local',
      patchPath: 'local.patchSize',
      fields: local,
      written: local,
      known: BYTE_LEVEL_OPTIONS,
    },
  ];
}

/** A checked level with only its own options, in a fixed order. */
function canonicalLevel({ fields }: RawLevel, byteLevel: boolean): LevelConfig {
  const names = byteLevel ? BYTE_LEVEL_OPTIONS : PATCH_LEVEL_OPTIONS;
  const present = names.filter((name) => fields[name] !== undefined);
  return Object.fromEntries(present.map((name) => [name, fields[name]])) as unknown as LevelConfig;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing (the field is missing)';
  return JSON.stringify(value) ?? String(value);
}
