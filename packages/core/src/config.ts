import type { Activation, NormKind } from '@megabyte/nn';
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

export interface MegabyteConfig extends CommonConfig {
  readonly kind: 'megabyte';
  /** P: bytes per patch of the global model. */
  readonly patchSize: number;
  /** The global model; its width is patchSize * byteDim. */
  readonly global: StageConfig & {
    /** D_G: the global embedding width of one byte. */
    readonly byteDim: number;
    /**
     * The paper's convolutional patch encoder: kernel sizes (e.g. [3, 5, 7]) of residual causal
     * convolutions over the byte embeddings before they are grouped into patches. None by default.
     */
    readonly convKernels?: readonly number[];
  };
  /**
   * Levels between the global and the local model, outermost first: each runs inside one patch of
   * the level above, over smaller patches of its own, so a model of N levels lists N - 2 of them.
   * Absent or empty: the paper's two levels.
   */
  readonly middle?: readonly MiddleStageConfig[];
  /** The local model, of width D_L, run inside each patch of the level above it. */
  readonly local: StageConfig & {
    readonly dim: number;
    /**
     * The paper's cross-patch attention: every local layer also attends to the last
     * `crossPatch` positions of the previous patch. 0 or absent: off.
     */
    readonly crossPatch?: number;
  };
}

/** A level between the global and the local model: a global model run inside a patch of the level above. */
export interface MiddleStageConfig extends StageConfig {
  /** Bytes per patch of this level; it divides the patch size of the level above and is smaller. */
  readonly patchSize: number;
  /** The embedding width of one byte; the level's width is patchSize * byteDim. */
  readonly byteDim: number;
}

/** Patch sizes of every level above the local model, outermost (the global model's) first. */
export function levelPatchSizes(config: MegabyteConfig): number[] {
  return [config.patchSize, ...(config.middle ?? []).map((level) => level.patchSize)];
}

/** The bytes the local model runs over at once: the patch of the level just above it. */
export function localPatchSize(config: MegabyteConfig): number {
  return levelPatchSizes(config).at(-1)!;
}

/** The baseline: a plain byte-level decoder-only transformer built from the same blocks. */
export interface TransformerConfig extends CommonConfig {
  readonly kind: 'transformer';
  readonly dim: number;
  readonly layers: number;
  readonly heads: number;
}

export type ModelConfig = MegabyteConfig | TransformerConfig;

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
    patchSize: 4,
    contextLength: 256,
    global: { byteDim: 32, layers: 4, heads: 4 },
    local: { dim: 128, layers: 2, heads: 4 },
  },
  /** The benchmark model of ANCHORS.md: global 6 x 512 (P=8, D_G=64), local 2 x 256, context 2048. */
  small: {
    ...COMMON_DEFAULTS,
    kind: 'megabyte',
    patchSize: 8,
    contextLength: 2048,
    global: { byteDim: 64, layers: 6, heads: 8 },
    local: { dim: 256, layers: 2, heads: 4 },
  },
  base: {
    ...COMMON_DEFAULTS,
    kind: 'megabyte',
    patchSize: 8,
    contextLength: 8192,
    dropout: 0.1,
    global: { byteDim: 128, layers: 12, heads: 16 },
    local: { dim: 512, layers: 4, heads: 8 },
  },
  /**
   * 32 x 32 RGB images in patch scan with 4 x 4 blocks: one patch (P = 48) is one block and the
   * context is one whole image (3072 bytes, 64 patches). Small enough to train in minutes on wasm.
   */
  'image-tiny': {
    ...COMMON_DEFAULTS,
    kind: 'megabyte',
    patchSize: 48,
    contextLength: 3072,
    global: { byteDim: 4, layers: 4, heads: 4 },
    local: { dim: 64, layers: 2, heads: 4 },
  },
  /** 8 kHz mu-law audio: a quarter of a second of context (2048 samples) in patches of 1 ms. */
  'audio-tiny': {
    ...COMMON_DEFAULTS,
    kind: 'megabyte',
    patchSize: 8,
    contextLength: 2048,
    global: { byteDim: 16, layers: 4, heads: 4 },
    local: { dim: 64, layers: 2, heads: 4 },
  },
  /**
   * Three levels over a million bytes: a global model over 2,048 patches of 512 bytes, a middle
   * level over the 16 patches of 32 bytes inside each, and the local model inside those.
   */
  long: {
    ...COMMON_DEFAULTS,
    kind: 'megabyte',
    patchSize: 512,
    contextLength: 1_048_576,
    global: { byteDim: 1, layers: 4, heads: 8 },
    middle: [{ patchSize: 32, byteDim: 8, layers: 2, heads: 4 }],
    local: { dim: 128, layers: 2, heads: 4 },
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
  const section = (name: string) => {
    const value = merged[name];
    if (typeof value !== 'object' || value === null) {
      problems.push(`${name}: expected an object, got ${describe(value)}`);
      return {} as Record<string, unknown>;
    }
    return value as Record<string, unknown>;
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

  function checkMiddle(middle: unknown, globalPatch: number | undefined): void {
    if (!Array.isArray(middle)) {
      problems.push(`middle: expected a list of levels, got ${describe(middle)}`);
      return;
    }
    let above = globalPatch;
    middle.forEach((level: unknown, i) => {
      const path = `middle[${i}]`;
      if (typeof level !== 'object' || level === null) {
        problems.push(`${path}: expected an object, got ${describe(level)}`);
        above = undefined;
        return;
      }
      const { patchSize, byteDim, layers, heads } = level as Record<string, unknown>;
      const patchOk = integer(`${path}.patchSize`, patchSize);
      const byteDimOk = integer(`${path}.byteDim`, byteDim);
      integer(`${path}.layers`, layers);
      if (
        patchOk &&
        above !== undefined &&
        ((patchSize as number) >= above || above % (patchSize as number) !== 0)
      ) {
        problems.push(
          `${path}.patchSize: ${patchSize} must be smaller than the patch of the level above (${above}) and divide it`,
        );
      }
      if (patchOk && byteDimOk) headsDivide(path, (patchSize as number) * (byteDim as number), heads);
      above = patchOk ? (patchSize as number) : undefined;
    });
  }

  if (kind === 'megabyte') {
    const global = section('global');
    const local = section('local');
    const patchOk = integer('patchSize', merged.patchSize);
    const byteDimOk = integer('global.byteDim', global.byteDim);
    integer('global.layers', global.layers);
    integer('local.layers', local.layers);
    const localDimOk = integer('local.dim', local.dim);
    if (
      patchOk &&
      typeof merged.contextLength === 'number' &&
      merged.contextLength % (merged.patchSize as number) !== 0
    ) {
      problems.push(
        `contextLength: ${merged.contextLength} must be a multiple of patchSize ${merged.patchSize}`,
      );
    }
    if (patchOk && byteDimOk)
      headsDivide('global', (merged.patchSize as number) * (global.byteDim as number), global.heads);
    if (localDimOk) headsDivide('local', local.dim as number, local.heads);
    if (local.crossPatch !== undefined && integer('local.crossPatch', local.crossPatch, 0) && patchOk) {
      const localPatch = Array.isArray(merged.middle)
        ? ((merged.middle.at(-1) as { patchSize?: number } | undefined)?.patchSize ?? merged.patchSize)
        : merged.patchSize;
      if ((local.crossPatch as number) > (localPatch as number))
        problems.push(
          `local.crossPatch: ${local.crossPatch} is more than the local patch of ${localPatch} bytes`,
        );
    }
    if (global.convKernels !== undefined) {
      const kernels = global.convKernels;
      if (!Array.isArray(kernels))
        problems.push(`global.convKernels: expected a list of kernel sizes, got ${describe(kernels)}`);
      else kernels.forEach((k, i) => integer(`global.convKernels[${i}]`, k, 2));
    }
    if (merged.middle !== undefined)
      checkMiddle(merged.middle, patchOk ? (merged.patchSize as number) : undefined);
  } else {
    integer('layers', merged.layers);
    if (integer('dim', merged.dim)) headsDivide('transformer', merged.dim as number, merged.heads);
  }

  // Upper bounds come after the type checks, and the memory estimate only for an otherwise valid config.
  problems.push(...configBoundProblems(merged));
  if (problems.length > 0) throw new ConfigError(problems);
  const config = merged as unknown as ModelConfig;
  const memory = parameterMemoryProblems(config);
  if (memory.length > 0) throw new ConfigError(memory);
  return config;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing (the field is missing)';
  return JSON.stringify(value) ?? String(value);
}
